"""Value types shared by the core modules (frozen dataclasses and enums)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Contact:
    """One journalist from contacts.csv. ``email`` is normalised and is the contact's key."""

    email: str
    name: str
    outlet: str
    language: str
    tags: tuple[str, ...]
    line: int
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.email.lower()


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Outgoing:
    """One fully rendered message, ready to transmit: the unit of plan, preview and send."""

    campaign: Campaign
    contact: Contact
    message_id: str  # "<...@domain>"
    ics_uid: str | None
    sequence: int
    sender: str  # envelope MAIL FROM
    recipients: tuple[str, ...]  # envelope RCPT TO (one journalist, or a Bcc batch)
    subject: str
    data: bytes  # the complete message, CRLF line endings

    @property
    def segments(self) -> tuple[bytes, ...]:
        return (self.data,)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
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
