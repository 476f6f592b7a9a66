"""Can the release trust the clock? Checked before it arms, sends late, or is marked missed.

The embargo guard compares every transmission with the machine's clock; this check asks whether
that clock is right. Two witnesses:

(a) the machine itself (:meth:`~mailer.clock.Clock.sync_status`: timedatectl, then chronyc, then
    the kernel's adjtimex), which can say "synchronised", "not synchronised" or nothing;
(b) a second source's stated time (:func:`mailer.sending.stated_times`: ``[release] clock_url``,
    the SMTP greeting, the IMAP greeting), with its uncertainty: half a second for the whole
    seconds it states plus half the measured round trip.

:func:`judge` decides, a pure function:

* **skewed** (refused): the source's time, at any point of its uncertainty, is more than
  ``[release] max_clock_skew_seconds`` from the clock (``|offset| + uncertainty > max``); or,
  with no source, chrony says the system time is that far from NTP time;
* **trusted**: a source agrees within the limit, or (no source) the machine says synchronised;
* **unverified**: no source stated a time and the machine does not say it is synchronised. The
  release goes out with a loud warning, unless ``[release] require_clock_check = true``.

``--trust-clock`` sends whatever the verdict; the check still runs and is recorded as overridden.
The outbox transport delivers nothing at the embargo, so without ``clock_url`` it is not checked.

Ahead of time, and without delaying the release:

* the pre-flight of every ``send-due`` before the embargo (and of ``wait``, every minute of its
  countdown) checks the clock when :func:`clock_due`: at least every :data:`CHECK_EVERY`, every
  run in the last :data:`ALWAYS_WITHIN` before the embargo, and every run while the last check
  found the clock wrong; in between it repeats the last check's :func:`forecast`.
  ``release schedule`` checks it when it schedules;
* the run that arms (or sends late) reuses a check made within :data:`FRESH` that found the
  clock right (:func:`reusable`), so the check adds no round trip between the embargo second and
  the first message; without one (a release scheduled in its last minutes, cron not running
  before it) it asks the sources then, before it claims anything.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from mailer.clock import Clock
from mailer.config import Config
from mailer.sending import StatedTime, stated_times
from mailer.store import ClockRecord
from mailer.timesync import SyncStatus

CHECK_EVERY = dt.timedelta(minutes=10)  # a pre-flight asks the sources at least this often
ALWAYS_WITHIN = dt.timedelta(minutes=15)  # and at every run this close to the embargo
FRESH = dt.timedelta(seconds=150)  # a check this recent spares the arming run the round trip

REMEDY = (
    "set the clock right ('timedatectl set-ntp true', or 'sudo chronyc makestep'); if the "
    "source is wrong and the clock is right, run it with --trust-clock"
)


class Verdict(enum.StrEnum):
    TRUSTED = "trusted"
    SKEWED = "skewed"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class ClockCheck:
    verdict: Verdict
    refused: bool  # the release is not sent because of this check
    overridden: bool  # --trust-clock was given
    offset: float | None  # seconds the clock is ahead (+) or behind (-) of the source
    uncertainty: float | None
    source: str  # the witness that decided ("" when none did)
    sync: SyncStatus
    asked: tuple[StatedTime, ...]  # the second sources asked, in order
    max_skew: float
    line: str  # one line, for the run log, the status and cron's mail


def _ahead(offset: float) -> str:
    return f"{abs(offset):.1f} s {'ahead of' if offset >= 0 else 'behind'}"


def judge(
    sync: SyncStatus,
    asked: tuple[StatedTime, ...],
    *,
    max_skew: float,
    require: bool = False,
    trust: bool = False,
) -> ClockCheck:
    """The verdict on the clock from what the machine said and what the sources stated."""
    stated = next((a for a in asked if a.offset is not None), None)
    machine = sync.detail
    offset: float | None = None
    uncertainty: float | None = None
    source = ""
    if stated is not None and stated.offset is not None:
        offset, uncertainty, source = stated.offset, stated.uncertainty, stated.source
        when = stated.stated.isoformat() if stated.stated is not None else ""
        if abs(offset) + uncertainty > max_skew:
            verdict = Verdict.SKEWED
            line = (
                f"the clock is {_ahead(offset)} {source} (it says {when}; ±{uncertainty:.1f} s), "
                f"more than [release] max_clock_skew_seconds = {max_skew:g}"
            )
        else:
            verdict = Verdict.TRUSTED
            line = (
                f"clock ok: {_ahead(offset)} {source}, ±{uncertainty:.1f} s "
                f"(at most {max_skew:g} s); {machine}"
            )
    elif sync.offset is not None and abs(sync.offset) > max_skew:
        offset, uncertainty, source = sync.offset, 0.0, sync.source
        verdict = Verdict.SKEWED
        line = (
            f"the clock is {_ahead(sync.offset)} NTP time ({machine}), more than "
            f"[release] max_clock_skew_seconds = {max_skew:g}"
        )
    elif sync.synchronised:
        offset, source = sync.offset, sync.source
        verdict = Verdict.TRUSTED
        line = f"clock ok: {machine} (no second source stated the time)"
    else:
        verdict = Verdict.UNVERIFIED
        why = "; ".join(f"{a.source}: {a.text}" for a in asked) or (
            "none configured: set [release] clock_url"
        )
        line = f"clock UNVERIFIED: no second source stated the time ({why}) and {machine}"
    refused = not trust and (
        verdict is Verdict.SKEWED or (verdict is Verdict.UNVERIFIED and require)
    )
    if refused:
        if verdict is Verdict.UNVERIFIED:
            line += (
                "; [release] require_clock_check = true: not sent. Set [release] clock_url, "
                "or make the machine synchronise its clock (timedatectl set-ntp true)"
            )
        else:
            line = f"REFUSED: {line}: not sent; {REMEDY}"
    elif trust and verdict is not Verdict.TRUSTED:
        line += "; sent anyway: --trust-clock"
    return ClockCheck(
        verdict=verdict,
        refused=refused,
        overridden=trust,
        offset=offset,
        uncertainty=uncertainty,
        source=source,
        sync=sync,
        asked=asked,
        max_skew=max_skew,
        line=line,
    )


def needs_check(config: Config) -> bool:
    """The outbox transport delivers nothing at the embargo: checked only with a clock_url."""
    return config.transport.kind == "smtp" or bool(config.release.clock_url)


def check_clock(config: Config, clock: Clock, *, trust: bool = False) -> ClockCheck:
    """Ask the machine and the second sources (see the module docstring), and judge."""
    sync = clock.sync_status()
    asked = stated_times(config, clock)
    return judge(
        sync,
        asked,
        max_skew=config.release.max_clock_skew_seconds,
        require=config.release.require_clock_check,
        trust=trust,
    )


def record_of(
    check: ClockCheck, *, schedule_id: int | None, at: dt.datetime, command: str, line: str = ""
) -> ClockRecord:
    """The journal's form of *check* (its *line* replaced by *line* when given)."""
    return ClockRecord(
        schedule_id=schedule_id,
        at=at,
        command=command,
        verdict=check.verdict.value,
        refused=check.refused,
        overridden=check.overridden,
        offset=check.offset,
        uncertainty=check.uncertainty,
        source=check.source,
        sync=check.sync.detail,
        line=line or check.line,
    )


def clock_due(last: ClockRecord | None, *, embargo: dt.datetime, now: dt.datetime) -> bool:
    """Does a pre-flight at *now* ask the sources again, after the check *last*? (The module
    docstring: every :data:`CHECK_EVERY`, always within :data:`ALWAYS_WITHIN` of the embargo,
    and always while the last check found the clock wrong.)"""
    if last is None or last.refused or last.verdict == Verdict.SKEWED:
        return True
    if embargo - now <= ALWAYS_WITHIN:
        return True
    age = now - last.at
    return age < dt.timedelta(0) or age >= CHECK_EVERY  # the clock went back: check again


def reusable(
    last: ClockRecord | None,
    *,
    now: dt.datetime,
    max_skew: float,
    require: bool,
    trust: bool,
) -> ClockCheck | None:
    """A check of the last :data:`FRESH` seconds that the arming run may use instead of asking
    the sources again: it found the clock right (within today's ``max_clock_skew_seconds``), or
    found nothing to contradict it while no check is required. A clock found wrong is always
    checked again (it may have been set right since)."""
    if last is None or not dt.timedelta(0) <= now - last.at <= FRESH:
        return None
    verdict = Verdict(last.verdict)
    if verdict is Verdict.SKEWED or last.refused:
        return None
    if verdict is Verdict.UNVERIFIED and require and not trust:
        return None
    if (
        verdict is Verdict.TRUSTED
        and last.offset is not None
        and last.uncertainty is not None
        and abs(last.offset) + last.uncertainty > max_skew
    ):
        return None
    line = f"{last.line} (checked {(now - last.at).total_seconds():.0f} s before, {last.command})"
    if trust and verdict is not Verdict.TRUSTED:
        line += "; sent anyway: --trust-clock"
    return ClockCheck(
        verdict=verdict,
        refused=False,
        overridden=trust,
        offset=last.offset,
        uncertainty=last.uncertainty,
        source=last.source,
        sync=SyncStatus(None, "", last.sync),
        asked=(),
        max_skew=max_skew,
        line=line,
    )


def _amount(seconds: float) -> str:
    """``1 h 00 min``, ``5 min``, ``42 s``, ``less than 1 s``: coarse on purpose, so that the
    pre-flight's line stays the same from minute to minute (cron mails a failure once)."""
    left = abs(seconds)
    if left < 0.5:
        return "less than 1 s"
    if left < 59.5:
        return f"{left:.0f} s"
    minutes = round(left / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def forecast(record: ClockRecord, *, when: str) -> str:
    """What the clock check means for the release at *when* (``the embargo 2027-06-25 13:00:00
    EEST (10:00:00 UTC)``), said ahead of time; '' when the clock is right. One line, in words
    that stay the same while nothing changes."""
    verdict = Verdict(record.verdict)
    if verdict is Verdict.TRUSTED:
        return ""
    if verdict is Verdict.SKEWED and record.offset is not None:
        way = "ahead of" if record.offset >= 0 else "behind"
        name, _, kind = record.source.partition(" (")
        said = f"{name}'s time (its {kind}" if kind else f"{name or 'NTP'} time"
        if record.source == "chronyc":
            said = "NTP time (chronyc)"
        return (
            f"the clock is {_amount(record.offset)} {way} {said}: the release will not go out "
            f"at {when} unless the clock is set right ('timedatectl set-ntp true', or 'sudo "
            "chronyc makestep'), or, if that source is wrong, it is sent with --trust-clock "
            "('mailer release wait --trust-clock')"
        )
    machine = record.sync or "the machine does not say whether its clock is synchronised"
    if record.refused:
        return (
            f"nothing confirms the clock (no second source stated the time; {machine}): with "
            f"[release] require_clock_check = true the release will not go out at {when} "
            "unless [release] clock_url is set or the machine synchronises its clock "
            "('timedatectl set-ntp true')"
        )
    return (
        f"nothing confirms the clock (no second source stated the time; {machine}): the "
        f"release will go out at {when} by this clock, unchecked; set [release] clock_url to "
        "have it checked"
    )


def check_line(config: Config, clock: Clock) -> tuple[bool, str]:
    """``mailer check --connect``'s line for the clock: ``ok``, ``warn`` (nothing confirms it)
    or ``FAIL`` (the release would not go out on it), and whether it passed; ('', True) when
    the release's clock is not checked (the outbox without ``clock_url``)."""
    if not needs_check(config):
        return True, ""
    check = check_clock(config, clock)
    found = record_of(check, schedule_id=None, at=clock.now(), command="check")
    said = forecast(found, when="its embargo")
    if not said:
        return True, f"ok    clock       {check.line}"
    return (not check.refused), f"{'FAIL' if check.refused else 'warn'}  clock       {said}"
