"""What ``mailer status`` reports: the event, the contacts and every round's counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mailer.config import Config
from mailer.contacts import ContactBook
from mailer.models import Campaign, JournalEntry, State, StateCounts
from mailer.store import Store


@dataclass(frozen=True)
class Status:
    title: str
    start: dt.datetime
    end: dt.datetime
    location: str
    timezone: str
    contacts: int
    contact_errors: int
    transport: str
    invitations: StateCounts
    problems: tuple[JournalEntry, ...]  # failed and in-doubt invitations, with reasons
    extra: dict[str, Any] = field(default_factory=dict)  # other rounds add their own keys


PROBLEMS_SHOWN = 50  # failed / in-doubt invitations `mailer status` prints (--json lists all)

# Other areas (release, rsvp) register a function that adds their part of the status.
StatusSection = Callable[[Config, Store], tuple[str, dict[str, Any]] | None]
SECTIONS: list[StatusSection] = []


def collect_status(config: Config, book: ContactBook, store: Store) -> Status:
    journal = store.journal
    problems = tuple(journal.in_states(Campaign.INVITATION, (State.FAILED, State.IN_DOUBT)))
    # Contacts deliberately not invited: suppressed (opted out, bounced) and never journaled.
    blocked = {e.lower() for e in store.rsvps.suppressed_emails()}
    listed = {c.key for c in book.contacts if c.key in blocked}
    not_invited = len(listed - journal.journaled(Campaign.INVITATION, listed)) if listed else 0
    counts = journal.counts(Campaign.INVITATION)
    import mailer.release_status  # noqa: F401  (registers the "release" sections)

    extra: dict[str, Any] = {}
    for section in SECTIONS:
        found = section(config, store)
        if found is not None:
            extra[found[0]] = found[1]
    return Status(
        title=config.event.title,
        start=config.event.start,
        end=config.event.end,
        location=config.event.location,
        timezone=config.event.zone.key,
        contacts=len(book.contacts),
        contact_errors=len(book.errors),
        transport=config.transport.kind,
        invitations=replace(counts, skipped=counts.skipped + not_invited),
        problems=problems,
        extra=extra,
    )


def status_json(status: Status) -> dict[str, Any]:
    return {
        "event": {
            "title": status.title,
            "start": status.start.isoformat(),
            "end": status.end.isoformat(),
            "location": status.location,
            "timezone": status.timezone,
        },
        "contacts": {"valid": status.contacts, "errors": status.contact_errors},
        "transport": status.transport,
        "invitations": status.invitations.as_dict(),
        "problems": [
            {"email": e.email, "state": e.state.value, "error": e.last_error}
            for e in status.problems
        ],
        **status.extra,
    }
