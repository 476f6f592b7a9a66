"""``mailer init``, ``mailer check`` and ``mailer status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import config_path, handled
from mailer.errors import ExitCode


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
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.project import write_starter

    with handled():
        console.starter(write_starter(directory, now=SystemClock().now()), directory)


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
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.project import run_check

    with handled():
        clock = SystemClock()
        report = run_check(config_path(), now=clock.now(), connect=connect, clock=clock)
        console.lines(report.lines)
        if report.sign_in_required:
            raise typer.Exit(ExitCode.SIGN_IN)
        if not report.ok:
            raise typer.Exit(1)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The event, the contacts, and every round's messages by state."""
    # lazy: keeps --help fast
    from mailer import console
    from mailer.config import load_config
    from mailer.project import project_status

    with handled():
        result = project_status(load_config(config_path()), all_problems=as_json)
        if as_json:
            console.status_json(result)
        else:
            console.status(result)
