"""``mailer rsvp ...`` (the journalists' answers)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import config_path, handled

app = typer.Typer(help="Read and summarise the journalists' answers.", no_args_is_help=True)

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


@app.command("fetch")
def fetch() -> None:
    """Read new replies from the mailbox in [imap] (read-only; only mail not seen before).

    The password comes from [imap] password_env, keyring_service or password_command, as for
    SMTP. Mail is moved away only when [imap] processed_folder is set.
    """
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import credentials
    from mailer.config.load import load_config
    from mailer.console import rsvp as show
    from mailer.contacts import loading
    from mailer.errors import ConfigError
    from mailer.rsvp.fetch import fetch_and_ingest
    from mailer.rsvp.summary import speakers_of

    with handled():
        config = load_config(config_path())
        imap = config.imap
        if imap is None:
            raise ConfigError(
                f"{config.path.name}: no [imap] section, so there is no mailbox to read",
                hint="add [imap] host, username and password_env (README: 'Reading the "
                "answers'), or save the replies as files and use 'mailer rsvp import'",
            )
        password = credentials.imap_password_for(config, interactive=console.is_interactive())
        if password is None:
            raise ConfigError(f"{config.path.name}: [imap] username is empty")
        progress = show.RsvpProgress(f"Reading {imap.folder}")
        with loading.open_store(config) as store:
            try:
                report = fetch_and_ingest(
                    imap,
                    password=password,
                    store=store,
                    now=SystemClock().now(),
                    progress=progress,
                    speakers=speakers_of(config),
                )
            finally:
                progress.stop()
        show.fetch_report(report, f"{imap.username}@{imap.host} {imap.folder}")


@app.command("import")
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help=".eml files, folders of them, mbox files or Maildir folders.", show_default=False
        ),
    ],
) -> None:
    """Read replies from files (the same as fetch, for mail saved from a mail client).

    Each message is recorded once: importing the same files again changes nothing.
    """
    from mailer.clock import SystemClock
    from mailer.config.load import load_config
    from mailer.console import rsvp as show
    from mailer.contacts import open_store
    from mailer.rsvp.fetch import import_paths
    from mailer.rsvp.summary import speakers_of

    with handled():
        config = load_config(config_path())
        progress = show.RsvpProgress("Reading replies", known_total=False)
        with open_store(config) as store:
            try:
                report = import_paths(
                    paths,
                    store=store,
                    now=SystemClock().now(),
                    progress=progress,
                    speakers=speakers_of(config),
                )
            finally:
                progress.stop()
        show.ingest_report(report)


@app.command("list")
def list_(
    status: Annotated[
        StatusChoice | None, typer.Option("--status", help="Only this answer.", show_default=False)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every invited contact with the answer, guests, lunch, interview wish and delivery."""
    from mailer.console import rsvp as show
    from mailer.contacts import load_project, open_store
    from mailer.rsvp.summary import Status, load_rows, select_rows

    with handled():
        project = load_project(config_path())
        with open_store(project.config) as store:
            rows = load_rows(store, project.book.contacts)
        chosen = select_rows(rows, Status(status.value) if status else None)
        if as_json:
            show.rows_json(chosen)
        else:
            show.rows_table(chosen)


@app.command("summary")
def summary(as_json: JsonOpt = False) -> None:
    """Headcounts: coming, maybe, not coming, no answer, guests, lunch, interviews, bounces."""
    from mailer.console import rsvp as show
    from mailer.contacts import load_project, open_store
    from mailer.rsvp.summary import load_summary

    with handled():
        project = load_project(config_path())
        with open_store(project.config) as store:
            result = load_summary(store, project.book.contacts, project.config)
        if as_json:
            show.summary_json(result)
        else:
            show.summary(result)


@app.command("review")
def review() -> None:
    """Go through the replies that need a person: decide yes / no / maybe / suppress / ignore.

    Without a terminal it only lists the open items (exit 0).
    """
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.console import rsvp as show
    from mailer.contacts import load_project, open_store
    from mailer.errors import MailerError
    from mailer.rsvp.decisions import (
        ANSWERS,
        Decision,
        decide,
        known_contacts,
        review_contact,
        suppress_target,
    )

    with handled():
        project = load_project(config_path())
        contacts = project.book.contacts
        with open_store(project.config) as store:
            items = store.rsvps.reviews(open_only=True)
            if not items or not console.is_interactive():
                show.review_list(items)
                return
            known = known_contacts(store, contacts)
            done = 0
            for number, item in enumerate(items, start=1):
                show.review_item(item, number, len(items))
                choice = show.ask_decision()
                if choice == "quit":
                    break
                if choice == "skip":
                    continue
                decision = Decision(choice)
                email = ""
                if decision in ANSWERS and not review_contact(item, known):
                    email = show.ask_address("Which invited contact answered (e-mail)?")
                    if not email:
                        continue
                if decision is Decision.SUPPRESS and not suppress_target(item):
                    email = show.ask_address("Which address should get no more mail?")
                    if not email:
                        continue
                try:
                    result = decide(
                        store,
                        item.id,
                        decision,
                        contacts=contacts,
                        now=SystemClock().now(),
                        email=email,
                    )
                except MailerError as exc:
                    console.error(exc)
                    continue
                show.decided(result)
                done += 1
            show.review_done(done, len(store.rsvps.reviews(open_only=True)))


@app.command("set")
def set_(
    email: Annotated[str, typer.Argument(help="The contact's e-mail address.", show_default=False)],
    status: Annotated[
        AnswerChoice, typer.Option("--status", help="The answer.", show_default=False)
    ],
    guests: Annotated[
        int | None,
        typer.Option(
            "--guests",
            min=0,
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
        str, typer.Option("--interview", help="Whom they want to interview.")
    ] = "",
    note: Annotated[str, typer.Option("--note", help="A note for the list and export.")] = "",
) -> None:
    """Record an answer given by phone or in person (it wins over earlier mail).

    Options not given keep what was recorded before (except after --status no).
    """
    from mailer.clock import SystemClock
    from mailer.console import rsvp as show
    from mailer.contacts import load_project, open_store
    from mailer.rsvp.decisions import set_answer

    with handled():
        project = load_project(config_path())
        with open_store(project.config) as store:
            result = set_answer(
                store,
                contacts=project.book.contacts,
                email=email,
                status=status.value,
                now=SystemClock().now(),
                guests=guests,
                lunch=lunch,
                interview=interview,
                note=note,
            )
        show.manual_answer(result)


@app.command("export")
def export(
    file: Annotated[
        Path,
        typer.Argument(help="The CSV file to write (replaced if it exists).", show_default=False),
    ],
    delimiter: Annotated[
        DelimiterChoice,
        typer.Option("--delimiter", help="';' for Finnish and Swedish Excel, ',' for English."),
    ] = DelimiterChoice.SEMICOLON,
) -> None:
    """Write the list as CSV for Excel (UTF-8 with BOM; the caterer and reception desk)."""
    from mailer.console import rsvp as show
    from mailer.contacts import load_project, open_store
    from mailer.rsvp.export import write_export
    from mailer.rsvp.summary import load_rows

    with handled():
        project = load_project(config_path())
        with open_store(project.config) as store:
            rows = load_rows(store, project.book.contacts)
        sep = "\t" if delimiter is DelimiterChoice.TAB else delimiter.value
        count = write_export(file, rows, zone=project.config.zone, delimiter=sep)
        show.exported(file, count, sep)
