"""``mailer init``, ``mailer check`` and ``mailer status``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import config_path, handled
from mailer.cli.usage import Command
from mailer.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command("init", cls=Command)(init)
    app.command("check", cls=Command)(check)
    app.command("status", cls=Command)(status)


def init(
    directory: Annotated[
        Path,
        typer.Argument(metavar="FOLDER", help="Where to create the project (created if missing)."),
    ] = Path("."),
) -> None:
    """Write a working starter project to try and edit.

    The config, contacts, templates and programme.pdf of an example event. Existing files are
    never overwritten; the ones skipped are listed.
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
    """Check everything before sending, servers included.

    Validates the config, contacts, templates and attachments, renders every round, and logs in
    to the SMTP and IMAP servers (nothing is sent).
    """
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
    """Show the event, the contacts and every round's counts.

    Each round's messages by state (sent, failed, in doubt, pending, skipped), the answers and
    the release.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.project import project_status

    with handled():
        result = project_status(
            load_config(config_path()), now=SystemClock().now(), all_problems=as_json
        )
        if as_json:
            console.status_json(result)
        else:
            console.status(result)
