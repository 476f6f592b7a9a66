"""Value types of reply reading: what a message is, and what it says (frozen dataclasses, enums)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """What an incoming message is."""

    CALENDAR_REPLY = "calendar_reply"  # an iTIP REPLY (Accept / Tentative / Decline buttons)
    TEXT_REPLY = "text_reply"  # a written answer (or any reply that is not one of the others)
    AUTO_REPLY = "auto_reply"  # out of office, vacation, read receipt: noted, not an answer
    BOUNCE = "bounce"  # a delivery status notification
    UNSUBSCRIBE = "unsubscribe"  # "poista minut listalta": to review, then suppression
    UNKNOWN = "unknown"  # nothing to do with the invitation, as far as can be seen
    UNREADABLE = "unreadable"  # could not be read; ``reason`` says why


class PartStat(enum.StrEnum):
    """PARTSTAT of the ATTENDEE in a REPLY (RFC 5545 3.2.12)."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    DELEGATED = "delegated"


class Answer(enum.StrEnum):
    """An RSVP status."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


PARTSTAT_ANSWER: dict[PartStat, Answer | None] = {
    PartStat.ACCEPTED: Answer.YES,
    PartStat.DECLINED: Answer.NO,
    PartStat.TENTATIVE: Answer.MAYBE,
    PartStat.DELEGATED: None,  # someone else may come instead: the officer decides
}


@dataclass(frozen=True)
class CalendarAnswer:
    """One VEVENT of an iTIP REPLY."""

    uid: str
    attendee: str  # the ATTENDEE address, lower-case, without "mailto:"
    attendee_name: str  # its CN
    partstat: PartStat
    dtstamp: dt.datetime | None  # aware (UTC); None when missing or broken
    sequence: int
    comment: str  # the journalist's note (Outlook's COMMENT)
    guests: int | None  # Google's X-NUM-GUESTS
    delegated_to: str
    method: str  # "REPLY", or "" when the object had no METHOD
    summary: str
    producer: str  # PRODID
    from_address: str  # From of the message that carried the object (inner one if forwarded)
    forwarded: bool  # found inside a message/rfc822 part

    @property
    def answer(self) -> Answer | None:
        return PARTSTAT_ANSWER[self.partstat]


@dataclass(frozen=True)
class TextAnswer:
    """What a written reply says; ``answer`` is None when it is not clear (goes to review)."""

    answer: Answer | None
    guests: int | None  # people coming besides the journalist, when stated
    guest_roles: tuple[str, ...]  # "photographer", "colleague"
    lunch: bool | None
    interview: tuple[str, ...]  # wished interviewees ("Vesa"), or the sentence when no name
    diet: str  # a sentence about food restrictions, as written
    questions: tuple[str, ...]  # sentences that ask something
    lines: tuple[str, ...]  # the reply's own lines (quotes and signature removed), capped
    reason: str  # why it needs review ("" when clear)


@dataclass(frozen=True)
class BounceRecipient:
    address: str  # Final-Recipient (or the failed address found in a text bounce), lower-case
    action: str  # failed / delayed / delivered / relayed / expanded
    status: str  # "5.1.1"; "" when none was found
    diagnostic: str
    original: str = ""  # Original-Recipient, when the report gives one other than ``address``

    @property
    def failed(self) -> bool:
        return self.action == "failed" or (self.action == "" and self.status.startswith("5."))

    @property
    def permanent(self) -> bool:
        return self.failed and self.status.startswith("5.")

    @property
    def address_failure(self) -> bool:
        """A permanent failure of the address itself (5.1.x): offered for suppression."""
        return self.failed and self.status.startswith("5.1.")


@dataclass(frozen=True)
class BounceReport:
    recipients: tuple[BounceRecipient, ...]
    original_message_id: str  # of the returned message, "" when not found
    format: str  # "rfc3464" or "text"
    from_server: bool = True  # sent by a mail server: MAILER-DAEMON, postmaster, Return-Path <>


@dataclass(frozen=True)
class Envelope:
    """Headers and facts used to match a message to an invitation."""

    key: str  # idempotency key: "mid:<Message-ID>" or "sha256:<hex of the bytes>"
    message_id: str
    subject: str
    sender: str  # the From address from the raw header, lower-case ("" when missing or unreadable)
    sender_name: str  # its display name, decoded after the address was read (for showing only)
    date: dt.datetime | None
    in_reply_to: tuple[str, ...]  # message ids, "<...>"
    references: tuple[str, ...]
    size: int
    notes: tuple[str, ...]  # what the reader skipped or repaired (huge parts, unknown charsets)
    sender_doubt: str = ""  # why From does not stand for one person ("" when it does)


@dataclass(frozen=True)
class Classification:
    """The one result of reading a message. Exactly the fields of its ``kind`` are filled."""

    kind: Kind
    envelope: Envelope
    calendar: tuple[CalendarAnswer, ...] = ()
    text: TextAnswer | None = None
    bounce: BounceReport | None = None
    reason: str = ""  # auto-reply marker, unsubscribe phrase, or why unreadable / unknown
    lines: tuple[str, ...] = ()  # relevant lines for a person to read

    @property
    def message_ids(self) -> tuple[str, ...]:
        """Ids this message refers to, nearest first (In-Reply-To, then References from the end)."""
        seen: list[str] = []
        for mid in (*self.envelope.in_reply_to, *reversed(self.envelope.references)):
            if mid not in seen:
                seen.append(mid)
        return tuple(seen)
