"""The plan of a round: who gets which fully rendered message, decided before anything is sent.

Preview, dry run, the pre-flight check and a real send all use :func:`build_plan`, so a
template error, a missing attachment or a bad row stops the batch before its first message.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailer.config import Config, EventConfig
from mailer.errors import MailerError
from mailer.messages.eventtext import Change, calendar_description, changes, event_vars
from mailer.messages.hints import Sources
from mailer.messages.ics import CalendarInvite, CalendarTemplate, Method, calendar_template
from mailer.messages.mime import (
    EncodedPart,
    Footer,
    MessageSpec,
    attachment_parts,
    build_segments,
    load_attachments,
)
from mailer.messages.render import Renderer
from mailer.messages.spool import SPOOL_MIN_MESSAGES, Spool
from mailer.models import Attachment, Campaign, Contact, Outgoing, SpooledBody, State
from mailer.store import Reservation, Store

PROGRESS_EVERY = 100  # messages rendered between two progress reports of build_plan

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
    # The event as the calendars held it before this round: an update tells what changed.
    previous_event: EventConfig | None = None


@dataclass(frozen=True)
class Plan:
    """The messages of a round. A large batch keeps their bytes in a spool file: :meth:`close`
    (or the end of the process) removes it."""

    spec: RoundSpec
    items: tuple[Outgoing, ...]  # to transmit now
    done: tuple[str, ...]  # addresses handled by an earlier run (sent, failed, in doubt, skipped)
    busy: tuple[str, ...]  # addresses being sent by another process right now
    excluded: tuple[tuple[Contact, str], ...]  # not sent, with the reason (suppressed, limit)
    spool: Spool | None = None

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()

    def __enter__(self) -> Plan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def invitation_spec(config: Config) -> RoundSpec:
    return RoundSpec(
        campaign=Campaign.INVITATION,
        round=0,
        template=config.invitation.template,
        calendar_method="REQUEST",
        attachments=config.invitation.attachments,
        attachments_key="[invitation] attachments",
    )


def event_context(config: Config, language: str | None = None) -> dict[str, Any]:
    """The template variables of the event and the organizer, the event's texts in *language*
    (default: the default language's)."""
    org = config.organizer
    return {
        "event": event_vars(config.event, language or config.contacts.default_language),
        "organizer": {
            "name": org.name,
            "email": org.email,
            "privacy_url": org.privacy_url,
            "unsubscribe_email": org.unsubscribe_email,
        },
        "release": {"embargo": config.release.embargo},
        "vars": dict(config.vars),
        "attachments": [],  # the file names the message carries (set per round)
        "changes": [],  # an update: what changed, {what, label, old, new} (set per round)
        "_zone": config.event.zone,
    }


class RoundParts:
    """What every message of a round shares, built once per round: the attachments (encoded
    once), the footer, and per language the template context and the calendar object."""

    def __init__(self, config: Config, spec: RoundSpec, attachments: Sequence[Attachment]) -> None:
        self.config = config
        self.spec = spec
        self.parts = attachment_parts(attachments)
        self.names = tuple(a.filename for a in attachments)
        self.footer = Footer(config.organizer.privacy_url, config.organizer.unsubscribe_email)
        self._contexts: dict[str, Mapping[str, Any]] = {}
        self._calendars: dict[tuple[str, Method], CalendarTemplate] = {}

    @classmethod
    def load(cls, config: Config, spec: RoundSpec) -> RoundParts:
        """Read the round's attachments (one clear line for a missing or large file)."""
        attachments = load_attachments(
            spec.attachments,
            max_mb=config.invitation.max_attachment_mb,
            label_root=config.root,
            key=spec.attachments_key,
        )
        return cls(config, spec, attachments)

    def changes(self, language: str) -> tuple[Change, ...]:
        previous = self.spec.previous_event
        return () if previous is None else changes(previous, self.config.event, language)

    def context(self, language: str) -> Mapping[str, Any]:
        """The variables of a message in *language* (everything but ``contact``)."""
        found = self._contexts.get(language)
        if found is None:
            found = self._contexts[language] = {
                **event_context(self.config, language),
                "attachments": list(self.names),
                "changes": [c.as_dict() for c in self.changes(language)],
                **self.spec.extra_context,
            }
        return found

    def calendar(self, language: str, method: Method) -> CalendarTemplate:
        """The shared part of the calendar object in *language*, built once per round."""
        found = self._calendars.get((language, method))
        if found is None:
            found = self._calendars[language, method] = self._calendar(language, method)
        return found

    def _calendar(self, language: str, method: Method) -> CalendarTemplate:
        config = self.config
        ev = config.event
        text = ev.text(language)
        return calendar_template(
            CalendarInvite(
                uid="",
                sequence=0,
                method=method,
                summary=text.title,
                location=text.location,
                description=calendar_description(
                    text, language, attachments=self.names, changed=self.changes(language)
                ),
                start=ev.start,
                end=ev.end,
                zone=ev.zone,
                organizer_email=config.organizer.email,
                organizer_name=config.organizer.name,
                attendee_email="",
                attendee_name="",
                dtstamp=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),  # per recipient
                url=text.url,
                language=language,
            )
        )


def contact_context(contact: Contact) -> dict[str, Any]:
    """``contact`` in templates: every field, always defined ("" when empty), and the file's
    other columns by their names."""
    values: dict[str, Any] = dict(contact.fields)
    values.update(
        email=contact.email,
        name=contact.name,
        first_name=contact.first_name,
        last_name=contact.last_name,
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
        sources=Sources(
            config=config.path.name, contacts=_label(config.contacts.file, config.root)
        ),
    )


def _label(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


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
    progress: Callable[[int, int], None] | None = None,
) -> Plan:
    """Render and check every message of the round; reserve their journal rows when asked.
    *progress* is told (messages rendered, messages to render) at the start, every
    :data:`PROGRESS_EVERY` messages and at the end."""
    renderer = renderer or make_renderer(config)
    renderer.check(spec.template, {c.language for c in contacts})
    shared = RoundParts.load(config, spec)
    states = store.journal.states(spec.campaign, spec.round) if store else {}
    uids = store.journal.invitation_uids() if store and spec.campaign != Campaign.INVITATION else {}

    todo: list[Contact] = []
    done: list[str] = []
    busy: list[str] = []
    excluded: list[tuple[Contact, str]] = []
    blocked = {s.lower() for s in suppressed}
    pending = False
    for contact in contacts:
        state = states.get(contact.email)
        if state in FINAL_STATES:
            done.append(contact.email)
        elif state in BUSY_STATES:
            busy.append(contact.email)
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
            pending = pending or state is not None
    del states
    # Rows already reserved (a run that stopped before sending them) keep their identifiers.
    stored = store.journal.pending(spec.campaign, spec.round) if store and pending else {}

    def planned(contact: Contact) -> Reservation:
        row = stored.get(contact.email)
        if row is not None:
            return row
        if spec.calendar_method is None:
            uid, seq = None, 0
        elif spec.campaign == Campaign.INVITATION:
            uid, seq = new_uid(config), spec.sequence
        else:
            uid, seq = uids[contact.email][0], spec.sequence
        return Reservation(contact.email, contact.name, new_message_id(config), uid, seq)

    ids: Callable[[Contact], Reservation] = planned
    if store is not None and reserve and todo:
        # The rows are reserved before anything is rendered; the identifiers stored win.
        wanted = {c.email: planned(c) for c in todo}
        wanted.update(
            store.journal.reserve_planned(spec.campaign, spec.round, wanted.values(), now)
        )
        ids = lambda contact: wanted.pop(contact.email)  # noqa: E731 - one use, below

    spool = Spool(config.store_path.parent) if len(todo) >= SPOOL_MIN_MESSAGES else None
    keep = Keeper(spool)
    try:
        rendered: list[Outgoing] = []
        total = len(todo)
        if progress is not None:
            progress(0, total)
        for contact in todo:
            rendered.append(
                render_one(config, renderer, spec, contact, ids(contact), shared, now, keep=keep)
            )
            if progress is not None and (
                len(rendered) % PROGRESS_EVERY == 0 or len(rendered) == total
            ):
                progress(len(rendered), total)
        items = tuple(rendered)
        if spool is not None:
            spool.flush()
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    return Plan(spec, items, tuple(done), tuple(busy), tuple(excluded), spool)


class Keeper:
    """Where the rendered messages of a plan are kept: in memory, or (a large batch) each
    message's own bytes in the spool and the shared parts (attachments) once in memory.
    Equal subjects are kept as one string."""

    def __init__(self, spool: Spool | None = None) -> None:
        self.spool = spool
        self._subjects: dict[str, str] = {}

    def subject(self, text: str) -> str:
        return self._subjects.setdefault(text, text)

    def body(
        self, segments: tuple[bytes, ...], shared: Sequence[EncodedPart]
    ) -> bytes | SpooledBody:
        if self.spool is None:
            return segments[0] if len(segments) == 1 else b"".join(segments)
        if len(segments) == 1:  # no attachment: one run, its length stored once
            size = len(segments[0])
            return SpooledBody(self.spool, self.spool.append(segments[0]), size, size)
        ids = {id(part.data) for part in shared}
        layout: list[int | bytes] = []
        offset = -1
        size = 0
        for piece in segments:
            size += len(piece)
            if id(piece) in ids:
                layout.append(piece)
                continue
            at = self.spool.append(piece)
            offset = at if offset < 0 else offset
            layout.append(len(piece))
        return SpooledBody(self.spool, max(offset, 0), tuple(layout), size)


def render_one(
    config: Config,
    renderer: Renderer,
    spec: RoundSpec,
    contact: Contact,
    ids: Reservation,
    shared: RoundParts,
    now: dt.datetime,
    *,
    keep: Keeper | None = None,
) -> Outgoing:
    """One contact's message: the templates, the event and the calendar in the language of
    the templates the contact gets (theirs, else the default language's)."""
    keep = keep or Keeper()
    language = renderer.language_for(spec.template, contact.language)
    rendered = renderer.render(
        spec.template,
        contact.language,
        {**shared.context(language), "contact": contact_context(contact)},
    )
    calendar = None
    if spec.calendar_method is not None and ids.ics_uid is not None:
        calendar = shared.calendar(language, spec.calendar_method).render(
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
    segments = build_segments(
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
        attachments=shared.parts,
        footer=shared.footer,
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
        subject=keep.subject(rendered.subject),
        body=keep.body(segments, shared.parts),
    )
