"""Value types of the rsvp tables (frozen dataclasses) and the rows they are made from.

:mod:`mailer.store.rsvp` runs the queries and fills them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerUpdate:
    """An answer to record. ``None`` extras keep what was stored before."""

    email: str  # the contact (as in the journal)
    status: str  # yes / no / maybe
    source: str  # calendar / text / manual
    stamp: dt.datetime  # DTSTAMP, the reply's Date, or now for manual answers
    guests: int | None = None
    lunch: bool | None = None
    interview: str = ""
    note: str = ""
    sequence: int | None = None  # calendar replies only
    from_address: str = ""  # the address that answered, when not the contact's own
    message_key: str = ""


@dataclass(frozen=True)
class RsvpAnswer:
    email: str
    status: str
    guests: int
    lunch: bool | None
    interview: str
    note: str
    source: str
    stamp: dt.datetime
    sequence: int | None
    from_address: str
    message_key: str
    updated_at: dt.datetime


@dataclass(frozen=True)
class ReviewDraft:
    kind: str  # see mailer.rsvp.outcomes.ReviewKind
    email: str  # the contact when known, else ""
    sender: str
    reason: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewItem:
    id: int
    message_key: str
    kind: str
    email: str
    sender: str
    reason: str
    lines: tuple[str, ...]
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str


@dataclass(frozen=True)
class BounceRecord:
    email: str  # the contact (or the failed address when no contact matched)
    recipient: str
    status: str
    action: str
    diagnostic: str
    permanent: bool
    message_key: str = ""
    received_at: dt.datetime | None = None


@dataclass(frozen=True)
class MessageOutcome:
    """Everything one processed message writes, stored in one transaction."""

    key: str
    source: str  # file path, "imap:INBOX/17", ...
    kind: str
    outcome: str
    email: str | None  # the matched contact
    message_id: str
    sender: str
    subject: str
    details: str  # JSON
    received_at: dt.datetime | None
    answers: tuple[AnswerUpdate, ...] = ()
    bounces: tuple[BounceRecord, ...] = ()
    reviews: tuple[ReviewDraft, ...] = ()


@dataclass(frozen=True)
class Recorded:
    duplicate: bool  # the key was already recorded: nothing was written
    applied: int  # answers that replaced the stored one
    superseded: int  # answers older than the stored one (kept in the message record only)


@dataclass(frozen=True)
class ProcessedMessage:
    key: str
    source: str
    kind: str
    outcome: str
    email: str | None
    message_id: str
    sender: str
    subject: str
    details: str
    received_at: dt.datetime | None
    processed_at: dt.datetime


@dataclass(frozen=True)
class ImapState:
    account: str
    folder: str
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Suppression:
    email: str
    reason: str
    source: str
    created_at: dt.datetime


# --- rows -> values ---------------------------------------------------------------------------

EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def when(text: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(text)) if text else None


def _lunch(value: object) -> bool | None:
    return None if value is None else bool(value)


def answer_row(row: tuple[object, ...]) -> RsvpAnswer:
    email, status, guests, lunch, interview, note, source, stamp, seq, frm, key, upd = row
    return RsvpAnswer(
        str(email),
        str(status),
        int(str(guests)),
        _lunch(lunch),
        str(interview),
        str(note),
        str(source),
        when(stamp) or EPOCH,
        None if seq is None else int(str(seq)),
        str(frm),
        str(key),
        when(upd) or EPOCH,
    )


def review_row(row: tuple[object, ...]) -> ReviewItem:
    id_, key, kind, email, sender, reason, lines, created, resolved, resolution = row
    return ReviewItem(
        int(str(id_)),
        str(key),
        str(kind),
        str(email),
        str(sender),
        str(reason),
        tuple(str(x) for x in json.loads(str(lines))),
        when(created) or EPOCH,
        when(resolved),
        str(resolution),
    )


def message_row(row: tuple[object, ...]) -> ProcessedMessage:
    key, source, kind, outcome, email, mid, sender, subject, details, received, processed = row
    return ProcessedMessage(
        str(key),
        str(source),
        str(kind),
        str(outcome),
        None if email is None else str(email),
        str(mid),
        str(sender),
        str(subject),
        str(details),
        when(received),
        when(processed) or EPOCH,
    )
