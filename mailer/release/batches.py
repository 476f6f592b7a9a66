"""Bcc mode: one message to the organizer, the journalists only in the envelope (never a header).

Each journalist keeps their own journal row. The rows are put into batches of at most
``[smtp] recipients_per_message`` (outbox: 100) of one language, once, in one transaction
(:meth:`mailer.store.release.Releases.assign_batches`); a row never changes batch. A batch
message carries the batch's own Message-ID, and :class:`~mailer.store.ReleaseJournal`
claims and marks all rows of a batch together, so a batch is sent once or not at all, and a
contact added later goes into a new batch.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mailer.config import Config
from mailer.errors import TemplateError
from mailer.messages import (
    BUSY_STATES,
    FINAL_STATES,
    Footer,
    Renderer,
    RoundSpec,
    attachment_parts,
    event_context,
    load_attachments,
    make_renderer,
    new_message_id,
    render_one,
)
from mailer.models import Campaign, Contact, Outgoing, State
from mailer.store import BatchRequest, Reservation, Store

OUTBOX_BATCH = 100
ROUND = 0


def batch_size(config: Config) -> int:
    if config.transport.kind == "smtp" and config.smtp is not None:
        return config.smtp.recipients_per_message
    return OUTBOX_BATCH


def bcc_contacts(config: Config, contacts: Sequence[Contact]) -> tuple[Contact, ...]:
    """Whom a Bcc release is rendered for: the organizer, once per language of *contacts*."""
    return tuple(organizer_contact(config, lang) for lang in sorted({c.language for c in contacts}))


def organizer_contact(config: Config, language: str) -> Contact:
    """The visible recipient of a Bcc message: the organizer."""
    org = config.organizer
    return Contact(email=org.email, name=org.name, outlet="", language=language, tags=(), line=0)


@dataclass(frozen=True)
class _Eligible:
    todo: tuple[Contact, ...]
    excluded: tuple[tuple[str, str], ...]
    done: int


def _eligible(store: Store, contacts: Sequence[Contact], blocked: Sequence[str]) -> _Eligible:
    states = store.journal.states(Campaign.RELEASE, ROUND)
    skip = {b.lower() for b in blocked}
    todo: list[Contact] = []
    excluded: list[tuple[str, str]] = []
    done = 0
    for c in contacts:
        state = states.get(c.email)
        if state in FINAL_STATES or state in BUSY_STATES:
            done += 1
        elif c.key in skip:
            excluded.append((c.email, "suppressed (opted out or address bounced)"))
        else:
            todo.append(c)
    return _Eligible(tuple(todo), tuple(excluded), done)


_BCC_HINT = (
    "in Bcc mode every journalist gets the same message, so the release template cannot use "
    "contact fields such as contact.name or contact.first_name"
)


class _BatchRenderer:
    """Renders the one message of a batch (what build_plan does for one contact)."""

    def __init__(self, config: Config, spec: RoundSpec) -> None:
        self.config = config
        self.spec = spec
        self.renderer: Renderer = make_renderer(config)
        self.parts = attachment_parts(
            load_attachments(
                spec.attachments,
                max_mb=config.invitation.max_attachment_mb,
                label_root=config.root,
                key=spec.attachments_key,
            )
        )
        self.footer = Footer(config.organizer.privacy_url, config.organizer.unsubscribe_email)
        self.base: dict[str, Any] = {**event_context(config), **spec.extra_context}

    def language(self, contact: Contact) -> str:
        return self.renderer.language_for(self.spec.template, contact.language)

    def check(self, languages: set[str]) -> None:
        """Every language's template compiles and renders without a contact: every field of
        a contact is defined (empty when unknown), so using one would not fail otherwise."""
        self.renderer.check(self.spec.template, languages)
        for language in sorted(languages):
            try:
                self.renderer.render(self.spec.template, language, self.base)
            except TemplateError as exc:
                raise TemplateError.at(exc.file, exc.line, exc.problem, _BCC_HINT) from None

    def render(self, language: str, message_id: str, now: dt.datetime) -> Outgoing:
        org = organizer_contact(self.config, language)
        ids = Reservation(org.email, org.name, message_id, None, 0)
        # a template that uses contact fields fails with the Bcc hint (release_spec's BCC_KEY)
        return render_one(
            self.config, self.renderer, self.spec, org, ids, self.base, self.parts, self.footer, now
        )


@dataclass(frozen=True)
class BccCheck:
    recipients: int
    messages: int
    subject: str
    by_language: dict[str, int]
    excluded: tuple[tuple[str, str], ...]
    done: int


def bcc_check(
    config: Config,
    store: Store,
    contacts: Sequence[Contact],
    spec: RoundSpec,
    *,
    now: dt.datetime,
    blocked: Sequence[str],
    size: int,
) -> BccCheck:
    """Render one message per language and count the batches (nothing is stored)."""
    eligible = _eligible(store, contacts, blocked)
    batch = _BatchRenderer(config, spec)
    langs = Counter(batch.language(c) for c in eligible.todo)
    batch.check(set(langs))
    subject = ""
    for language in sorted(langs):
        item = batch.render(language, new_message_id(config), now)
        subject = subject or item.subject
    return BccCheck(
        recipients=len(eligible.todo),
        messages=sum(math.ceil(n / size) for n in langs.values()),
        subject=subject,
        by_language=dict(sorted(langs.items())),
        excluded=eligible.excluded,
        done=eligible.done,
    )


def bcc_items(
    config: Config,
    store: Store,
    contacts: Sequence[Contact],
    spec: RoundSpec,
    *,
    now: dt.datetime,
    render_now: dt.datetime,
    blocked: Sequence[str],
    size: int,
) -> tuple[list[Outgoing], dict[str, tuple[str, ...]]]:
    """The batch messages to send and, for each, the journal rows it stands for."""
    eligible = _eligible(store, contacts, blocked)
    batch = _BatchRenderer(config, spec)
    batch.check({batch.language(c) for c in eligible.todo})
    store.journal.reserve(
        Campaign.RELEASE,
        ROUND,
        [Reservation(c.email, c.name, new_message_id(config), None, 0) for c in eligible.todo],
        now,
    )
    rows = store.journal.existing(Campaign.RELEASE, ROUND)
    requests = [
        BatchRequest(c.email, rows[c.email].message_id, batch.language(c))
        for c in eligible.todo
        if rows[c.email].state is State.PENDING
    ]
    batches = store.releases.assign_batches(
        requests, size=size, new_message_id=lambda: new_message_id(config), now=now
    )
    wanted = {r.row_message_id for r in requests}
    items: list[Outgoing] = []
    mapping: dict[str, tuple[str, ...]] = {}
    for b in batches:
        members = [m for m in b.members if m.row_message_id in wanted]
        if not members:
            continue
        item = batch.render(b.language, b.message_id, render_now)
        items.append(replace(item, recipients=tuple(m.email for m in members)))
        mapping[b.message_id] = tuple(m.row_message_id for m in members)
    return items, mapping
