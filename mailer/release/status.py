"""``mailer release status``: the schedule, its state, who got the release when, the run log.

:func:`release_section` (counts of the same shape as ``invitations``) and
:func:`schedule_section` are this package's parts of ``mailer status``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from mailer.config import Config
from mailer.models import (
    ACTIVE_STATES,
    Campaign,
    JournalEntry,
    Schedule,
    State,
    StateCounts,
)
from mailer.release.audience import changed_inputs
from mailer.release.schedule import Decision, decide, in_words, relative
from mailer.store import ClockRecord, ReleaseCheck, RunRecord, Store

ROUND = 0
# Cron runs send-due every minute: a last check older than this, before the embargo, means no
# run is checking (cron not installed, or every run fails before it reaches the journal).
CHECK_OVERDUE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class RecipientOutcome:
    email: str
    name: str
    round: str  # "release" or "prebrief"
    state: State
    at: dt.datetime | None  # when it was sent
    after_embargo: float | None  # seconds after the embargo (negative: before, the pre-brief)
    detail: str  # the server's answer or the reason
    batch: str  # Message-ID of the Bcc message that carried it ('' for a personal message)
    relay: str = ""  # the relay its data went to: 'primary', 'fallback', 'outbox' ('' not yet)


@dataclass(frozen=True)
class ReleaseStatus:
    schedule: Schedule | None
    decision: Decision  # what a send-due run would decide now
    seconds_to_embargo: float | None
    release: StateCounts
    prebrief: StateCounts
    recipients: tuple[RecipientOutcome, ...]
    first: float | None  # first and last release delivery, seconds after the embargo
    last: float | None
    runs: tuple[RunRecord, ...]
    inputs_changed: tuple[str, ...]  # what changed since scheduling, in the officer's terms
    running: str  # the run holding the lock ('' if none)
    now: dt.datetime
    last_check: ReleaseCheck | None = None  # send-due's pre-flight before the embargo
    check_overdue: bool = False  # before the embargo, and no check for CHECK_OVERDUE
    # The release's messages that went out (sent or in doubt) by relay, and where each relay
    # of config.toml is ('primary' -> 'smtp.example.org:587'; 'fallback' with [smtp.fallback])
    relays: dict[str, int] = field(default_factory=dict)
    relay_hosts: dict[str, str] = field(default_factory=dict)
    clock_check: ClockRecord | None = None  # the last clock check of a run that would send
    # Deliveries the journal dates after the embargo while this clock says it is still ahead:
    # one clock or the other is wrong, and the release may have gone out early ('' if not).
    clock_warning: str = ""


def _outcome(
    entry: JournalEntry, round_: str, embargo: dt.datetime | None, batch: str
) -> RecipientOutcome:
    after = None
    detail = entry.last_error
    if entry.sent_at is not None and embargo is not None:
        after = (entry.sent_at - embargo).total_seconds()
        if round_ == "release" and after < 0:
            # Sent under an earlier schedule (cancelled during its run, then scheduled again):
            # not "-1 min 59 s after the embargo" of this one.
            after = None
            detail = "sent for an earlier embargo"
    return RecipientOutcome(
        email=entry.email,
        name=entry.name,
        round=round_,
        state=entry.state,
        at=entry.sent_at,
        after_embargo=after,
        detail=detail,
        batch=batch,
        relay=entry.relay,
    )


def release_status(
    config: Config, store: Store, *, now: dt.datetime, runs: int = 10
) -> ReleaseStatus:
    from mailer.release.lock import held_by

    releases = store.releases
    schedule = releases.current()
    embargo = schedule.embargo if schedule else None
    by_row = releases.batch_by_row()
    release_rows = store.journal.entries(Campaign.RELEASE, ROUND)
    pre_rows = store.journal.entries(Campaign.PREBRIEF, ROUND)
    people = tuple(
        [_outcome(e, "prebrief", embargo, "") for e in pre_rows]
        + [
            _outcome(
                e,
                "release",
                embargo,
                by_row[e.message_id].message_id if e.message_id in by_row else "",
            )
            for e in release_rows
        ]
    )
    times = sorted(
        p.after_embargo
        for p in people
        if p.round == "release" and p.state is State.SENT and p.after_embargo is not None
    )
    changed = (
        changed_inputs(config, schedule.fingerprint)
        if schedule is not None and schedule.state in ACTIVE_STATES
        else ()
    )
    decision = decide(schedule, now)
    last_check = releases.last_check(schedule.id) if schedule is not None else None
    overdue = is_overdue(schedule, last_check, now)
    return ReleaseStatus(
        clock_check=store.clock_checks.last(schedule.id) if schedule is not None else None,
        clock_warning=early_warning(people, embargo, now),
        schedule=schedule,
        decision=decision,
        seconds_to_embargo=(embargo - now).total_seconds() if embargo else None,
        release=store.journal.counts(Campaign.RELEASE, ROUND),
        prebrief=store.journal.counts(Campaign.PREBRIEF, ROUND),
        recipients=people,
        first=times[0] if times else None,
        last=times[-1] if times else None,
        runs=tuple(releases.runs(runs)),
        inputs_changed=changed,
        running=held_by(config),
        now=now,
        last_check=last_check,
        check_overdue=overdue,
        relays=store.journal.relay_counts(Campaign.RELEASE, ROUND),
        relay_hosts=relay_hosts(config),
    )


def relay_hosts(config: Config) -> dict[str, str]:
    """Where the release's relays are: 'primary' ([smtp]) and 'fallback' ([smtp.fallback])."""
    smtp = config.smtp if config.transport.kind == "smtp" else None
    if smtp is None:
        return {}
    hosts = {"primary": f"{smtp.host}:{smtp.port}"}
    if smtp.fallback is not None:
        hosts["fallback"] = f"{smtp.fallback.host}:{smtp.fallback.port}"
    return hosts


def relay_summary(status: ReleaseStatus) -> str:
    """``primary 2 (smtp.example.org:587), fallback 5 (relay.example.org:25)``: the release's
    messages by relay, when it has a fallback or used one; else ''."""
    if "fallback" not in status.relay_hosts and "fallback" not in status.relays:
        return ""
    names = [*status.relay_hosts, *(r for r in status.relays if r not in status.relay_hosts)]
    shown = []
    for name in names:
        host = status.relay_hosts.get(name, "")
        label = name or "not recorded"
        shown.append(f"{label} {status.relays.get(name, 0)}" + (f" ({host})" if host else ""))
    return ", ".join(shown)


def early_warning(
    people: tuple[RecipientOutcome, ...], embargo: dt.datetime | None, now: dt.datetime
) -> str:
    """Release messages that the journal dates at or after the embargo while the clock now
    reads a time before it: they went out on a clock that was ahead (up to how early), or the
    clock is behind now. Either way 'after the embargo' cannot be taken on trust."""
    if embargo is None or now >= embargo:
        return ""
    sent = sorted(
        p.at
        for p in people
        if p.round == "release" and p.state is State.SENT and p.at is not None and p.at >= embargo
    )
    if not sent:
        return ""
    early = relative((embargo - now).total_seconds() + (sent[-1] - embargo).total_seconds())[1:]
    many = "1 release message is" if len(sent) == 1 else f"{len(sent)} release messages are"
    return (
        f"CLOCK: {many} recorded as sent after the embargo, yet this clock says the embargo is "
        f"{in_words((embargo - now).total_seconds())}: the clock was ahead when they went out "
        f"(they may have left up to {early} early), or it is behind now. Check the clock "
        "('timedatectl'), and the Received: times of a delivered copy"
    )


def _zone(status: ReleaseStatus) -> ZoneInfo:
    return ZoneInfo(status.schedule.zone) if status.schedule is not None else ZoneInfo("UTC")


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def schedule_json(schedule: Schedule | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    return {
        "embargo": schedule.local_embargo.isoformat(),
        "embargo_utc": schedule.embargo.astimezone(dt.UTC).isoformat(),
        "timezone": schedule.zone,
        "state": schedule.state.value,
        "mode": schedule.mode,
        "tag": schedule.tag or None,
        "grace_minutes": schedule.grace_minutes,
        "checked": schedule.checked,
        "note": schedule.note,
        "created": _iso(schedule.created_at),
        "updated": _iso(schedule.updated_at),
    }


def _clock_time(moment: dt.datetime, zone: ZoneInfo, now: dt.datetime | None) -> str:
    local = moment.astimezone(zone)
    same_day = now is not None and now.astimezone(zone).date() == local.date()
    return f"{local:%H:%M:%S} {local.tzname()}" if same_day else f"{local:%Y-%m-%d %H:%M:%S %Z}"


def check_summary(check: ReleaseCheck | None, zone: ZoneInfo, *, now: dt.datetime | None) -> str:
    """``last check 12:58:00 EEST: FAIL: ... (failing since 09:12:00 EEST)``, or ''."""
    if check is None:
        return ""
    text = f"last check {_clock_time(check.at, zone, now)}: {check.result}"
    if check.failing_since is not None and check.failing_since < check.at:
        text += f" (failing since {_clock_time(check.failing_since, zone, now)})"
    return text


def overdue_summary(check: ReleaseCheck | None, zone: ZoneInfo, *, now: dt.datetime) -> str:
    """What to say when no send-due run has checked the release lately, before the embargo."""
    since = "yet" if check is None else f"since {_clock_time(check.at, zone, now)}"
    return (
        f"no send-due run has checked the release {since}: is the cron job installed "
        "('mailer release cron'), or 'mailer release wait' running?"
    )


def check_json(
    check: ReleaseCheck | None, zone: ZoneInfo, *, now: dt.datetime | None = None
) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "at": check.at.isoformat(),
        "command": check.command,
        "ok": check.ok,
        "result": check.result,
        "failing_since": _iso(check.failing_since),
        "summary": check_summary(check, zone, now=now),
    }


def clock_json(check: ClockRecord | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "at": check.at.isoformat(),
        "command": check.command,
        "verdict": check.verdict,
        "refused": check.refused,
        "trust_clock": check.overridden,
        "offset_s": check.offset,
        "uncertainty_s": check.uncertainty,
        "source": check.source,
        "sync": check.sync,
        "summary": check.line,
    }


def status_json(status: ReleaseStatus) -> dict[str, Any]:
    return {
        "schedule": schedule_json(status.schedule),
        "last_check": check_json(status.last_check, _zone(status), now=status.now),
        "check_overdue": status.check_overdue,
        "clock_check": clock_json(status.clock_check),
        "clock_warning": status.clock_warning or None,
        "decision_now": status.decision.value,
        "seconds_to_embargo": status.seconds_to_embargo,
        "release": status.release.as_dict(),
        "prebrief": status.prebrief.as_dict(),
        "relays": dict(status.relays),
        "first_delivery_after_embargo_s": status.first,
        "last_delivery_after_embargo_s": status.last,
        "inputs_changed_since_scheduling": bool(status.inputs_changed),
        "changed_inputs": list(status.inputs_changed),
        "running": status.running or None,
        "recipients": [
            {
                "email": p.email,
                "round": p.round,
                "state": p.state.value,
                "sent_at": _iso(p.at),
                "after_embargo_s": p.after_embargo,
                "detail": p.detail,
                "bcc_message_id": p.batch or None,
                "relay": p.relay or None,
            }
            for p in status.recipients
        ],
        "runs": [
            {
                "command": r.command,
                "started": _iso(r.started_at),
                "finished": _iso(r.finished_at),
                "decision": r.decision,
                "outcome": r.outcome,
                "ok": r.ok,
            }
            for r in status.runs
        ],
    }


# --- mailer status -----------------------------------------------------------------------------


def release_section(config: Config, store: Store) -> tuple[str, dict[str, Any]] | None:
    """``"release"``: the release's journal rows by state (pre-brief included), as for
    invitations; nothing when the release was never scheduled nor sent."""
    release = store.journal.counts(Campaign.RELEASE, ROUND)
    pre = store.journal.counts(Campaign.PREBRIEF, ROUND)
    if store.releases.current() is None and not release.total and not pre.total:
        return None
    both = {k: v + pre.as_dict()[k] for k, v in release.as_dict().items()}
    return "release", both


def relays_section(config: Config, store: Store) -> tuple[str, dict[str, Any]] | None:
    """``"release_relays"``: the release's messages that went out through SMTP (sent or in
    doubt) by relay, ``{"primary": 2, "fallback": 5}``; nothing before any did."""
    found = store.journal.relay_counts(Campaign.RELEASE, ROUND)
    if not any(relay in ("primary", "fallback") for relay in found):
        return None
    return "release_relays", found


def schedule_section(
    config: Config, store: Store, now: dt.datetime
) -> tuple[str, dict[str, Any]] | None:
    """``"release_schedule"``: the schedule, send-due's last pre-flight, whether one is
    overdue (as ``release status`` says it), and the last clock check."""
    schedule = store.releases.current()
    found = schedule_json(schedule)
    if schedule is None or found is None:
        return None
    zone = ZoneInfo(schedule.zone)
    last = store.releases.last_check(schedule.id)
    overdue = is_overdue(schedule, last, now)
    return "release_schedule", found | {
        "last_check": check_json(last, zone),
        "check_overdue": overdue,
        "overdue": overdue_summary(last, zone, now=now) if overdue else None,
        "clock_check": clock_json(store.clock_checks.last(schedule.id)),
    }


def is_overdue(schedule: Schedule | None, last: ReleaseCheck | None, now: dt.datetime) -> bool:
    """Before the embargo, and no pre-flight check for :data:`CHECK_OVERDUE`."""
    return decide(schedule, now) in (Decision.NOT_YET, Decision.PAUSED) and (
        last is None or now - last.at > CHECK_OVERDUE
    )
