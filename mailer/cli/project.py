"""``mailer init``, ``mailer check`` and ``mailer status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import config_path, handled


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("check")(check)
    app.command("status")(status)


def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to create the project (created if missing).")
    ] = Path("."),
) -> None:
    """Write a working starter project (config, contacts, templates, programme.pdf).

    Existing files are never overwritten; the ones skipped are listed.
    """
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.project.starter import write_starter

    with handled():
        result = write_starter(directory, now=SystemClock().now())
        for path in result.written:
            console.info(f"wrote   {path}")
        for path in result.skipped:
            console.info(f"skipped {path} (exists; not overwritten)")
        cfg = directory / "config.toml"
        console.info("")
        console.info(f"Next: mailer -c {cfg} invite preview    (see one invitation)")
        console.info(f"      mailer -c {cfg} invite send       (write them all to the outbox)")


def check(
    connect: Annotated[
        bool,
        typer.Option(
            "--connect/--no-connect",
            help="Also connect and log in to the SMTP and IMAP servers (nothing is sent).",
        ),
    ] = True,
) -> None:
    """Pre-flight: validate config, contacts, templates and attachments; test the servers."""
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.project.check import run_check

    with handled():
        report = run_check(config_path(), now=SystemClock().now(), connect=connect)
        console.lines(report.lines)
        if not report.ok:
            raise typer.Exit(1)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The event, the contacts, and every round's messages by state."""
    from mailer import console
    from mailer.config.load import load_config
    from mailer.contacts import count_project_contacts, open_store
    from mailer.project.status import collect_status, status_json

    with handled():
        config = load_config(config_path())
        contacts = count_project_contacts(config)
        with open_store(config) as store:
            result = collect_status(config, contacts, store, all_problems=as_json)
        if as_json:
            console.print_json(status_json(result))
        else:
            console.status(result)
