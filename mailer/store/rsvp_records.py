"""Value types of the rsvp tables (frozen dataclasses; :mod:`mailer.store.rsvp` fills them)."""

from __future__ import annotations

import datetime as dt
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
    kind: str  # see mailer.rsvp.apply.ReviewKind
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
