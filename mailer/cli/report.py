"""``mailer report``: the campaign as one HTML file to open in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import config_path, handled
from mailer.cli.usage import Command


def register(app: typer.Typer) -> None:
    app.command("report", cls=Command)(report)


def report(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write it (default: report.html in the project folder).",
            show_default=False,
        ),
    ] = None,
    open_it: Annotated[
        bool, typer.Option("--open", help="Open it in the default web browser.")
    ] = False,
) -> None:
    """Write the campaign report: one HTML file that opens offline.

    The invitation round, the answers by language, outlet type and day, the headcounts, the
    review queue and the release, with a chart and a table for each. It prints on A4.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import report as show
    from mailer.report import write_report

    with handled():
        result = write_report(
            load_config(config_path()), output=output, now=SystemClock().now(), open_it=open_it
        )
        show.report_written(result)
        if open_it:
            show.report_opened(result.opened)
