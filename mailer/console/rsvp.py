"""Terminal output of ``mailer rsvp ...`` and of the suppression list (``mailer contacts``)."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from mailer.console.output import error, info, out, print_json, show_table, warning
from mailer.wording import plural

if TYPE_CHECKING:
    from mailer.config import Config
    from mailer.errors import MailerError
    from mailer.rsvp import (
        Decided,
        FetchReport,
        IngestItem,
        IngestReport,
        ManualAnswer,
        Reviewed,
        RsvpRow,
        RsvpSummary,
    )
    from mailer.store import ReviewItem, Suppression

MAX_REVIEW_LINES = 12
MAX_MESSAGE_ROWS = 200  # more new messages than this: counts per kind instead of a row each


class RsvpProgress:
    """A progress bar for reading mail (only on a terminal); call it with (total, done)."""

    def __init__(self, label: str, *, known_total: bool = True) -> None:
        self._known = known_total
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=out,
            transient=True,
            disable=not out.is_terminal,
        )
        self._label = label
        self._task: Any = None

    def __call__(self, total: int, done: int) -> None:
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task(self._label, total=total if self._known else None)
        self._bar.update(self._task, completed=done, total=total if self._known else None)

    def stop(self) -> None:
        self._bar.stop()


def mailbox_progress(config: Config) -> RsvpProgress:
    """The progress bar of ``rsvp fetch``, named after the [imap] folder."""
    folder = config.imap.folder if config.imap is not None else "the mailbox"
    return RsvpProgress(f"Reading {folder}")


# --- fetch and import ----------------------------------------------------------------------------

_OUTCOME_WORDS = (
    ("applied", "answer recorded|answers recorded"),
    ("superseded", "older than the stored answer"),
    ("bounced", "bounced"),
    ("noted", "noted (no answer)"),
    ("review", "for review"),
    ("duplicate", "seen before"),
)


def _source(text: str) -> str:
    """A short label: the file name (with "#n" inside an mbox or Maildir), or imap:FOLDER/UID."""
    return text if text.startswith("imap:") else Path(text).name


def ingest_report(report: IngestReport) -> None:
    """A row per new message (up to :data:`MAX_MESSAGE_ROWS`, else counts), then the totals."""
    new = [i for i in report.items if i.outcome.value != "duplicate"]
    if len(new) > MAX_MESSAGE_ROWS:
        _ingest_counts(new)
    elif new:
        _ingest_rows(new)
    outcomes = report.outcomes
    total = len(report.items)
    parts = [_counted(outcomes[key], words) for key, words in _OUTCOME_WORDS if outcomes.get(key)]
    info(plural(total, "message") + (f": {', '.join(parts)}" if parts else ""))
    if report.reviews:
        n = len(report.reviews)
        info(
            f"Next: mailer rsvp review ({n} new {'item waits' if n == 1 else 'items wait'} "
            "for your decision)"
        )


# Below this width the detail (the reason, often a sentence) gets its own line under each row:
# as a fifth column it would be squeezed to a few letters a line.
DETAIL_OWN_LINE_BELOW = 110


def _ingest_rows(new: Sequence[IngestItem]) -> None:
    """A row per message: file, kind, outcome, contact, and what it says (its detail)."""
    rows = [
        (_source(i.source), i.kind.value.replace("_", " "), i.outcome.value, i.contact or "-")
        for i in new
    ]
    if out.width < DETAIL_OWN_LINE_BELOW:  # aligned columns, the detail indented below
        widths = [
            max(len(r[k]) for r in [("message", "kind", "outcome", "contact"), *rows])
            for k in range(4)
        ]
        info(
            "  ".join(
                h.ljust(w)
                for h, w in zip(("message", "kind", "outcome", "contact"), widths, strict=True)
            ).rstrip()
        )
        for row, item in zip(rows, new, strict=True):
            info("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if item.detail:
                info(f"    {item.detail}")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("message", no_wrap=True, overflow="fold")  # file names kept whole
    for column in ("kind", "outcome"):
        table.add_column(column, overflow="fold", min_width=7)
    table.add_column("contact", overflow="fold", width=_email_width(r[3] for r in rows))
    table.add_column("detail", overflow="fold", min_width=24)
    for row, item in zip(rows, new, strict=True):
        # Text: what mail says is never read as rich markup ("[rsvp] ...")
        table.add_row(*(Text(c) for c in row), Text(item.detail))
    show_table(table)


def _counted(n: int, words: str) -> str:
    """``1 answer recorded`` / ``2 answers recorded`` from ``"answer recorded|answers recorded"``
    (words without a bar are the same for one and many: ``3 bounced``)."""
    one, _, many = words.partition("|")
    return f"{n} {one if n == 1 or not many else many}"


def _ingest_counts(items: Sequence[IngestItem]) -> None:
    """Messages per kind and outcome: a row per message would be too long to read (or print)."""
    counts = Counter((i.kind.value, i.outcome.value) for i in items)
    outcomes = [key for key, _words in _OUTCOME_WORDS if any(o == key for _k, o in counts)]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("kind")
    for outcome in outcomes:
        table.add_column(outcome, justify="right")
    for kind in dict.fromkeys(k for k, _o in sorted(counts)):
        table.add_row(kind.replace("_", " "), *(str(counts[kind, o] or "") for o in outcomes))
    show_table(table)
    info(f"(a row for each message is shown for up to {MAX_MESSAGE_ROWS} new messages)")


def fetch_report(report: FetchReport, folder: str) -> None:
    if report.reset:
        info(
            f"{folder}: {plural(report.fetched, 'message')} (the whole folder was read: first "
            "fetch, or the server renumbered it)"
        )
    elif report.fetched:
        info(f"{folder}: {plural(report.fetched, 'new message')}")
    else:
        info(f"{folder}: nothing new since the last fetch")
    for source in report.headers_only:
        warning(f"{source}: too large; only its headers were read")
    if report.fetched:
        ingest_report(report.ingest)
    if report.moved is not None and report.moved.moved:
        how = (
            "copied (the server cannot move single messages)"
            if report.moved.method == "copy"
            else "moved"
        )
        info(f"{plural(report.moved.moved, 'handled message')} {how} to {report.moved.folder}")


# --- list and summary ----------------------------------------------------------------------------


def _lunch(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _answer(r: RsvpRow) -> str:
    """``yes +1, lunch``: the answer with its guests and lunch, in one cell."""
    text = r.status.value + (f" +{r.guests}" if r.guests else "")
    lunch = _lunch(r.lunch)
    return f"{text}, {'lunch' if lunch == 'yes' else 'no lunch'}" if lunch else text


def rows_table(rows: Sequence[RsvpRow]) -> None:
    """One row per contact: name (outlet) above the address; the answer with its guests and
    lunch in one column, so that at 80 columns every address stays whole."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    # Exactly as wide as the longest address, so that no address is split (rich narrows the
    # widest columns first); the name above each address wraps inside it.
    table.add_column("contact", overflow="fold", width=_email_width(r.email for r in rows))
    table.add_column("answer", overflow="fold", min_width=5)
    table.add_column("interview", overflow="fold", min_width=9)
    table.add_column("delivery", overflow="fold", min_width=8)
    for r in rows:
        delivery = r.delivery.value + (f" {r.bounce}" if r.bounce else "")
        if r.suppressed:
            delivery += ", suppressed"
        who = " ".join(x for x in (r.name, f"({r.outlet})" if r.outlet else "") if x)
        table.add_row(f"{who}\n{r.email}" if who else r.email, _answer(r), r.interview, delivery)
    show_table(table)
    counts = Counter(r.status.value for r in rows)
    shown = ", ".join(f"{s} {counts[s]}" for s in ("yes", "maybe", "no", "none") if counts[s])
    info(plural(len(rows), "contact") + (f" ({shown})" if shown else ""))


def _email_width(emails: Iterable[str]) -> int:
    """The width of a column that holds these addresses whole (up to 60; longer ones fold)."""
    # never narrower than its heading ("contact"), or the heading folds one letter a line
    return min(60, max([7, *(len(e) for e in emails)]))


def rows_json(rows: Sequence[RsvpRow]) -> None:
    from mailer.rsvp import row_json

    print_json([row_json(r) for r in rows])


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def summary(s: RsvpSummary) -> None:
    deliveries = ", ".join(f"{k} {v}" for k, v in s.deliveries.items())
    info(f"Invited:      {s.invited}" + (f" ({deliveries})" if deliveries else ""))
    guests = f" + {s.guests} {'guest' if s.guests == 1 else 'guests'}" if s.guests else ""
    info(f"Coming:       {s.yes}{guests} = {_people(s.expected)}")
    maybe = f" ({_people(s.maybe_people)})" if s.maybe_people != s.maybe else ""
    info(f"Maybe:        {s.maybe}{maybe}")
    info(f"Not coming:   {s.no}")
    remind = f" ({s.to_remind} can get a reminder: mailer invite remind)" if s.to_remind else ""
    info(f"No answer:    {s.none}{remind}")
    unknown = f" (and {_people(s.lunch_unknown)} coming did not say)" if s.lunch_unknown else ""
    info(f"Lunch:        {_people(s.lunch)}{unknown}")
    if s.interviews:
        for n, wish in enumerate(s.interviews):
            label = "Interviews:" if n == 0 else ""
            info(f"{label:<14}{wish.speaker}: {len(wish.emails)} ({', '.join(wish.emails)})")
    else:
        info("Interviews:   none asked")
    if s.bounced:
        for n, (email, code) in enumerate(s.bounced):
            label = "Bounced:" if n == 0 else ""
            info(f"{label:<14}{email} ({code})")
    else:
        info("Bounced:      0")
    info(f"Suppressed:   {s.suppressed} {'address' if s.suppressed == 1 else 'addresses'}")
    if s.review:
        info(f"To review:    {s.review} {'item' if s.review == 1 else 'items'}: mailer rsvp review")
    else:
        info("To review:    0")


def summary_json(s: RsvpSummary) -> None:
    from mailer.rsvp import summary_json as as_json

    print_json(as_json(s))


# --- set, review, export -------------------------------------------------------------------------


def manual_answer(m: ManualAnswer) -> None:
    a = m.answer
    parts = [a.status]
    if a.guests:
        parts.append(f"+{a.guests} {'guest' if a.guests == 1 else 'guests'}")
    if a.lunch is not None:
        parts.append("lunch" if a.lunch else "no lunch")
    if a.interview:
        parts.append(f"interview: {a.interview}")
    if a.note:
        parts.append(f"note: {a.note}")
    info(f"Recorded for {a.email}: {', '.join(parts)} (by hand)")
    if m.closed_reviews:
        n = len(m.closed_reviews)
        info(f"Closed {n} review {'item' if n == 1 else 'items'} that waited for this answer.")
    if not m.invited:
        warning(f"{a.email} was not sent an invitation")
    if m.suppressed:
        warning(f"{a.email} is on the suppression list: it gets no reminders or updates")


def _who(item: ReviewItem) -> str:
    if item.email and item.sender and item.sender.lower() != item.email.lower():
        return f"{item.email} (from {item.sender})"
    return item.email or item.sender or "-"


def review_list(items: Sequence[ReviewItem]) -> None:
    """Without a terminal: the open items, to read."""
    if not items:
        info("Nothing to review.")
        return
    for n, item in enumerate(items):
        if n:
            info("")
        review_item(item, blank=False)
    info("")
    info(
        f"{len(items)} open {'item' if len(items) == 1 else 'items'}; run "
        "'mailer rsvp review' in a terminal to decide them."
    )


def review_item(item: ReviewItem, number: int = 0, total: int = 0, *, blank: bool = True) -> None:
    if blank:
        info("")
    counter = f"[{number}/{total}] " if total else ""
    info(f"{counter}#{item.id} {item.kind.replace('_', ' ')}: {_who(item)}")
    info(f"  {item.reason}")
    for text in item.lines[:MAX_REVIEW_LINES]:
        info(f"  | {text}")
    if len(item.lines) > MAX_REVIEW_LINES:
        info(f"  | ... ({len(item.lines) - MAX_REVIEW_LINES} more lines)")


REVIEW_KEYS = {"y": "yes", "n": "no", "m": "maybe", "s": "suppress", "i": "ignore"}


def ask_decision() -> str:
    """yes / no / maybe / suppress / ignore, "skip" (Enter) or "quit" (q, or end of input)."""
    while True:
        out.print(
            "  [y]es [n]o [m]aybe [s]uppress [i]gnore [q]uit, Enter = later: ", end="", markup=False
        )
        typed = sys.stdin.readline()
        if not typed:
            return "quit"
        key = typed.strip().lower()
        if not key:
            return "skip"
        if key in ("q", "quit"):
            return "quit"
        if key in REVIEW_KEYS or key in REVIEW_KEYS.values():
            return REVIEW_KEYS.get(key, key)
        info(f"  {key!r}: type y, n, m, s, i or q, or press Enter")


def ask_address(question: str) -> str:
    out.print(f"  {question} ", end="", markup=False)
    return sys.stdin.readline().strip()


def decided(d: Decided) -> None:
    if d.decision.value == "ignore":
        info("  -> closed, nothing recorded")
    elif d.decision.value == "suppress":
        info(f"  -> {d.email} suppressed: no further mail of any round")
    else:
        info(f"  -> recorded {d.decision.value} for {d.email}")


def review_done(decided_count: int, left: int) -> None:
    info("")
    info(f"Decided {decided_count}; {left} still open.")


class TerminalReviewer:
    """The officer at the terminal (:class:`mailer.rsvp.review.Reviewer`)."""

    def choose(self, item: ReviewItem, number: int, total: int) -> str:
        review_item(item, number, total)
        return ask_decision()

    def answered_by(self, item: ReviewItem) -> str:
        return ask_address("Which invited contact answered (e-mail)?")

    def address_to_suppress(self, item: ReviewItem) -> str:
        return ask_address("Which address should get no more mail?")

    def decided(self, result: Decided) -> None:
        decided(result)

    def refused(self, exc: MailerError) -> None:
        error(exc)


def review_result(r: Reviewed) -> None:
    """After the review: what was decided, or (nobody asked) the open items to read."""
    if r.asked:
        review_done(r.decided, r.left)
    else:
        review_list(r.items)


def exported(path: Path, count: int, delimiter: str) -> None:
    name = {";": "';'", ",": "','", "\t": "tab"}.get(delimiter, repr(delimiter))
    info(
        f"Wrote {plural(count, 'row')} to {path} (UTF-8 with BOM, {name}-separated, for Excel; "
        "readable by you only)"
    )


# --- the suppression list ------------------------------------------------------------------------


def suppressed(address: str, added: bool) -> None:
    if added:
        info(f"Suppressed {address}: no invitation, reminder, update or release goes to it.")
    else:
        info(f"{address} was already on the suppression list.")


def unsuppressed(address: str) -> None:
    info(f"Removed {address} from the suppression list.")


def suppressions(items: Sequence[Suppression]) -> None:
    if not items:
        info("The suppression list is empty.")
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("email", no_wrap=True)
    for column in ("reason", "source", "since"):
        table.add_column(column, overflow="fold")
    for s in items:
        table.add_row(s.email, s.reason, s.source, f"{s.created_at:%Y-%m-%d %H:%M} UTC")
    show_table(table)
    info(f"{len(items)} suppressed {'address' if len(items) == 1 else 'addresses'}")
