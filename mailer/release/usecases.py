"""What ``mailer release schedule / status / cancel`` do, with the journal opened here.

``prebrief``, ``send-due``, ``wait`` and ``send-now`` call
:func:`~mailer.release.plan.send_prebrief` and :func:`~mailer.release.runner.run_release`, which
open it themselves already.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from mailer.clock import Clock
from mailer.config import Config
from mailer.contacts import open_store, project_for
from mailer.models import Schedule
from mailer.oauth import sign_in_health
from mailer.release.clocktrust import ClockCheck, check_clock, forecast, needs_check, record_of
from mailer.release.plan import Cancelled, Proposal, cancel, plan_schedule, save_schedule
from mailer.release.schedule import brief
from mailer.release.status import ReleaseStatus, release_status


@dataclass(frozen=True)
class Scheduled:
    proposal: Proposal
    schedule: Schedule | None  # None: the officer did not confirm, nothing was saved


def schedule_release(
    config: Config,
    *,
    at: str | None,
    tz: str | None,
    tag: str | None,
    prebrief: bool,
    clock: Clock,
    show: Callable[[Proposal], None],
    confirm: Callable[[Proposal], bool],
) -> Scheduled:
    """Validate the embargo, render and check every message, check the clock, *show* the
    proposal, and save it when the officer *confirm*s it (the clock's check with it: the first
    of the pre-flight's checks)."""
    project = project_for(config)
    with open_store(config) as store:
        proposal = plan_schedule(
            project, store, at=at, tz=tz, tag=tag, now=clock.now(), prebrief=prebrief
        )
        proposal = _with_sign_in(config, proposal, clock)
        proposal, checked = _with_clock(config, proposal, clock)
        show(proposal)
        if not confirm(proposal):
            return Scheduled(proposal, None)
        saved = save_schedule(store, proposal, now=clock.now())
        if checked is not None:
            check, at_time, line = checked
            store.clock_checks.record(
                record_of(check, schedule_id=saved.id, at=at_time, command="schedule", line=line)
            )
        return Scheduled(proposal, saved)


def _with_clock(
    config: Config, proposal: Proposal, clock: Clock
) -> tuple[Proposal, tuple[ClockCheck, dt.datetime, str] | None]:
    """The clock checked now (:mod:`.clocktrust`): a warning when the release would not go out
    at the embargo on it, or would go out unchecked; the check, its time and its line."""
    if not needs_check(config):
        return proposal, None
    check = check_clock(config, clock)
    at = clock.now()
    found = record_of(check, schedule_id=None, at=at, command="schedule")
    said = forecast(found, when=brief(proposal.embargo.utc, proposal.embargo.zone))
    if said:
        proposal = replace(proposal, warnings=(*proposal.warnings, said))
    return proposal, (check, at, said or check.line)


def _with_sign_in(config: Config, proposal: Proposal, clock: Clock) -> Proposal:
    """With ``auth = "oauth2"``: the saved sign-in must give a new token now (else nothing is
    scheduled: exit code 4), and a warning when it lapses unused before the embargo."""
    smtp = config.smtp if config.transport.kind == "smtp" else None
    if smtp is None or smtp.auth != "oauth2":
        return proposal
    health = sign_in_health(config, clock, refresh=True)
    health.raise_problem()
    warning = health.lapse_warning(proposal.embargo.moment, config.zone)
    if not warning:
        return proposal
    return replace(proposal, warnings=(*proposal.warnings, warning))


def read_status(config: Config, *, now: dt.datetime) -> ReleaseStatus:
    """``release status``: the schedule, who got the release when, the run log."""
    with open_store(config, read_only=True) as store:
        return release_status(config, store, now=now)


def cancel_release(config: Config, *, now: dt.datetime) -> Cancelled:
    """``release cancel``: a run in progress stops before its next message."""
    with open_store(config) as store:
        return cancel(config, store, now=now)
