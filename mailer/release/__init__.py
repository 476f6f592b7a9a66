"""The embargoed press release: schedule it, pre-brief, send it when due, cancel it.

Front door of the release package. ``send-due`` (cron, every minute), ``wait`` and ``send-now``
end in :func:`run_release` (:mod:`.runner`: the lock, the run log, one :class:`~.run.Run`);
:mod:`.plan` schedules, pre-briefs and cancels; :mod:`.schedule` holds the pure embargo
decisions; :mod:`.audience` and :mod:`.batches` say who gets which message; :mod:`.status`
reports; :mod:`.cron` writes the crontab line and the systemd timer. :mod:`.usecases` holds the
``schedule``, ``status`` and ``cancel`` commands, which open the journal themselves.
"""

from mailer.release.audience import check_rounds, release_spec
from mailer.release.clocktrust import check_line as clock_line
from mailer.release.cron import CronSetup, cron_setup
from mailer.release.lock import stamp
from mailer.release.plan import (
    Cancelled,
    Proposal,
    cancel,
    plan_schedule,
    save_schedule,
    send_prebrief,
)
from mailer.release.run import Command, RunResult
from mailer.release.runner import run_release
from mailer.release.schedule import describe, in_words, relative
from mailer.release.status import (
    ReleaseStatus,
    check_summary,
    overdue_summary,
    relay_summary,
    relays_section,
    release_section,
    release_status,
    schedule_section,
    status_json,
)
from mailer.release.usecases import Scheduled, cancel_release, read_status, schedule_release

__all__ = [
    "Cancelled",
    "Command",
    "CronSetup",
    "Proposal",
    "ReleaseStatus",
    "RunResult",
    "Scheduled",
    "cancel",
    "cancel_release",
    "check_rounds",
    "check_summary",
    "clock_line",
    "cron_setup",
    "describe",
    "in_words",
    "overdue_summary",
    "plan_schedule",
    "read_status",
    "relative",
    "relay_summary",
    "relays_section",
    "release_section",
    "release_spec",
    "release_status",
    "run_release",
    "save_schedule",
    "schedule_release",
    "schedule_section",
    "send_prebrief",
    "stamp",
    "status_json",
]
