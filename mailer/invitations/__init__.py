"""The invitation round and its follow-ups: reminders, updates and the cancellation.

Front door of the invitations package. The CLI calls :func:`run_round` (a whole round of
``invite send`` / ``remind`` / ``update`` / ``cancel``) and :func:`preview_invitation`
(:mod:`.usecases`). Underneath, :func:`prepare` renders and checks a whole round, :func:`commit`
journals it, :func:`send` transmits it; :mod:`.followups` decides which round an
``invite update`` / ``remind`` / ``cancel`` is and who gets it.
"""

from mailer.invitations.followups import (
    check_specs,
    choose_round,
    followup_spec,
    followups_section,
    invitation_sequence,
    record_round,
    reminder_contacts,
    update_due_section,
)
from mailer.invitations.rounds import (
    Prepared,
    Summary,
    commit,
    delivery_forecast,
    prepare,
    round_counts,
    send,
    summarize,
    suppressed,
)
from mailer.invitations.usecases import (
    Preview,
    RoundKind,
    RoundOutcome,
    RoundPlan,
    RoundResult,
    preview_invitation,
    run_round,
)

__all__ = [
    "Prepared",
    "Preview",
    "RoundKind",
    "RoundOutcome",
    "RoundPlan",
    "RoundResult",
    "Summary",
    "check_specs",
    "choose_round",
    "commit",
    "delivery_forecast",
    "followup_spec",
    "followups_section",
    "invitation_sequence",
    "prepare",
    "preview_invitation",
    "record_round",
    "reminder_contacts",
    "round_counts",
    "run_round",
    "send",
    "summarize",
    "suppressed",
    "update_due_section",
]
