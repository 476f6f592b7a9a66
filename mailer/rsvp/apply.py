"""Ingest classified replies into the store: match them to invitations, apply, or send to review.

What each message means is decided in :mod:`.outcomes` (which contact, apply or review);
this module reads the messages within their budget and records them in groups.

Each message is recorded once (by key), so importing the same mail again changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass

from mailer.rsvp.budget import BudgetReader, ReadLimits
from mailer.rsvp.match import Matcher
from mailer.rsvp.outcomes import Outcome, plan_for
from mailer.rsvp.results import Classification, Kind
from mailer.store import MessageOutcome, ReviewItem, Rsvps, Store


@dataclass(frozen=True)
class IngestItem:
    source: str  # "replies/a.eml", "inbox.mbox#3", "imap:INBOX/17"
    key: str
    kind: Kind
    outcome: Outcome
    contact: str  # the matched contact's email, "" when none
    detail: str  # one line for the console


@dataclass(frozen=True)
class IngestReport:
    items: tuple[IngestItem, ...]
    reviews: tuple[ReviewItem, ...]  # review items created by this run

    @property
    def kinds(self) -> Mapping[str, int]:
        """Messages per kind (duplicates not counted)."""
        return dict(Counter(i.kind.value for i in self.items if i.outcome != Outcome.DUPLICATE))

    @property
    def outcomes(self) -> Mapping[str, int]:
        return dict(Counter(i.outcome.value for i in self.items))

    @property
    def handled_sources(self) -> tuple[str, ...]:
        """Sources of messages that belong to the RSVP round (for moving them away)."""
        return tuple(
            i.source
            for i in self.items
            if i.kind is not Kind.UNKNOWN
            and (i.contact or i.kind in (Kind.CALENDAR_REPLY, Kind.BOUNCE))
        )


Progress = Callable[[int, int], None]
Written = Callable[[Sequence[str]], None]  # the sources of a group just committed


BATCH_MESSAGES = 200  # messages written per transaction (classified before it opens)


def ingest(
    raw_messages: Iterable[tuple[str, bytes]],
    *,
    store: Store,
    now: dt.datetime,
    speakers: Sequence[str] = (),
    progress: Progress | None = None,
    limits: ReadLimits | None = None,
    sizes: Mapping[str, int] | None = None,
    written: Written | None = None,
) -> IngestReport:
    """Classify each (source, bytes) once, match it, and record the result in the store.

    Messages are classified in groups of :data:`BATCH_MESSAGES`, then each group is matched and
    written in one transaction (a group is recorded whole or not at all, so a run that stops
    half-way leaves a consistent store and the next run goes on from there); *written* is told
    the sources of each group once it is committed. What was read before an input error is still
    recorded before the error goes up.

    Each message is read in a worker process within *limits* (:mod:`.budget`): one that takes
    longer, or is larger, goes to review as "too complex to read" / "too large to read". *sizes*
    gives the real size of messages of which only the start was read (IMAP, headers only).
    """
    rsvps = store.rsvps
    matcher = Matcher(store)
    items: list[IngestItem] = []
    total = len(raw_messages) if isinstance(raw_messages, Sized) else 0
    pending: list[tuple[str, Classification]] = []

    known = sizes if sizes is not None else {}  # may be filled as the messages are read

    def write() -> None:
        group = pending[:]
        pending.clear()
        with rsvps.batch():
            items.extend(_one(source, c, rsvps, matcher, now) for source, c in group)
        if written is not None:
            written([source for source, _c in group])

    with BudgetReader(limits or ReadLimits(), speakers=speakers) as reader:
        try:
            for done, (source, raw) in enumerate(raw_messages, start=1):
                pending.append((source, reader.classify(raw, size=known.get(source))))
                if len(pending) >= BATCH_MESSAGES:
                    write()
                if progress is not None:
                    progress(max(total, done), done)
        finally:
            if pending:
                write()
    recorded = {i.key for i in items if i.outcome is not Outcome.DUPLICATE}
    reviews = tuple(r for r in rsvps.reviews(open_only=False) if r.message_key in recorded)
    return IngestReport(tuple(items), reviews)


def _one(
    source: str, c: Classification, rsvps: Rsvps, matcher: Matcher, now: dt.datetime
) -> IngestItem:
    env = c.envelope
    before = rsvps.processed(env.key)
    if before is not None:
        return IngestItem(
            source,
            env.key,
            c.kind,
            Outcome.DUPLICATE,
            before.email or "",
            f"seen before ({before.source})",
        )
    plan = plan_for(c, matcher, now)
    recorded = rsvps.record(
        MessageOutcome(
            key=env.key,
            source=source,
            kind=c.kind.value,
            outcome=plan.outcome.value,
            email=plan.email,
            message_id=env.message_id,
            sender=env.sender,
            subject=env.subject,
            details=details_json(c),
            received_at=env.date,
            answers=tuple(plan.answers),
            bounces=tuple(plan.bounces),
            reviews=tuple(plan.reviews),
        ),
        now,
    )
    outcome = plan.outcome
    if recorded.duplicate:
        outcome = Outcome.DUPLICATE
    elif plan.answers and not recorded.applied:
        outcome = Outcome.SUPERSEDED
    return IngestItem(source, env.key, c.kind, outcome, plan.email or "", plan.detail)


def details_json(c: Classification) -> str:
    """The classification as JSON for the record (dates ISO, enums as their values).

    The same text as ``json.dumps(dataclasses.asdict(c), ...)``, without its deep copies.
    """
    return json.dumps(_plain(c), ensure_ascii=False, default=_json_default, sort_keys=True)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _plain(value: object) -> object:
    """Dataclasses as dicts and tuples as lists, recursively; other values as they are."""
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    kind = type(value)
    names = _FIELDS.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(value):
            return value
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
    return {name: _plain(getattr(value, name)) for name in names}


def _json_default(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)
