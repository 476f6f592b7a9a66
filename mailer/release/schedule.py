"""Embargo decisions: pure functions of the stored schedule and ``now`` (both aware).

Nothing here reads the clock or the machine's time zone. Every comparison is between aware
datetimes, so a machine on UTC, on Helsinki time or on Auckland time decides the same.

:func:`decide` is what ``mailer release send-due`` (run by cron every minute) does:

==================  ======================================================================
NOTHING_SCHEDULED   no release is scheduled
NOT_YET             the embargo is more than :data:`ARM_WINDOW` away: exit, the next run will
PAUSED              as NOT_YET, for a release of which part went out before the clock went
                    back (a step of the clock before the embargo); the rest goes out as above
ARM                 the embargo is within the next :data:`ARM_WINDOW` (or is exactly now):
                    prepare everything, wait until the embargo second, send
SEND_LATE           past the embargo, within ``grace_minutes``: send at once, warn it is late
MISSED              past the grace: do not send; mark it missed; the officer may still send it
                    deliberately with ``mailer release send-now --late-ok``
DONE / CANCELLED    nothing to do
==================  ======================================================================
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from mailer.errors import ScheduleError
from mailer.models import Schedule, ScheduleState
from mailer.timeutil import LocalTimeError, load_zone, parse_local

ARM_WINDOW = dt.timedelta(seconds=60)
# No pre-brief this close to the embargo: it would hold the release lock when cron arms.
PREBRIEF_CUTOFF = dt.timedelta(minutes=2)
FAR_AHEAD = dt.timedelta(days=60)


class Decision(enum.StrEnum):
    NOTHING_SCHEDULED = "nothing-scheduled"
    NOT_YET = "not-yet"
    PAUSED = "paused"
    ARM = "arm"
    SEND_LATE = "send-late"
    MISSED = "missed"
    DONE = "done"
    CANCELLED = "cancelled"


def _aware(moment: dt.datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")


def decide(schedule: Schedule | None, now: dt.datetime) -> Decision:
    """What a ``send-due`` run at *now* does with *schedule* (see the module docstring)."""
    _aware(now, "now")
    if schedule is None:
        return Decision.NOTHING_SCHEDULED
    _aware(schedule.embargo, "the embargo")
    if schedule.state is ScheduleState.CANCELLED:
        return Decision.CANCELLED
    if schedule.state is ScheduleState.DONE:
        return Decision.DONE
    if schedule.state is ScheduleState.MISSED:
        return Decision.MISSED
    ahead = schedule.embargo - now
    if ahead > ARM_WINDOW:
        return Decision.PAUSED if schedule.state is ScheduleState.PAUSED else Decision.NOT_YET
    if ahead >= dt.timedelta(0):
        return Decision.ARM
    if -ahead <= schedule.grace:
        return Decision.SEND_LATE
    return Decision.MISSED


def seconds_to(embargo: dt.datetime, now: dt.datetime) -> float:
    """Seconds from *now* to *embargo* (negative once it has passed)."""
    _aware(now, "now")
    _aware(embargo, "the embargo")
    return (embargo - now).total_seconds()


def relative(seconds: float) -> str:
    """``+0.012 s``, ``+6 min 40 s``, ``-1 h 05 min`` (sign: after / before the embargo)."""
    sign = "-" if seconds < 0 else "+"
    left = abs(seconds)
    if left < 60:
        return f"{sign}{left:.3f} s"
    minutes, secs = divmod(int(left), 60)
    if minutes < 60:
        return f"{sign}{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{sign}{hours} h {minutes:02d} min"
    return f"{sign}{hours // 24} d {hours % 24} h"


def in_words(seconds: float) -> str:
    """``in 2 h 05 min`` / ``3 min 10 s ago``."""
    text = relative(seconds)[1:]
    return f"in {text}" if seconds >= 0 else f"{text} ago"


# --- the requested embargo -----------------------------------------------------------------


@dataclass(frozen=True)
class Embargo:
    """A validated embargo time: aware, in the zone it was given in."""

    moment: dt.datetime
    zone: ZoneInfo
    warnings: tuple[str, ...]

    @property
    def utc(self) -> dt.datetime:
        return self.moment.astimezone(dt.UTC)


def describe(moment: dt.datetime, zone: ZoneInfo) -> str:
    """``Friday 2027-06-25 13:00:00 EEST (UTC+03:00, Europe/Helsinki) = 10:00:00 UTC``.

    The weekday is there to catch a wrong date; the UTC time is what distributors ask for.
    """
    _aware(moment, "the time")
    local = moment.astimezone(zone)
    utc = moment.astimezone(dt.UTC)
    offset = local.strftime("%z")
    day = "" if utc.date() == local.date() else f"{utc:%Y-%m-%d} "
    return (
        f"{local:%A %Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset[:3]}:{offset[3:]}, "
        f"{zone.key}) = {day}{utc:%H:%M:%S} UTC"
    )


def brief(moment: dt.datetime, zone: ZoneInfo) -> str:
    """``2027-06-25 13:00:00 EEST (10:00:00 UTC)``, for log lines."""
    _aware(moment, "the time")
    local = moment.astimezone(zone)
    utc = moment.astimezone(dt.UTC)
    day = "" if utc.date() == local.date() else f"{utc:%Y-%m-%d} "
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({day}{utc:%H:%M:%S} UTC)"


def requested_embargo(
    *,
    at: str | None,
    tz: str | None,
    configured: dt.datetime | None,
    default_zone: ZoneInfo,
    now: dt.datetime,
) -> Embargo:
    """Validate ``--at`` / ``--tz`` (or ``[release] embargo``) against *now*.

    The time must be a real, unambiguous wall-clock time in its zone and in the future.
    """
    _aware(now, "now")
    if tz is not None and at is None:
        raise ScheduleError(
            "--tz needs --at: give the time together with its zone, "
            'e.g. --at "2027-06-25 13:00" --tz Europe/Helsinki'
        )
    try:
        zone = load_zone(tz) if tz is not None else default_zone
    except LocalTimeError as exc:
        raise ScheduleError(f"--tz: {exc}") from None
    if at is not None:
        try:
            moment = parse_local(at, zone)
        except LocalTimeError as exc:
            raise ScheduleError(f"--at: {exc}") from None
        where = "--at"
    elif configured is not None:
        _aware(configured, "[release] embargo")
        moment = configured.astimezone(zone)
        where = "config.toml: [release] embargo"
    else:
        raise ScheduleError(
            'no embargo time: give --at "YYYY-MM-DD HH:MM" or set [release] embargo in config.toml'
        )
    if moment <= now:
        raise ScheduleError(
            f"{where}: {describe(moment, zone)} is not in the future (now: {describe(now, zone)})"
        )
    warnings: list[str] = []
    local = moment.astimezone(zone)
    if local.hour == 0:
        before = (local - dt.timedelta(days=1)).strftime("%A %d %B")
        warnings.append(
            f"{local:%H:%M} on {local:%A %d %B} is in the night between {before} and "
            f"{local:%A %d %B}; check that this is the day you mean"
        )
    if moment - now > FAR_AHEAD:
        warnings.append(f"the embargo is {in_words(seconds_to(moment, now))}; is the year right?")
    return Embargo(moment=local, zone=zone, warnings=tuple(warnings))
