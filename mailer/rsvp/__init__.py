"""Reading the journalists' answers: calendar replies, written replies, auto-replies, bounces.

Pure reading and classifying (``parse``, ``ical``, ``text``, ``quotes``, ``bounce``,
``classify``) is separate from input (``sources`` for files, ``imap`` for the server) and from
the store (``apply`` matches and records, ``fetch`` ties them together for the CLI).
"""

from __future__ import annotations

from mailer.rsvp.apply import IngestItem, IngestReport, Outcome, ReviewKind, ingest
from mailer.rsvp.classify import classify
from mailer.rsvp.fetch import FetchReport, fetch_and_ingest, import_paths
from mailer.rsvp.imap import FetchResult, MoveResult, account_label, fetch_new, move_processed
from mailer.rsvp.results import (
    Answer,
    BounceRecipient,
    BounceReport,
    CalendarAnswer,
    Classification,
    Envelope,
    Kind,
    PartStat,
    TextAnswer,
)
from mailer.rsvp.sources import read_sources

__all__ = [
    "Answer",
    "BounceRecipient",
    "BounceReport",
    "CalendarAnswer",
    "Classification",
    "Envelope",
    "FetchReport",
    "FetchResult",
    "IngestItem",
    "IngestReport",
    "Kind",
    "MoveResult",
    "Outcome",
    "PartStat",
    "ReviewKind",
    "TextAnswer",
    "account_label",
    "classify",
    "fetch_and_ingest",
    "fetch_new",
    "import_paths",
    "ingest",
    "move_processed",
    "read_sources",
]
