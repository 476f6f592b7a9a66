"""All terminal output: tables, progress bars, summaries, error lines and ``--json``.

No other module prints. Output is plain when stdout is not a terminal (cron, pipes, tests).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mailer.contacts import ContactBook, ContactList
from mailer.errors import MailerError
from mailer.invitations import Summary
from mailer.models import Outgoing, Problem, Severity, State
from mailer.project import StarterResult, Status
from mailer.project import status_json as status_dict
from mailer.sending import Delivery, SendReport

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def error(exc: MailerError, *, prefix: str = "") -> None:
    err.print(f"{prefix}error: {exc.message}", markup=False)
    if exc.next_step:
        err.print(f"hint: {exc.next_step}", markup=False)


def warning(text: str) -> None:
    err.print(f"warning: {text}", markup=False)


def info(text: str) -> None:
    out.print(text, markup=False)


def line(text: str) -> None:
    """A line with rich markup (only for our own fixed text)."""
    out.print(text)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm(question: str) -> bool:
    out.print(f"{question} [y/N] ", end="", markup=False)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes", "k", "kyllä", "j", "ja")


# --- contacts ----------------------------------------------------------------------------------


def problems(items: Sequence[Problem]) -> None:
    if not items:
        return
    table = Table(title="Problems", title_justify="left")
    table.add_column("where")
    table.add_column("severity")
    table.add_column("problem", overflow="fold")
    for p in items:
        where = f"{p.file}:{p.line}" if p.line else p.file
        style = "red" if p.severity is Severity.ERROR else "yellow"
        table.add_row(where, f"[{style}]{p.severity.value}[/]", p.message)
    out.print(table)


def contacts_check(book: ContactBook) -> None:
    name = book.path.name
    info(f"Columns of {name}:")
    for column in book.mapping:
        if column.field:
            by_hand = " ([contacts.columns])" if column.chosen else ""
            info(f"  {column.header} -> {column.name}{by_hand}")
    for note in book.notes:
        info(f"  {note}")
    others = [column for column in book.mapping if not column.field]
    if others:
        info("Other columns, in templates as contact.<name>:")
        for column in others:
            info(f"  {column.header} -> contact.{column.name}")
    else:
        info("Other columns: none")
    problems(book.problems)
    info(
        f"{book.path.name}: {len(book.contacts)} valid contacts, {len(book.errors)} errors, "
        f"{len(book.warnings)} warnings (delimiter {book.delimiter!r}, encoding {book.encoding})"
    )


def contacts_listed(listed: ContactList) -> None:
    table = Table()
    for col in ("email", "name", "outlet", "lang", "tags"):
        table.add_column(col, overflow="fold")
    for c in listed.contacts:
        table.add_row(c.email, c.name, c.outlet, c.language, ", ".join(c.tags))
    out.print(table)
    info(f"{len(listed.contacts)} contacts")
    if listed.errors:
        warning(f"{listed.errors} rows have errors and are not listed; run 'mailer contacts check'")


# --- sending -------------------------------------------------------------------------------------


def send_summary(summary: Summary) -> None:
    langs = ", ".join(f"{k} {v}" for k, v in summary.by_language.items())
    info(f"Round:        {summary.campaign}")
    if summary.to_send:
        info(f"To send now:  {summary.to_send} (one message per contact; languages: {langs})")
    else:
        info("To send now:  0")
    if summary.first_subject:
        info(f"Subject:      {summary.first_subject}")
    info(f"Transport:    {summary.transport}")
    if summary.already_done:
        info(f"Skipped:      {summary.already_done} already handled by an earlier run")
    if summary.busy:
        info(f"Busy:         {summary.busy} being sent by another mailer process right now")
    for email, reason in summary.excluded:
        info(f"Not sent:     {email}: {reason}")


class SendProgress:
    """A rich progress bar (only on a terminal)."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=out,
            transient=True,
            disable=not out.is_terminal,
        )
        self._task: Any = None

    def started(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task(self._label, total=total)

    def advance(self, delivery: Delivery) -> None:
        if self._task is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        self._bar.stop()


def send_report(report: SendReport, *, already_done: int = 0) -> None:
    table = Table(title="Result", title_justify="left")
    table.add_column("outcome")
    table.add_column("messages", justify="right")
    rows = [
        ("sent", report.sent),
        ("failed", report.failed),
        ("in doubt", report.in_doubt),
        ("left queued", report.left_pending),
        ("skipped (done earlier or by another run)", already_done + report.not_claimed),
    ]
    for name, count in rows:
        table.add_row(name, str(count))
    out.print(table)
    bad = [d for d in report.deliveries if d.state is not State.SENT]
    if bad:
        detail = Table(title="Needs attention", title_justify="left")
        detail.add_column("recipient", overflow="fold")
        detail.add_column("state")
        detail.add_column("reason", overflow="fold")
        for d in bad:
            detail.add_row(d.email, d.state.value.replace("_", " "), d.detail)
        out.print(detail)
    if report.in_doubt:
        info(
            "In doubt: the connection was lost after the message data was sent, so it may have "
            "arrived. Check with the recipient, then rerun with --resend-in-doubt to send again."
        )
    if report.failed:
        info(
            "Failed messages are not retried automatically; fix the cause, then use --retry-failed."
        )
    if report.stopped:
        err.print(f"stopped: {report.stopped}", markup=False)


def preview(item: Outgoing, *, raw: bool) -> None:
    if raw:
        sys.stdout.write(item.data.decode("utf-8", "replace"))
        return
    from email import message_from_bytes, policy

    msg = message_from_bytes(item.data, policy=policy.default)
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        info(f"{name}: {msg[name]}")
    parts = []
    text = ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.is_multipart():
            continue
        fname = part.get_filename()
        parts.append(f"{ctype}" + (f" ({fname})" if fname else ""))
        if ctype == "text/plain" and not text:
            text = str(part.get_content())
    info(f"Parts: {', '.join(parts)}")
    if item.ics_uid:
        info(f"Calendar UID: {item.ics_uid} (SEQUENCE {item.sequence})")
    info("")
    info(text.rstrip())


# --- init and status -----------------------------------------------------------------------------


def starter(result: StarterResult, directory: Path) -> None:
    """What ``mailer init`` wrote into *directory*, and the next commands to run."""
    for path in result.written:
        info(f"wrote   {path}")
    for path in result.skipped:
        info(f"skipped {path} (exists; not overwritten)")
    cfg = directory / "config.toml"
    info("")
    info(f"Next: mailer -c {cfg} invite preview    (see one invitation)")
    info(f"      mailer -c {cfg} invite send       (write them all to the outbox)")


def status_json(s: Status) -> None:
    print_json(status_dict(s))


def status(s: Status) -> None:
    info(f"Event:     {s.title}")
    info(f"When:      {s.start:%Y-%m-%d %H:%M}-{s.end:%H:%M} {s.timezone}")
    info(f"Where:     {s.location}")
    errors = f", {s.contact_errors} with errors" if s.contact_errors else ""
    info(f"Contacts:  {s.contacts} valid{errors}")
    info(f"Transport: {s.transport}")
    counts(
        "Invitations",
        s.invitations.as_dict(),
    )
    _followups(s.extra)
    for name, section in s.extra.items():
        if isinstance(section, dict) and all(isinstance(v, int) for v in section.values()):
            counts(name.upper() if name == "rsvp" else name.capitalize(), section)
    _release_schedule(s.extra.get("release_schedule"))
    from mailer.project import PROBLEMS_SHOWN

    for e in s.problems[:PROBLEMS_SHOWN]:
        info(f"  {e.state.value.replace('_', ' ')}: {e.email}: {e.last_error}")
    shown = min(len(s.problems), PROBLEMS_SHOWN)
    if s.problems_total > shown:
        info(f"  ... and {s.problems_total - shown} more (mailer status --json lists all)")


def _followups(extra: dict[str, Any]) -> None:
    """The reminder, update and cancel rounds of ``mailer status``, and whether an update is
    due."""
    for campaign, rounds in extra.get("followups", {}).items():
        for r in rounds:
            title = "Cancel" if campaign == "cancel" else f"{campaign.capitalize()} {r['round']}"
            counts(title, {k: v for k, v in r.items() if k != "round"})
    due = extra.get("update_due")
    if isinstance(due, dict) and due.get("due"):
        info(f"{'Update due:':<13}{due['reason']}")


def _release_schedule(schedule: Any) -> None:
    """The release's schedule in ``mailer status``: the embargo, the state (its note says why
    it is paused), and send-due's last pre-flight check."""
    if not isinstance(schedule, dict):
        return
    embargo = dt.datetime.fromisoformat(schedule["embargo"]).astimezone(
        ZoneInfo(schedule["timezone"])
    )
    note = f" ({schedule['note']})" if schedule["note"] else ""
    info(
        f"{'Embargo:':<13}{embargo:%Y-%m-%d %H:%M:%S} {embargo.tzname()}: {schedule['state']}{note}"
    )
    check = schedule.get("last_check")
    if isinstance(check, dict):
        info(f"{'Pre-flight:':<13}{check['summary']}")


def counts(title: str, values: dict[str, int]) -> None:
    shown = "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())
    info(f"{title + ':':<13}{shown}")


def lines(items: Iterable[str]) -> None:
    for item in items:
        info(item)
