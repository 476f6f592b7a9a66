"""``mailer rsvp ...`` (the journalists' answers)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import config_path, handled
from mailer.cli.usage import Command, Group, at_least

app = typer.Typer(
    help="Read and summarise the journalists' answers.", no_args_is_help=True, cls=Group
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


class StatusChoice(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"
    NONE = "none"


class AnswerChoice(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class DelimiterChoice(enum.StrEnum):
    SEMICOLON = ";"
    COMMA = ","
    TAB = "tab"


@app.command("fetch", cls=Command)
def fetch() -> None:
    """Read new replies from the mailbox.

    The one in [imap], read-only; only mail not seen before.
    The password comes from [imap] password_env, keyring_service or password_command, as for
    SMTP. Mail is moved away only when [imap] processed_folder is set.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import fetch_replies

    with handled():
        config = load_config(config_path())
        progress = show.mailbox_progress(config)
        try:
            result = fetch_replies(
                config,
                now=SystemClock().now(),
                progress=progress,
                interactive=console.is_interactive(),
            )
        finally:
            progress.stop()
        show.fetch_report(result.report, result.mailbox)


@app.command("import", cls=Command)
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help=".eml files, folders of them, mbox files or Maildir folders.",
            show_default=False,
        ),
    ],
) -> None:
    """Read replies from saved mail files.

    The same as fetch, for mail saved from a mail client.
    Each message is recorded once: importing the same files again changes nothing.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import import_replies

    with handled():
        config = load_config(config_path())
        progress = show.RsvpProgress("Reading replies", known_total=False)
        try:
            report = import_replies(config, paths, now=SystemClock().now(), progress=progress)
        finally:
            progress.stop()
        show.ingest_report(report)


@app.command("list", cls=Command)
def list_(
    status: Annotated[
        StatusChoice | None,
        typer.Option(
            "--status", metavar="yes|no|maybe|none", help="Only this answer.", show_default=False
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List every invited contact with the answer.

    With guests, lunch, interview wish and how the invitation was delivered.
    """
    # lazy: keeps --help fast
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import list_answers

    with handled():
        config = load_config(config_path())
        rows = list_answers(config, status=status.value if status else None)
        if as_json:
            show.rows_json(rows)
        else:
            show.rows_table(rows)


@app.command("summary", cls=Command)
def summary(as_json: JsonOpt = False) -> None:
    """Show the headcounts for the caterer and the hosts.

    Coming, maybe, not coming, no answer, guests, lunch, interviews and bounces.
    """
    # lazy: keeps --help fast
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import answer_summary

    with handled():
        result = answer_summary(load_config(config_path()))
        if as_json:
            show.summary_json(result)
        else:
            show.summary(result)


@app.command("review", cls=Command)
def review() -> None:
    """Decide the replies that need a person.

    One at a time: yes, no, maybe, suppress or ignore.
    Without a terminal it only lists the open items (exit 0).
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import review_replies

    with handled():
        config = load_config(config_path())
        reviewer = show.TerminalReviewer() if console.is_interactive() else None
        result = review_replies(config, clock=SystemClock(), reviewer=reviewer)
        show.review_result(result)


@app.command("set", cls=Command)
def set_(
    email: Annotated[
        str,
        typer.Argument(metavar="EMAIL", help="The contact's e-mail address.", show_default=False),
    ],
    status: Annotated[
        AnswerChoice,
        typer.Option("--status", metavar="yes|no|maybe", help="The answer.", show_default=False),
    ],
    guests: Annotated[
        int | None,
        typer.Option(
            "--guests",
            metavar="N",
            callback=at_least(0),
            help="People coming along (photographer, colleague).",
            show_default=False,
        ),
    ] = None,
    lunch: Annotated[
        bool | None,
        typer.Option(
            "--lunch/--no-lunch", help="Eats lunch or not (default: unchanged).", show_default=False
        ),
    ] = None,
    interview: Annotated[
        str, typer.Option("--interview", metavar="NAME", help="Whom they want to interview.")
    ] = "",
    note: Annotated[
        str, typer.Option("--note", metavar="TEXT", help="A note for the list and export.")
    ] = "",
) -> None:
    """Record an answer given by phone or in person.

    It wins over earlier mail. Options not given keep what was recorded before (except after
    --status no).
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import record_answer

    with handled():
        result = record_answer(
            load_config(config_path()),
            email=email,
            status=status.value,
            now=SystemClock().now(),
            guests=guests,
            lunch=lunch,
            interview=interview,
            note=note,
        )
        show.manual_answer(result)


@app.command("export", cls=Command)
def export(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="The CSV file to write (replaced if it exists).",
            show_default=False,
        ),
    ],
    delimiter: Annotated[
        DelimiterChoice,
        typer.Option(
            "--delimiter",
            metavar="';'|','|tab",
            help="';' for Finnish and Swedish Excel, ',' for English.",
        ),
    ] = DelimiterChoice.SEMICOLON,
) -> None:
    """Write the list as CSV for Excel.

    UTF-8 with BOM, for the caterer and the reception desk.
    """
    # lazy: keeps --help fast
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import export_answers

    sep = "\t" if delimiter is DelimiterChoice.TAB else delimiter.value
    with handled():
        result = export_answers(load_config(config_path()), file, delimiter=sep)
        show.exported(result.path, result.rows, result.delimiter)


class DoorFormatChoice(enum.StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"


@app.command("doorlist", cls=Command)
def doorlist(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write it: FILE.html, FILE.pdf or FILE.csv writes that one "
            "(default: doorlist.html, .pdf and .csv in the project folder).",
            show_default=False,
        ),
    ] = None,
    formats: Annotated[
        list[DoorFormatChoice] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="html|pdf|csv",
            help="Write only this format (repeat for more), named after --output.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the door list to print, with the caterer's count.

    Who is coming, by surname, with a box to tick: outlet, party size, photographer, lunch
    and interview wishes; as HTML and PDF for A4, and as CSV for a spreadsheet.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import report as show
    from mailer.report import DoorFormat, write_doorlist

    with handled():
        result = write_doorlist(
            load_config(config_path()),
            output=output,
            formats=[DoorFormat(f.value) for f in formats or ()],
            now=SystemClock().now(),
        )
        show.doorlist_written(result)
