"""Scheduling the release (validate, render and check everything now), the pre-brief, cancel."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from mailer.clock import Clock
from mailer.config import Config, password_for
from mailer.contacts import Project, open_store, project_for
from mailer.errors import ScheduleError
from mailer.invitations import suppressed
from mailer.messages import PlanError, build_plan
from mailer.models import ACTIVE_STATES, Campaign, Schedule, ScheduleState
from mailer.release.audience import (
    ROUND,
    audience,
    input_fingerprint,
    release_spec,
)
from mailer.release.batches import batch_size, bcc_check
from mailer.release.lock import ReleaseLock, lock_path, log_line, stamp
from mailer.release.schedule import (
    PREBRIEF_CUTOFF,
    Embargo,
    brief,
    describe,
    in_words,
    relative,
    requested_embargo,
)
from mailer.sending import Progress, SendReport, send_batch
from mailer.store import Store, is_alive, process_owner


@dataclass(frozen=True)
class Proposal:
    """What ``mailer release schedule`` is about to save, shown before the officer confirms."""

    embargo: Embargo
    tag: str
    mode: str
    grace_minutes: int
    recipients: int  # get the release at the embargo
    messages: int  # messages at the embargo (Bcc: batches)
    batch_size: int
    by_language: dict[str, int]
    subject: str
    checked: int  # messages rendered and checked now (release + pre-brief)
    excluded: tuple[tuple[str, str], ...]  # (email, reason)
    prebrief_due: tuple[str, ...]
    prebriefed: tuple[str, ...]
    already_sent: int
    plan: str  # when the first and the last message leave
    shorten: tuple[str, ...]  # ways to make that shorter
    warnings: tuple[str, ...]
    transport: str
    fingerprint: str


def plan_schedule(
    project: Project,
    store: Store,
    *,
    at: str | None,
    tz: str | None,
    tag: str | None,
    now: dt.datetime,
    prebrief: bool = True,
) -> Proposal:
    """Validate the embargo and render and check every message of the release now (and of the
    pre-brief, unless *prebrief* is false)."""
    config = project.config
    current = store.releases.current()
    if current is not None and current.state in (ScheduleState.SENDING, ScheduleState.PAUSED):
        raise ScheduleError(
            f"the release of {describe(current.embargo, config.zone)} has started sending "
            f"(state: {current.state})",
            hint="to stop it: mailer release cancel; then schedule it again",
        )
    if current is not None and current.state is ScheduleState.DONE:
        counts = store.journal.counts(Campaign.RELEASE, ROUND)
        raise ScheduleError(
            f"the release of {describe(current.embargo, config.zone)} was sent "
            f"({counts.sent} sent, {counts.failed} failed, {counts.in_doubt} in doubt); a "
            "finished release is never scheduled again",
            hint="'mailer release status' shows who got it when; a new press release needs a "
            "project folder of its own ('mailer init')",
        )
    embargo = requested_embargo(
        at=at, tz=tz, configured=config.release.embargo, default_zone=config.zone, now=now
    )
    warnings = list(embargo.warnings)
    chosen_tag = (tag or "").strip().lower()
    store.journal.recover_stale(now, is_alive)
    who = audience(project, store, chosen_tag)
    if not prebrief:
        who = replace(who, prebrief_due=())
    if who.prebrief_due and embargo.moment - now <= PREBRIEF_CUTOFF:
        warnings.append(
            f"no pre-brief {relative((embargo.moment - now).total_seconds())[1:]} before the "
            f"embargo: the {len(who.prebrief_due)} contacts with tag "
            f"{config.release.prebrief_tag!r} get the release with everyone else"
        )
        who = replace(who, prebrief_due=())
    blocked = suppressed(store)
    spec = release_spec(config, embargo.moment)
    mode = config.release.mode
    size = batch_size(config)
    try:
        if mode == "bcc":
            check = bcc_check(
                config, store, who.release, spec, now=embargo.moment, blocked=blocked, size=size
            )
            todo, messages, subject = check.recipients, check.messages, check.subject
            by_language, excluded, sent = check.by_language, check.excluded, check.done
        else:
            plan = build_plan(
                config,
                who.release,
                spec,
                now=embargo.moment,
                store=store,
                reserve=False,
                suppressed=blocked,
            )
            todo = messages = len(plan.items)
            subject = plan.items[0].subject if plan.items else ""
            by_language = _languages(i.contact.language for i in plan.items)
            excluded = tuple((c.email, why) for c, why in plan.excluded)
            sent = len(plan.done) + len(plan.busy)
        pre_spec = release_spec(config, embargo.moment, prebrief=True)
        pre = (
            build_plan(
                config,
                who.prebrief_due,
                pre_spec,
                now=now,
                store=store,
                reserve=False,
                suppressed=blocked,
            )
            if who.prebrief_due
            else None
        )
    except PlanError as exc:
        raise ScheduleError(exc.message, hint=exc.hint) from None
    if not todo and not sent:
        raise ScheduleError("no contact would get the release (all excluded)")
    if not todo:
        raise ScheduleError(
            f"every contact already has the release ({sent} sent or in doubt): there is "
            "nothing left to schedule",
            hint="'mailer release status' shows who got it when",
        )
    if mode == "bcc" and config.transport.kind == "outbox":
        warnings.append(
            "Bcc mode with the outbox: an .eml file has no envelope, so opening it in a mail "
            "client does not reach the journalists; the journal lists who each batch is for"
        )
    if current is not None and current.state is ScheduleState.SCHEDULED:
        warnings.append(
            f"this replaces the release scheduled for {describe(current.embargo, config.zone)}"
        )
    if embargo.zone.key != config.zone.key:
        warnings.append(f"in the event's zone that is {describe(embargo.moment, config.zone)}")
    from mailer.release.cron import delivery_text

    plan_text, shorten = delivery_text(
        config,
        messages=messages,
        recipients=todo,
        start=embargo.moment,
        size=size,
        by_language=by_language,
        measured=store.smtp_log.recent_rate(now),
    )
    return Proposal(
        embargo=embargo,
        tag=chosen_tag,
        mode=mode,
        grace_minutes=config.release.grace_minutes,
        recipients=todo,
        messages=messages,
        batch_size=size,
        by_language=by_language,
        subject=subject,
        checked=messages + (len(pre.items) if pre else 0),
        excluded=excluded,
        prebrief_due=tuple(i.contact.email for i in pre.items) if pre else (),
        prebriefed=tuple(c.email for c in who.prebriefed),
        already_sent=sent,
        plan=plan_text,
        shorten=tuple(shorten),
        warnings=tuple(warnings),
        transport=_transport(config),
        fingerprint=input_fingerprint(config),
    )


def _languages(languages: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(languages).items()))


def _transport(config: Config) -> str:
    if config.transport.kind == "outbox":
        return f"outbox folder {config.transport.outbox_dir}"
    assert config.smtp is not None
    return f"SMTP {config.smtp.host}:{config.smtp.port}"


def save_schedule(store: Store, proposal: Proposal, *, now: dt.datetime) -> Schedule:
    return store.releases.add(
        embargo=proposal.embargo.utc,
        zone=proposal.embargo.zone.key,
        tag=proposal.tag,
        mode=proposal.mode,
        grace_minutes=proposal.grace_minutes,
        checked=proposal.checked,
        fingerprint=proposal.fingerprint,
        now=now,
    )


@dataclass(frozen=True)
class Cancelled:
    schedule: Schedule
    sent: int  # already sent before the cancel
    running: str  # the run that holds the lock ('' if none): it stops before its next message


def cancel(config: Config, store: Store, *, now: dt.datetime) -> Cancelled:
    from mailer.release.lock import held_by

    releases = store.releases
    current = releases.current()
    if current is None or current.state in (ScheduleState.CANCELLED, ScheduleState.DONE):
        what = "nothing is scheduled" if current is None else f"the release is {current.state}"
        raise ScheduleError(f"nothing to cancel: {what}")
    releases.set_state(
        current.id,
        ScheduleState.CANCELLED,
        now,
        note="cancelled by the officer",
        from_states=(*ACTIVE_STATES, ScheduleState.MISSED),
    )
    sent = store.journal.counts(Campaign.RELEASE, ROUND).sent
    found = releases.get(current.id)
    assert found is not None
    return Cancelled(found, sent, held_by(config))


# --- the pre-brief ---------------------------------------------------------------------------


def send_prebrief(
    config: Config,
    *,
    clock: Clock,
    progress: Progress | None = None,
    interactive: bool = False,
    dry_run: bool = False,
) -> tuple[int, SendReport | None]:
    """Send the pre-brief (marked embargoed) to the tagged contacts that have not had it.

    Returns (contacts it is for, the send report or None for a dry run / nothing to send).
    """
    owner = process_owner()
    with (
        ReleaseLock(lock_path(config), f"{owner} prebrief since {stamp(clock.now())}") as lock,
        open_store(config) as store,
    ):
        if not lock.acquired:
            raise ScheduleError(f"another release run is in progress ({lock.holder()})")
        releases = store.releases
        schedule = releases.current()
        now = clock.now()
        if schedule is None or schedule.state is not ScheduleState.SCHEDULED:
            raise ScheduleError(
                "no release is scheduled (the pre-brief needs its embargo time)",
                hint='schedule it first: mailer release schedule --at "..."',
            )
        if not config.release.prebrief_tag:
            raise ScheduleError("config.toml: [release] prebrief_tag is empty: nobody to pre-brief")
        if schedule.embargo - now <= PREBRIEF_CUTOFF:
            raise ScheduleError(
                f"the embargo {describe(schedule.embargo, config.zone)} is "
                f"{in_words((schedule.embargo - now).total_seconds())}: too late for a "
                "pre-brief; the trusted contacts get the release with everyone else"
            )
        store.journal.recover_stale(now, is_alive)
        who = audience(project_for(config), store, schedule.tag)
        spec = release_spec(config, schedule.embargo, prebrief=True)
        plan = build_plan(
            config,
            who.prebrief_due,
            spec,
            now=now,
            store=store,
            reserve=not dry_run,
            suppressed=suppressed(store),
        )
        if dry_run or not plan.items:
            return len(plan.items), None
        password = password_for(config, interactive=interactive)
        run_id = releases.start_run(
            schedule_id=schedule.id, command="prebrief", owner=owner, now=now
        )
        report = send_batch(
            plan.items,
            config=config,
            store=store,
            clock=clock,
            owner=owner,
            progress=progress,
            password=password,
        )
        text = (
            f"pre-brief: sent {report.sent} of {len(plan.items)}, embargoed until "
            f"{brief(schedule.embargo, config.zone)}"
        )
        releases.finish_run(
            run_id, now=clock.now(), decision="prebrief", outcome=text, ok=report.ok
        )
    log_line(config, f"mailer release prebrief: {text}", now=clock.now())
    return len(plan.items), report
