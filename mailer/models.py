"""Value types shared by the core modules (frozen dataclasses and enums)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol
from zoneinfo import ZoneInfo

_NO_FIELDS: Mapping[str, str] = MappingProxyType({})


class Fields(Mapping[str, str]):
    """The cells of one contacts.csv row by column name, read-only.

    The column names (with their positions) are one object shared by every row of a file, so a
    row costs a tuple of its values (100,000 dicts would take five times as much memory).
    """

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: tuple[str, ...]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: str) -> str:
        return self._values[self._index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __repr__(self) -> str:
        return f"Fields({dict(self)!r})"


# The fields every contact has (templates: ``contact.<field>``), in the order they are shown;
# contacts.csv's other columns are in ``Contact.fields`` under their own names.
CONTACT_FIELDS = ("email", "name", "first_name", "last_name", "outlet", "language", "tags")


@dataclass(frozen=True, slots=True)
class Contact:
    """One journalist from contacts.csv. ``email`` is normalised and is the contact's key.

    ``fields`` holds the row's cells by column name (the fields and the file's other columns);
    ``first_name`` and ``last_name`` come from their own cells or else from ``name``.
    """

    email: str
    name: str
    outlet: str
    language: str
    tags: tuple[str, ...]
    line: int
    fields: Mapping[str, str] = field(default_factory=lambda: _NO_FIELDS)
    first_name: str = ""
    last_name: str = ""

    @property
    def key(self) -> str:
        return self.email.lower()


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding about an input file, located as ``file:line``."""

    file: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class Campaign(enum.StrEnum):
    """A round of messages; each contact gets at most one message per campaign."""

    INVITATION = "invitation"
    REMINDER = "reminder"
    UPDATE = "update"
    CANCEL = "cancel"
    RELEASE = "release"
    PREBRIEF = "prebrief"


class State(enum.StrEnum):
    """Journal state of one message.

    pending -> claimed -> transmitting -> sent | failed | in_doubt; claimed goes back to pending
    when a temporary error happens before the data was sent.
    """

    PENDING = "pending"
    CLAIMED = "claimed"
    TRANSMITTING = "transmitting"
    SENT = "sent"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


class ByteSource(Protocol):
    """Where the per-recipient bytes of spooled messages are kept (:mod:`mailer.messages.spool`)."""

    def read(self, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class SpooledBody:
    """A message whose own bytes are in a spool file and whose shared parts are in memory.

    ``layout`` lists the message's pieces in order: an ``int`` is that many bytes of the spool
    (starting at ``offset``, one run after another), ``bytes`` is a part shared by the batch
    (the same object in every message, such as an encoded PDF). A message without shared parts
    has the ``int`` alone (a tuple for each of 100,000 messages would cost 5 MB).
    """

    source: ByteSource
    offset: int
    layout: int | tuple[int | bytes, ...]
    size: int

    def segments(self) -> tuple[bytes, ...]:
        layout = self.layout
        if isinstance(layout, int):
            return (self.source.read(self.offset, layout),)
        own = self.source.read(self.offset, sum(p for p in layout if isinstance(p, int)))
        out: list[bytes] = []
        at = 0
        for piece in layout:
            if isinstance(piece, int):
                out.append(own[at : at + piece])
                at += piece
            else:
                out.append(piece)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One fully rendered message, ready to transmit: the unit of plan, preview and send.

    ``body`` is the complete message (CRLF line endings) as bytes, or a :class:`SpooledBody`
    read back on demand; either way ``data`` is the bytes, ``segments`` the same bytes in pieces
    whose large shared parts are one object for the whole batch, and ``size`` their length.
    """

    campaign: Campaign
    contact: Contact
    message_id: str  # "<...@domain>"
    ics_uid: str | None
    sequence: int
    sender: str  # envelope MAIL FROM
    recipients: tuple[str, ...]  # envelope RCPT TO (one journalist, or a Bcc batch)
    subject: str
    body: bytes | SpooledBody

    @property
    def data(self) -> bytes:
        body = self.body
        if isinstance(body, bytes):
            return body
        parts = body.segments()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    @property
    def segments(self) -> tuple[bytes, ...]:
        """The message as pieces whose concatenation is ``data`` (large shared parts once)."""
        body = self.body
        return (body,) if isinstance(body, bytes) else body.segments()

    @property
    def size(self) -> int:
        body = self.body
        return len(body) if isinstance(body, bytes) else body.size


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One row of the journal, as other modules see it."""

    id: int
    campaign: Campaign
    email: str
    name: str
    message_id: str
    ics_uid: str | None
    sequence: int
    state: State
    attempts: int
    last_error: str
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None
    # The relay the data was handed to: 'primary', 'fallback' ([smtp.fallback]) or 'outbox';
    # '' before any transmission (and for rows transmitted before the relay was recorded).
    relay: str = ""


@dataclass(frozen=True, slots=True)
class Invited:
    """Who a journal row is for and its state: what the RSVP summary needs of each row."""

    email: str
    name: str
    state: State


@dataclass(frozen=True)
class StateCounts:
    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    pending: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "in_doubt": self.in_doubt,
            "pending": self.pending,
            "skipped": self.skipped,
        }

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.in_doubt + self.pending + self.skipped


# --- the release schedule, as the store keeps it ---


class ScheduleState(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"  # a run started sending (and may have been stopped halfway)
    # The clock went back before the embargo after part of the release went out: the rest
    # goes out once the clock is past the embargo again (the schedule's note says more).
    PAUSED = "paused"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"


ACTIVE_STATES = frozenset({ScheduleState.SCHEDULED, ScheduleState.SENDING, ScheduleState.PAUSED})


@dataclass(frozen=True)
class Schedule:
    """The scheduled release, as the store keeps it."""

    id: int
    embargo: dt.datetime  # aware (UTC in the store)
    zone: str  # IANA zone the officer gave the time in
    tag: str  # only contacts with this tag ('' = every contact)
    mode: str  # personal | bcc
    grace_minutes: int
    state: ScheduleState
    checked: int  # messages rendered and checked when it was scheduled
    fingerprint: str  # of the templates, attachments, contacts and config at that time
    created_at: dt.datetime
    updated_at: dt.datetime
    note: str

    @property
    def local_embargo(self) -> dt.datetime:
        return self.embargo.astimezone(ZoneInfo(self.zone))

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.grace_minutes)
