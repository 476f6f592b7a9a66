"""The cheap pre-flight of every ``send-due`` run before the embargo ("not yet").

Hours or days before the embargo, each cron run checks what the release will need at the
embargo second, in the environment it will run in, without connecting to any server:

* the config loads (the run got this far);
* the SMTP password resolves here, without a terminal: the variable is set in cron's
  environment, the keyring answers, the password command runs
  (:func:`mailer.config.password_problem`); with ``auth = "oauth2"``, the saved sign-in gives
  an access token (:func:`mailer.oauth.sign_in_problem`, which renews it only when due);
* the templates, the contacts and the attachments are those that were rendered and checked
  when the release was scheduled, by content (:func:`~mailer.release.audience.changed_inputs`);
* the release lock is free, or held by a run that is legitimately waiting (``wait``,
  ``prebrief``), not by one that hangs;
* the clock is right (:mod:`~mailer.release.clocktrust`): checked against a second source when
  :func:`~mailer.release.clocktrust.clock_due` (this one does connect, to ask a server the time),
  else the last check is repeated. A clock the release would refuse at the embargo fails the
  pre-flight now, hours ahead, with what to do.

The result is kept as the schedule's last check in the journal (``mailer release status`` and
``mailer status`` show it) and ends the run's log line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from mailer.clock import Clock
from mailer.config import Config, password_problem
from mailer.models import Schedule
from mailer.oauth import sign_in_problem
from mailer.release.audience import changed_inputs
from mailer.release.clocktrust import check_clock, clock_due, forecast, needs_check, record_of
from mailer.release.schedule import brief
from mailer.store import ClockRecord, Store

# A send-due or send-now holding the lock longer than this before the embargo is stuck.
STUCK_AFTER = dt.timedelta(minutes=3)
RESCHEDULE = " ('mailer release schedule' checks the messages again now)"


@dataclass(frozen=True)
class Preflight:
    problems: tuple[str, ...]  # the release would fail (or not be checked) at the embargo
    warnings: tuple[str, ...]  # it would go out, with messages not checked since scheduling
    notes: tuple[str, ...] = ()  # it would go out, on a clock nothing confirms

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def text(self) -> str:
        """``ok``, ``FAIL: ...``, ``WARN: ...`` (one line)."""
        if self.problems:
            return "FAIL: " + "; ".join((*self.problems, *self.warnings, *self.notes))
        said = ["; ".join(self.warnings) + RESCHEDULE] if self.warnings else []
        said += self.notes
        if said:
            return "WARN: " + "; ".join(said)
        return "ok"


def _stuck(holder: str, now: dt.datetime) -> str:
    """A problem when *holder* (what the lock's holder wrote: owner, command, since when) is a
    sending run that has held the lock for long although nothing is due."""
    words = holder.split()
    if len(words) < 4 or words[1] not in ("send-due", "send-now") or words[2] != "since":
        return ""
    try:
        since = dt.datetime.fromisoformat(words[3].replace("Z", "+00:00"))
    except ValueError:
        return ""
    if now - since < STUCK_AFTER:
        return ""
    return (
        f"the release lock is held by {words[1]} (process {words[0]}) since {words[3]}, though "
        "nothing is due: a stuck run would keep the release from going out; end that process"
    )


def preflight(
    config: Config,
    schedule: Schedule,
    *,
    now: dt.datetime,
    lock_holder: str,
    where: str,
    clock: Clock | None = None,
    clock_check: ClockRecord | None = None,
    password_known: bool = False,
) -> Preflight:
    """Check what the release needs at the embargo (see the module docstring). *lock_holder*:
    '' when this run holds the lock, else what the holder wrote; *where* names the
    environment for the password's line (``cron's environment``); *clock*: for the OAuth 2.0
    sign-in's token (not checked without one); *clock_check*: the clock's check
    (:func:`check_clock_ahead`; None: not checked); *password_known*: the run has the password
    already (``wait`` asks for it before its countdown)."""
    problems: list[str] = []
    notes: list[str] = []
    missing = "" if password_known else password_problem(config, where=where)
    if missing:
        problems.append(missing)
    signed_out = sign_in_problem(config, clock) if clock is not None else ""
    if signed_out:
        problems.append(signed_out)
    warnings: list[str] = []
    for change in changed_inputs(config, schedule.fingerprint):
        (problems if change.startswith("cannot read") else warnings).append(change)
    if lock_holder:
        stuck = _stuck(lock_holder, now)
        if stuck:
            problems.append(stuck)
    if clock_check is not None:
        said = forecast(clock_check, when=brief(schedule.embargo, ZoneInfo(schedule.zone)))
        if said:
            (problems if clock_check.refused else notes).append(said)
    return Preflight(tuple(problems), tuple(warnings), tuple(notes))


def check_clock_ahead(
    config: Config, store: Store, schedule: Schedule, *, clock: Clock, command: str
) -> ClockRecord | None:
    """The pre-flight's clock check: a new one (asked and recorded as *command*) when
    :func:`~mailer.release.clocktrust.clock_due`, else the last one; None when the release's
    clock is not checked (the outbox transport without ``[release] clock_url``). The recorded
    line is what the check means for the release at its embargo."""
    if not needs_check(config):
        return None
    last = store.clock_checks.last(schedule.id)
    if not clock_due(last, embargo=schedule.embargo, now=clock.now()):
        return last
    check = check_clock(config, clock)
    found = record_of(check, schedule_id=schedule.id, at=clock.now(), command=command)
    when = brief(schedule.embargo, ZoneInfo(schedule.zone))
    found = replace(found, line=forecast(found, when=when) or check.line)
    store.clock_checks.record(found)
    return found
