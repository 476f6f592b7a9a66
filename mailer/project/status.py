"""What ``mailer status`` reports: the event, the contacts and every round's counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mailer.config import Config
from mailer.contacts import ContactCounts, count_project_contacts, open_store
from mailer.invitations import followups_section, update_due_section
from mailer.models import Campaign, JournalEntry, State, StateCounts
from mailer.release import relays_section, release_section, schedule_section
from mailer.rsvp import rsvp_section
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
    problems: tuple[JournalEntry, ...]  # failed and in-doubt invitations (the first ones shown)
    extra: dict[str, Any] = field(default_factory=dict)  # other rounds add their own keys
    problem_count: int = -1  # all failed and in-doubt invitations (-1: len(problems))

    @property
    def problems_total(self) -> int:
        return len(self.problems) if self.problem_count < 0 else self.problem_count


PROBLEMS_SHOWN = 50  # failed / in-doubt invitations `mailer status` prints (--json lists all)

# The other areas' parts of the status, in the order `mailer status` shows them. Each returns its
# key and its numbers, or None when it has nothing to say yet.
StatusSection = Callable[[Config, Store], tuple[str, dict[str, Any]] | None]
SECTIONS: tuple[StatusSection, ...] = (
    followups_section,
    update_due_section,
    rsvp_section,
    release_section,
    relays_section,
)
# Sections that depend on the time now, shown after the others.
TimedSection = Callable[[Config, Store, dt.datetime], tuple[str, dict[str, Any]] | None]
TIMED_SECTIONS: tuple[TimedSection, ...] = (schedule_section,)


def collect_status(
    config: Config,
    contacts: ContactCounts,
    store: Store,
    *,
    now: dt.datetime,
    all_problems: bool = False,
) -> Status:
    """The counts come from SQL; of the failed and in-doubt rows only the ones shown are read
    (all of them with *all_problems*, for ``--json``); *now* for what is overdue."""
    journal = store.journal
    troubled = (State.FAILED, State.IN_DOUBT)
    limit = -1 if all_problems else PROBLEMS_SHOWN
    problems = tuple(journal.in_states(Campaign.INVITATION, troubled, limit))
    problem_count = (
        len(problems)
        if limit < 0 or len(problems) < limit
        else journal.count_in_states(Campaign.INVITATION, troubled)
    )
    # Contacts deliberately not invited: suppressed (opted out, bounced) and never journaled.
    blocked = {e.lower() for e in store.rsvps.suppressed_emails()}
    listed = blocked & contacts.keys
    not_invited = len(listed - journal.journaled(Campaign.INVITATION, listed)) if listed else 0
    counts = journal.counts(Campaign.INVITATION)
    extra: dict[str, Any] = {}
    for section in SECTIONS:
        found = section(config, store)
        if found is not None:
            extra[found[0]] = found[1]
    for timed in TIMED_SECTIONS:
        found = timed(config, store, now)
        if found is not None:
            extra[found[0]] = found[1]
    return Status(
        title=config.event.title,
        start=config.event.start,
        end=config.event.end,
        location=config.event.location,
        timezone=config.event.zone.key,
        contacts=contacts.valid,
        contact_errors=contacts.errors,
        transport=config.transport.kind,
        invitations=replace(counts, skipped=counts.skipped + not_invited),
        problems=problems,
        extra=extra,
        problem_count=problem_count,
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


def project_status(config: Config, *, now: dt.datetime, all_problems: bool = False) -> Status:
    """``mailer status``: contacts.csv counted, and every round's counts from the journal."""
    contacts = count_project_contacts(config)
    with open_store(config, read_only=True) as store:
        return collect_status(config, contacts, store, now=now, all_problems=all_problems)
