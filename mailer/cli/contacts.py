"""``mailer contacts ...``"""

from __future__ import annotations

from typing import Annotated

import typer

from mailer.cli.common import config_path, handled

app = typer.Typer(help="Check and list the media contacts (contacts.csv).", no_args_is_help=True)


@app.command("check")
def check() -> None:
    """Report every problem in contacts.csv as a table; exit 1 when there are errors."""
    from mailer import console
    from mailer.rounds import load_project

    with handled():
        project = load_project(config_path())
        console.contacts_check(project.book)
        if project.book.errors:
            raise typer.Exit(1)


@app.command("list")
def list_(
    tag: Annotated[str | None, typer.Option(help="Only contacts with this tag.")] = None,
) -> None:
    """List the valid contacts."""
    from mailer import console
    from mailer.contacts import select_contacts
    from mailer.rounds import load_project

    with handled():
        project = load_project(config_path())
        console.contacts_list(select_contacts(project.book.contacts, tag=tag))
        if project.book.errors:
            console.warning(
                f"{len(project.book.errors)} rows have errors and are not listed; "
                "run 'mailer contacts check'"
            )
