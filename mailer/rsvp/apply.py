"""Ingest classified replies into the store: match them to invitations, apply, or send to review.

Matching rules (:mod:`.match`):

- a calendar reply is matched by its UID only (per-recipient UIDs identify the contact); a UID
  that matches no invitation goes to review and is never applied to anyone, even when the sender
  is a contact;
- a text reply, auto-reply or unsubscribe request is matched by In-Reply-To / References to an
  invitation's Message-ID, else by the sender's address;
- an answer is applied only when the sender's real address (read from the raw ``From:``) is the
  matched contact's own; otherwise it goes to review ("sent from x, not from y"), and an
  unsubscribe request from another address only ever offers to suppress that address;
- a bounce marks only an address it reports, that an invitation went to, and only when it comes
  from a mail server or returns that very invitation's Message-ID.

Each message is recorded once (by key), so importing the same mail again changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field

from mailer.rsvp.budget import BudgetReader, ReadLimits
from mailer.rsvp.match import Matcher, bounce_doubt, sender_mismatch
from mailer.rsvp.results import CalendarAnswer, Classification, Kind
from mailer.rsvp.text import read_text_answer
from mailer.store import (
    AnswerUpdate,
    BounceRecord,
    MessageOutcome,
    ReviewDraft,
    ReviewItem,
    Rsvps,
    Store,
)


class ReviewKind(enum.StrEnum):
    """Why an item waits for the officer."""

    UNMATCHED_CALENDAR = "unmatched_calendar"  # a REPLY whose UID matches no invitation
    UNCLEAR_TEXT = "unclear_text"  # a contact's reply that is not clearly yes / no / maybe
    UNMATCHED_TEXT = "unmatched_text"  # a clear answer from someone not invited
    QUESTION = "question"  # a contact's answer that also asks something
    CONFLICT = "conflict"  # a calendar button and its comment disagree
    DELEGATED = "delegated"  # PARTSTAT=DELEGATED: someone else may come instead
    UNSUBSCRIBE = "unsubscribe"  # an opt-out request: suppress after review
    SUPPRESS = "suppress"  # a permanent address failure (5.1.x): offer suppression
    UNMATCHED_BOUNCE = "unmatched_bounce"  # a failure that names no invitation or contact
    UNREADABLE = "unreadable"  # mail that could not be read (broken MIME or iCalendar, TNEF)
    OTHER_SENDER = "other_sender"  # an answer about a contact, not sent from the contact's address
    SUSPECT_BOUNCE = "suspect_bounce"  # a failure report that does not come from a mail server


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # an answer was recorded for a contact
    SUPERSEDED = "superseded"  # an older answer than the stored one: kept on record only
    BOUNCED = "bounced"  # a failed delivery recorded for a contact
    NOTED = "noted"  # auto-reply, delay notice, unrelated mail: recorded, nothing changes
    REVIEW = "review"  # waits for the officer
    DUPLICATE = "duplicate"  # processed before: nothing written


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


@dataclass
class _Plan:
    email: str | None = None
    outcome: Outcome = Outcome.NOTED
    detail: str = ""
    answers: list[AnswerUpdate] = field(default_factory=list)
    bounces: list[BounceRecord] = field(default_factory=list)
    reviews: list[ReviewDraft] = field(default_factory=list)


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

    known = sizes or {}

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
    plan = _plan(c, matcher, now)
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


def _plan(c: Classification, matcher: Matcher, now: dt.datetime) -> _Plan:
    env = c.envelope
    if c.kind is Kind.CALENDAR_REPLY:
        return _calendar_plan(c, matcher, now)
    if c.kind is Kind.BOUNCE:
        return _bounce_plan(c, matcher)
    contact = matcher.by_ids(c.message_ids) or matcher.by_address(env.sender)
    doubt = sender_mismatch(contact, env) if contact else ""
    if c.kind is Kind.TEXT_REPLY and c.text is not None:
        return _text_plan(c, contact, doubt, now)
    if c.kind is Kind.AUTO_REPLY:
        return _Plan(contact, Outcome.NOTED, f"auto-reply ({c.reason})")
    if c.kind is Kind.UNSUBSCRIBE:
        reason = f"asks to be removed: {c.reason}"
        if doubt:  # only ever the sender's own address can be suppressed from here
            target = env.sender or "an address you type"
            reason = f"{reason}; {doubt}: suppressing acts on {target} only"
        draft = ReviewDraft(
            ReviewKind.UNSUBSCRIBE, "" if doubt else contact or "", env.sender, reason, c.lines
        )
        return _Plan(contact, Outcome.REVIEW, "unsubscribe request", reviews=[draft])
    if c.kind is Kind.UNREADABLE:
        reason = f"{c.reason}; {doubt}" if doubt else c.reason
        draft = ReviewDraft(
            ReviewKind.UNREADABLE, "" if doubt else contact or "", env.sender, reason, c.lines
        )
        return _Plan(contact, Outcome.REVIEW, f"unreadable: {c.reason}", reviews=[draft])
    return _Plan(contact, Outcome.NOTED, c.reason or "not related to the invitation")


def _calendar_plan(c: Classification, matcher: Matcher, now: dt.datetime) -> _Plan:
    env = c.envelope
    plan = _Plan()
    for reply in c.calendar:
        contact, why = matcher.by_uid(reply.uid, reply.attendee, env.sender)
        lines = (
            f"UID: {reply.uid}",
            f"ATTENDEE: {reply.attendee}",
            f"PARTSTAT: {reply.partstat.value}",
            *([reply.comment] if reply.comment else ()),
        )
        if contact is None:
            plan.reviews.append(
                ReviewDraft(ReviewKind.UNMATCHED_CALENDAR, "", env.sender, why, lines)
            )
            continue
        plan.email = plan.email or contact
        doubt = sender_mismatch(contact, env)
        if doubt:
            said = _describe_calendar(reply)
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.OTHER_SENDER, contact, env.sender, f"{doubt}; it says {said}", lines
                )
            )
            continue
        status = reply.answer
        if status is None:
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.DELEGATED,
                    contact,
                    env.sender,
                    f"delegated to {reply.delegated_to or 'someone else'}",
                    lines,
                )
            )
            continue
        extras = read_text_answer(reply.comment.splitlines()) if reply.comment else None
        if extras is not None and extras.answer is not None and extras.answer != status:
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.CONFLICT,
                    contact,
                    env.sender,
                    f"the button says {status.value}, the comment says {extras.answer.value}",
                    lines,
                )
            )
        guests = reply.guests if reply.guests is not None else (extras.guests if extras else None)
        plan.answers.append(
            AnswerUpdate(
                email=contact,
                status=status.value,
                source="calendar",
                stamp=_clamp(reply.dtstamp or env.date, now),
                guests=guests,
                lunch=extras.lunch if extras else None,
                interview=", ".join(extras.interview) if extras else "",
                note=reply.comment[:500],
                sequence=reply.sequence,
                from_address=env.sender,
                message_key=env.key,
            )
        )
    if plan.answers:
        plan.outcome = Outcome.APPLIED
        plan.detail = ", ".join(_describe_calendar(r) for r in c.calendar)
    elif plan.reviews:
        plan.outcome = Outcome.REVIEW
        plan.detail = plan.reviews[0].reason
    return plan


def _text_plan(c: Classification, contact: str | None, doubt: str, now: dt.datetime) -> _Plan:
    assert c.text is not None
    env, text = c.envelope, c.text
    if contact is None:
        if text.answer is None:
            return _Plan(None, Outcome.NOTED, "a reply from someone not invited, no answer")
        draft = ReviewDraft(
            ReviewKind.UNMATCHED_TEXT,
            "",
            env.sender,
            f"says {text.answer.value} but matches no invitation",
            text.lines,
        )
        return _Plan(None, Outcome.REVIEW, draft.reason, reviews=[draft])
    if doubt:
        said = f"it says {_describe_text(c)}" if text.answer is not None else text.reason
        reason = f"{doubt}; {said}" if said else doubt
        draft = ReviewDraft(ReviewKind.OTHER_SENDER, contact, env.sender, reason, text.lines)
        return _Plan(contact, Outcome.REVIEW, reason, reviews=[draft])
    if text.answer is None:
        draft = ReviewDraft(ReviewKind.UNCLEAR_TEXT, contact, env.sender, text.reason, text.lines)
        return _Plan(contact, Outcome.REVIEW, text.reason, reviews=[draft])
    plan = _Plan(contact, Outcome.APPLIED, _describe_text(c))
    plan.answers.append(
        AnswerUpdate(
            email=contact,
            status=text.answer.value,
            source="text",
            stamp=_clamp(env.date, now),
            guests=text.guests,
            lunch=text.lunch,
            interview=", ".join(text.interview),
            note=" ".join(text.lines)[:500],
            from_address=env.sender,
            message_key=env.key,
        )
    )
    if text.questions:
        reason = (
            f"the reply asks something; its answer ({text.answer.value}) is recorded already, "
            "so only the question waits: reply, then choose ignore"
        )
        plan.reviews.append(
            ReviewDraft(ReviewKind.QUESTION, contact, env.sender, reason, text.questions)
        )
    return plan


def _bounce_plan(c: Classification, matcher: Matcher) -> _Plan:
    assert c.bounce is not None
    env, report = c.envelope, c.bounce
    by_id = matcher.by_ids((report.original_message_id,) if report.original_message_id else ())
    plan = _Plan(by_id)
    recipients = report.recipients
    for r in recipients:
        reported = [a for a in (r.address, r.original) if a]
        contact = next((m for m in map(matcher.by_address, reported) if m), None)
        if not r.failed:
            plan.detail = plan.detail or f"{r.action or 'notice'} {r.status} for {r.address}"
            plan.email = plan.email or contact
            continue
        if contact is None:
            reason = (
                f"the report about the invitation to {by_id} names {r.address}, to which no "
                "invitation went: nothing was marked"
                if by_id
                else f"delivery to {r.address} failed ({r.status or 'no status'}), "
                "no invitation found"
            )
            plan.reviews.append(
                ReviewDraft(ReviewKind.UNMATCHED_BOUNCE, "", env.sender, reason, c.lines)
            )
            continue
        doubt = bounce_doubt(report, r, by_id == contact, env)
        if doubt:
            plan.reviews.append(
                ReviewDraft(ReviewKind.SUSPECT_BOUNCE, contact, env.sender, doubt, c.lines)
            )
            continue
        plan.email = plan.email or contact
        plan.bounces.append(
            BounceRecord(
                contact, r.address, r.status, r.action or "failed", r.diagnostic, r.permanent
            )
        )
        if r.address_failure:
            plan.reviews.append(
                ReviewDraft(
                    ReviewKind.SUPPRESS,
                    contact,
                    env.sender,
                    f"the address does not exist ({r.status}): suppress {contact}?",
                    (r.diagnostic,),
                )
            )
    if not recipients and by_id and report.from_server:
        plan.bounces.append(
            BounceRecord(by_id, by_id, "", "failed", "no recipient in report", False)
        )
    elif not recipients:
        plan.reviews.append(
            ReviewDraft(
                ReviewKind.UNMATCHED_BOUNCE,
                "",
                env.sender,
                "a delivery failure naming no recipient",
                c.lines,
            )
        )
    if plan.bounces:
        plan.outcome = Outcome.BOUNCED
        plan.detail = "; ".join(f"{b.recipient} {b.status}".strip() for b in plan.bounces)
    elif plan.reviews:
        plan.outcome, plan.detail = Outcome.REVIEW, plan.reviews[0].reason
    return plan


def _describe_calendar(reply: CalendarAnswer) -> str:
    extra = f" +{reply.guests}" if reply.guests else ""
    return f"{reply.partstat.value}{extra} ({reply.attendee})"


def _describe_text(c: Classification) -> str:
    assert c.text is not None and c.text.answer is not None
    parts = [c.text.answer.value]
    if c.text.guests:
        parts.append(f"+{c.text.guests} {'/'.join(c.text.guest_roles)}".strip())
    if c.text.lunch is not None:
        parts.append("lunch" if c.text.lunch else "no lunch")
    parts.extend(f"interview: {w}" for w in c.text.interview)
    return ", ".join(parts)


def _clamp(when: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """A time stamp from the sender, never later than now (a future stamp would lock answers)."""
    return now if when is None or when > now else when


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
