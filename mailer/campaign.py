"""The plan of a round: who gets which fully rendered message, decided before anything is sent.

Preview, dry run, the pre-flight check and a real send all use :func:`build_plan`, so a
template error, a missing attachment or a bad row stops the batch before its first message.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailer.config import Config
from mailer.errors import MailerError
from mailer.ics import CalendarInvite, CalendarTemplate, Method, calendar_template
from mailer.messages import (
    Footer,
    MessageSpec,
    attachment_parts,
    build_message,
    load_attachments,
)
from mailer.models import Campaign, Contact, JournalEntry, Outgoing, State
from mailer.render import Renderer
from mailer.store import Reservation, Store

FINAL_STATES = frozenset({State.SENT, State.FAILED, State.IN_DOUBT, State.SKIPPED})
BUSY_STATES = frozenset({State.CLAIMED, State.TRANSMITTING})


@dataclass(frozen=True)
class RoundSpec:
    """What kind of message a round sends."""

    campaign: Campaign
    round: int
    template: str
    calendar_method: Method | None
    attachments: tuple[Path, ...]
    attachments_key: str
    extra_context: Mapping[str, Any] = field(default_factory=dict)
    sequence: int = 0  # SEQUENCE of the calendar object (updates and cancellations raise it)


@dataclass(frozen=True)
class Plan:
    spec: RoundSpec
    items: tuple[Outgoing, ...]  # to transmit now
    done: tuple[JournalEntry, ...]  # handled by an earlier run (sent, failed, in doubt, skipped)
    busy: tuple[JournalEntry, ...]  # being sent by another process right now
    excluded: tuple[tuple[Contact, str], ...]  # not sent, with the reason (suppressed, limit)


def invitation_spec(config: Config) -> RoundSpec:
    return RoundSpec(
        campaign=Campaign.INVITATION,
        round=0,
        template=config.invitation.template,
        calendar_method="REQUEST",
        attachments=config.invitation.attachments,
        attachments_key="[invitation] attachments",
    )


def event_context(config: Config) -> dict[str, Any]:
    ev = config.event
    org = config.organizer
    return {
        "event": {
            "title": ev.title,
            "location": ev.location,
            "description": ev.description,
            "start": ev.start,
            "end": ev.end,
            "timezone": ev.zone.key,
            "url": ev.url,
        },
        "organizer": {
            "name": org.name,
            "email": org.email,
            "privacy_url": org.privacy_url,
            "unsubscribe_email": org.unsubscribe_email,
        },
        "release": {"embargo": config.release.embargo},
        "vars": dict(config.vars),
        "_zone": ev.zone,
    }


def contact_context(contact: Contact) -> dict[str, Any]:
    values: dict[str, Any] = dict(contact.fields)
    values.update(
        email=contact.email,
        name=contact.name,
        outlet=contact.outlet,
        language=contact.language,
        tags=list(contact.tags),
    )
    return values


def new_message_id(config: Config) -> str:
    return email.utils.make_msgid(domain=config.organizer.domain)


def new_uid(config: Config) -> str:
    """A per-recipient calendar UID; its random part cannot be guessed from another one."""
    return f"{config.event.id}-{secrets.token_urlsafe(18)}@{config.organizer.domain}"


def make_renderer(config: Config) -> Renderer:
    return Renderer(
        config.templates_dir,
        default_language=config.contacts.default_language,
        label_root=config.root,
    )


class PlanError(MailerError):
    """A contact that cannot get this kind of message (for example an update without invitation)."""


def build_plan(
    config: Config,
    contacts: Sequence[Contact],
    spec: RoundSpec,
    *,
    now: dt.datetime,
    store: Store | None,
    reserve: bool = True,
    limit: int | None = None,
    suppressed: Collection[str] = (),
    renderer: Renderer | None = None,
) -> Plan:
    """Render and check every message of the round; reserve their journal rows when asked."""
    renderer = renderer or make_renderer(config)
    renderer.check(spec.template, {c.language for c in contacts})
    parts = attachment_parts(
        load_attachments(
            spec.attachments,
            max_mb=config.invitation.max_attachment_mb,
            label_root=config.root,
            key=spec.attachments_key,
        )
    )
    existing = store.journal.existing(spec.campaign, spec.round) if store else {}
    uids = store.journal.invitation_uids() if store and spec.campaign != Campaign.INVITATION else {}

    todo: list[Contact] = []
    done: list[JournalEntry] = []
    busy: list[JournalEntry] = []
    excluded: list[tuple[Contact, str]] = []
    blocked = {s.lower() for s in suppressed}
    for contact in contacts:
        row = existing.get(contact.email)
        if row is not None and row.state in FINAL_STATES:
            done.append(row)
        elif row is not None and row.state in BUSY_STATES:
            busy.append(row)
        elif contact.email.lower() in blocked:
            excluded.append((contact, "suppressed (opted out or address bounced)"))
        elif (
            spec.calendar_method
            and spec.campaign != Campaign.INVITATION
            and contact.email not in uids
        ):
            excluded.append((contact, "was never sent an invitation"))
        elif limit is not None and len(todo) >= limit:
            excluded.append((contact, f"over --limit {limit}"))
        else:
            todo.append(contact)

    wanted: dict[str, Reservation] = {}
    for contact in todo:
        row = existing.get(contact.email)
        if row is not None:
            wanted[contact.email] = Reservation(
                contact.email, contact.name, row.message_id, row.ics_uid, row.sequence
            )
            continue
        if spec.calendar_method is None:
            uid, seq = None, 0
        elif spec.campaign == Campaign.INVITATION:
            uid, seq = new_uid(config), spec.sequence
        else:
            uid, seq = uids[contact.email][0], spec.sequence
        wanted[contact.email] = Reservation(
            contact.email, contact.name, new_message_id(config), uid, seq
        )
    if store is not None and reserve and wanted:
        wanted = store.journal.reserve(spec.campaign, spec.round, list(wanted.values()), now)

    footer = Footer(config.organizer.privacy_url, config.organizer.unsubscribe_email)
    base = {**event_context(config), **spec.extra_context}
    items = tuple(
        render_one(config, renderer, spec, contact, wanted[contact.email], base, parts, footer, now)
        for contact in todo
    )
    return Plan(spec, items, tuple(done), tuple(busy), tuple(excluded))


_TEMPLATES: dict[tuple[int, str], tuple[Config, CalendarTemplate]] = {}


def _calendar_template(config: Config, method: Method) -> CalendarTemplate:
    """The shared part of the round's calendar object, built once per config and method."""
    key = (id(config), method)
    cached = _TEMPLATES.get(key)
    if cached is not None and cached[0] is config:
        return cached[1]
    ev = config.event
    template = calendar_template(
        CalendarInvite(
            uid="",
            sequence=0,
            method=method,
            summary=ev.title,
            location=ev.location,
            description=ev.description,
            start=ev.start,
            end=ev.end,
            zone=ev.zone,
            organizer_email=config.organizer.email,
            organizer_name=config.organizer.name,
            attendee_email="",
            attendee_name="",
            dtstamp=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),  # per recipient, not in the template
            url=ev.url,
        )
    )
    _TEMPLATES.clear()
    _TEMPLATES[key] = (config, template)
    return template


def render_one(
    config: Config,
    renderer: Renderer,
    spec: RoundSpec,
    contact: Contact,
    ids: Reservation,
    base: Mapping[str, Any],
    parts: Sequence[Any],
    footer: Footer,
    now: dt.datetime,
) -> Outgoing:
    rendered = renderer.render(
        spec.template, contact.language, {**base, "contact": contact_context(contact)}
    )
    calendar = None
    if spec.calendar_method is not None and ids.ics_uid is not None:
        calendar = _calendar_template(config, spec.calendar_method).render(
            uid=ids.ics_uid,
            sequence=ids.sequence,
            dtstamp=now,
            attendee_email=contact.email,
            attendee_name=contact.name,
        )
    headers: dict[str, str] = {}
    if config.organizer.unsubscribe_email:
        headers["List-Unsubscribe"] = (
            f"<mailto:{config.organizer.unsubscribe_email}?subject=unsubscribe>"
        )
    data = build_message(
        MessageSpec(
            from_name=config.organizer.name,
            from_email=config.organizer.email,
            to_name=contact.name,
            to_email=contact.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=ids.message_id,
            date=now,
            language=rendered.language,
            calendar=calendar,
            calendar_method=spec.calendar_method or "REQUEST",
            calendar_attachment=config.invitation.ics_attachment,
        ),
        attachments=parts,
        footer=footer,
        extra_headers=headers,
    )
    return Outgoing(
        campaign=spec.campaign,
        contact=contact,
        message_id=ids.message_id,
        ics_uid=ids.ics_uid,
        sequence=ids.sequence,
        sender=config.organizer.email,
        recipients=(contact.email,),
        subject=rendered.subject,
        data=data,
    )
