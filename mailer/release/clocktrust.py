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
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mailer.clock import Clock
from mailer.config import Config
from mailer.sending import StatedTime, stated_times
from mailer.timesync import SyncStatus

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
