"""The command line: parse options, call one core function, hand the result to the console.

Core modules are imported inside the commands so that ``mailer --help`` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer import __version__
from mailer.cli import common
from mailer.cli.contacts import app as contacts_app
from mailer.cli.invite import app as invite_app
from mailer.cli.project import register as register_project
from mailer.cli.release import app as release_app
from mailer.cli.report import register as register_report
from mailer.cli.rsvp import app as rsvp_app
from mailer.cli.signin import register as register_signin
from mailer.cli.usage import Group

app = typer.Typer(
    name="mailer",
    help=(
        "Invite the media to an event with personal calendar invitations, read their answers, "
        "and release an embargoed press release on the minute."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=Group,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mailer {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="The project's config.toml (default: $MAILER_CONFIG, else ./config.toml).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    common.STATE.config_path = config


register_project(app)
register_report(app)
register_signin(app)
app.add_typer(contacts_app, name="contacts")
app.add_typer(invite_app, name="invite")
app.add_typer(release_app, name="release")
app.add_typer(rsvp_app, name="rsvp")


def main() -> None:
    """Console-script entry point."""
    app()
