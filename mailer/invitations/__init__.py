"""The invitation round and its follow-ups: reminders, updates and the cancellation.

Front door of the invitations package: :func:`prepare` renders and checks a whole round,
:func:`commit` journals it, :func:`send` transmits it; :mod:`.followups` decides which round an
``invite update`` / ``remind`` / ``cancel`` is and who gets it.
"""

from mailer.invitations.followups import (
    choose_round,
    invitation_sequence,
    record_round,
    reminder_contacts,
)
from mailer.invitations.rounds import (
    Prepared,
    Summary,
    commit,
    delivery_plan_lines,
    prepare,
    send,
    summarize,
    suppressed,
)

__all__ = [
    "Prepared",
    "Summary",
    "choose_round",
    "commit",
    "delivery_plan_lines",
    "invitation_sequence",
    "prepare",
    "record_round",
    "reminder_contacts",
    "send",
    "summarize",
    "suppressed",
]
