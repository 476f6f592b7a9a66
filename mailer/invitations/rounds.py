"""Running a round of messages: load, plan, confirm, journal and send.

The CLI calls these functions with plain values; they return dataclasses for the console.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from mailer.clock import Clock
from mailer.config import Config
from mailer.contacts import Project, recipients, require_valid
from mailer.messages import Plan, RoundSpec, build_plan
from mailer.models import Campaign, Contact, State, StateCounts
from mailer.sending import DeliveryPlan, Progress, SendReport, delivery_plan, send_batch
from mailer.store import Recovery, Store, is_alive, process_owner


@dataclass(frozen=True)
class Summary:
    """What a send is about to do, shown before the officer confirms."""

    campaign: str
    to_send: int
    by_language: dict[str, int]
    already_done: int
    busy: int
    excluded: tuple[tuple[str, str], ...]  # (email, reason)
    transport: str
    first_subject: str


def summarize(plan: Plan, config: Config) -> Summary:
    langs = Counter(item.contact.language for item in plan.items)
    where = (
        f"outbox folder {config.transport.outbox_dir}"
        if config.transport.kind == "outbox"
        else f"SMTP {config.smtp.host}:{config.smtp.port}"
        if config.smtp
        else "smtp"
    )
    return Summary(
        campaign=plan.spec.campaign.value,
        to_send=len(plan.items),
        by_language=dict(sorted(langs.items())),
        already_done=len(plan.done),
        busy=len(plan.busy),
        excluded=tuple((c.email, reason) for c, reason in plan.excluded),
        transport=where,
        first_subject=plan.items[0].subject if plan.items else "",
    )


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    summary: Summary
    recovery: Recovery
    requeued: int


def prepare(
    project: Project,
    spec: RoundSpec,
    store: Store,
    *,
    now: dt.datetime,
    tag: str | None = None,
    only: str | None = None,
    limit: int | None = None,
    retry_failed: bool = False,
    resend_in_doubt: bool = False,
    suppressed: Sequence[str] = (),
    contacts: Sequence[Contact] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Prepared:
    """Recover rows of dead processes, requeue on request, and render the whole batch."""
    if contacts is None:
        contacts = recipients(project, tag=tag, only=only)
    else:
        require_valid(project.book)
    recovery = store.journal.recover_stale(now, is_alive)
    states = [
        s for s, on in ((State.FAILED, retry_failed), (State.IN_DOUBT, resend_in_doubt)) if on
    ]
    requeued = store.journal.requeue(spec.campaign, spec.round, states, now) if states else 0
    plan = build_plan(
        project.config,
        contacts,
        spec,
        now=now,
        store=store,
        reserve=False,
        limit=limit,
        suppressed=suppressed,
        progress=progress,
    )
    return Prepared(plan, summarize(plan, project.config), recovery, requeued)


def commit(project: Project, prepared: Prepared, store: Store, *, now: dt.datetime) -> Plan:
    """Reserve the rows of a confirmed plan (rendering again if another run was first)."""
    plan = prepared.plan
    if not plan.items:
        return plan
    from mailer.store import Reservation

    differ = store.journal.reserve_planned(
        plan.spec.campaign,
        plan.spec.round,
        (
            Reservation(i.contact.email, i.contact.name, i.message_id, i.ics_uid, i.sequence)
            for i in plan.items
        ),
        now,
    )
    if not differ:
        return plan
    # Another process reserved some rows in between: render again with the stored identifiers.
    contacts = [i.contact for i in plan.items]
    again = build_plan(project.config, contacts, plan.spec, now=now, store=store, reserve=True)
    plan.close()
    return replace(again, done=plan.done + again.done, excluded=plan.excluded)


def send(
    project: Project,
    plan: Plan,
    store: Store,
    *,
    clock: Clock,
    progress: Progress | None,
    password: str | None,
    not_before: dt.datetime | None = None,
) -> SendReport:
    return send_batch(
        plan.items,
        config=project.config,
        store=store,
        clock=clock,
        owner=process_owner(),
        progress=progress,
        not_before=not_before,
        password=password,
    )


def suppressed(store: Store) -> tuple[str, ...]:
    """Addresses that opted out or bounced permanently (honoured by every send)."""
    return tuple(sorted(store.rsvps.suppressed_emails()))


def delivery_forecast(
    config: Config, count: int, start: dt.datetime, *, store: Store
) -> tuple[DeliveryPlan | None, list[str]]:
    """When *count* messages of an SMTP send leave ('Plan: N messages at R/min over C
    connections: start to finish EET'), and the lines that say so; nothing for the outbox.

    The times rest on the rate limit where one binds, else on this server's pace in its latest
    run (the journal's log of submissions); the daily cap counts the recipients that log has
    from the 24 hours before *start*."""
    if config.transport.kind != "smtp" or not count:
        return None, []
    used = store.smtp_log.recipients_since(start - dt.timedelta(hours=24))
    plan = delivery_plan(
        count,
        config.smtp,
        start.astimezone(config.zone),
        sent_last_24h=used,
        measured=store.smtp_log.recent_rate(start),
    )
    lines = [f"Plan:         {plan.text}"]
    if plan.daily_cap_exceeded and config.smtp is not None:
        lines.append(
            f"Warning:      this exceeds the daily cap of {config.smtp.daily_cap} recipients "
            f"({used} already used in the last 24 h); the rest stays queued for a later run"
        )
    return plan, lines


def round_counts(store: Store, spec: RoundSpec, contacts: Sequence[Contact]) -> StateCounts:
    """The round's messages by state in the journal, as ``mailer status`` counts them: for the
    invitation, *contacts* on the suppression list that were never invited count as skipped."""
    counts = store.journal.counts(spec.campaign, spec.round)
    if spec.campaign is not Campaign.INVITATION:
        return counts
    blocked = {e.lower() for e in store.rsvps.suppressed_emails()}
    listed = blocked & {c.key for c in contacts}
    not_invited = len(listed - store.journal.journaled(spec.campaign, listed)) if listed else 0
    return replace(counts, skipped=counts.skipped + not_invited)
