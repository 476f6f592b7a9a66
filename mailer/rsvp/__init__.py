"""Reading the journalists' answers: calendar replies, written replies, auto-replies, bounces.

Pure reading and classifying (``parse``, ``ical``, ``text``, ``quotes``, ``bounce``,
``classify``) is separate from input (``sources`` for files, ``imap`` for the server) and from
the store (``apply`` matches and records, ``fetch`` ties them together). The commands' use
cases (:mod:`.usecases`: fetch, import, list, summary, set, export and the suppression list;
:mod:`.review`: the review loop) open the journal themselves and are what the CLI calls.
"""

from __future__ import annotations

from mailer.rsvp.apply import IngestItem, IngestReport, ingest
from mailer.rsvp.classify import classify
from mailer.rsvp.decisions import Decided, ManualAnswer
from mailer.rsvp.export import safe_cell
from mailer.rsvp.fetch import FetchReport, fetch_and_ingest, import_paths
from mailer.rsvp.imap import FetchResult, MoveResult, account_label, fetch_new, move_processed
from mailer.rsvp.imap import probe as probe_imap
from mailer.rsvp.outcomes import Outcome, ReviewKind
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
from mailer.rsvp.review import QUIT, SKIP, Reviewed, Reviewer, review_replies
from mailer.rsvp.sources import read_sources
from mailer.rsvp.summary import (
    RsvpRow,
    RsvpSummary,
    load_rows,
    load_summary,
    row_json,
    rsvp_section,
    speakers_of,
    summary_json,
    with_speakers,
)
from mailer.rsvp.text import guest_roles
from mailer.rsvp.usecases import (
    Exported,
    MailboxRead,
    Suppressed,
    answer_summary,
    export_answers,
    fetch_replies,
    import_replies,
    list_answers,
    record_answer,
    suppress_address,
    suppression_list,
    unsuppress_address,
)

__all__ = [
    "QUIT",
    "SKIP",
    "Answer",
    "BounceRecipient",
    "BounceReport",
    "CalendarAnswer",
    "Classification",
    "Decided",
    "Envelope",
    "Exported",
    "FetchReport",
    "FetchResult",
    "IngestItem",
    "IngestReport",
    "Kind",
    "MailboxRead",
    "ManualAnswer",
    "MoveResult",
    "Outcome",
    "PartStat",
    "ReviewKind",
    "Reviewed",
    "Reviewer",
    "RsvpRow",
    "RsvpSummary",
    "Suppressed",
    "TextAnswer",
    "account_label",
    "answer_summary",
    "classify",
    "export_answers",
    "fetch_and_ingest",
    "fetch_new",
    "fetch_replies",
    "guest_roles",
    "import_paths",
    "import_replies",
    "ingest",
    "list_answers",
    "load_rows",
    "load_summary",
    "move_processed",
    "probe_imap",
    "read_sources",
    "record_answer",
    "review_replies",
    "row_json",
    "rsvp_section",
    "safe_cell",
    "speakers_of",
    "summary_json",
    "suppress_address",
    "suppression_list",
    "unsuppress_address",
    "with_speakers",
]
