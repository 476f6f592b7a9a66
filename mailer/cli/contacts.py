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
    from mailer.contacts import load_project

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
    from mailer.contacts import load_project
    from mailer.contacts.book import select_contacts

    with handled():
        project = load_project(config_path())
        console.contacts_list(select_contacts(project.book.contacts, tag=tag))
        if project.book.errors:
            console.warning(
                f"{len(project.book.errors)} rows have errors and are not listed; "
                "run 'mailer contacts check'"
            )


@app.command("suppress")
def suppress(
    email: Annotated[
        str, typer.Argument(help="The address to send nothing to.", show_default=False)
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the address).")] = "",
) -> None:
    """Put an address on the suppression list: no round (invitation, reminder, update,
    cancellation, release) sends to it."""
    from mailer.clock import SystemClock
    from mailer.config.load import load_config
    from mailer.console import rsvp as show
    from mailer.contacts import open_store
    from mailer.rsvp.decisions import suppress as add

    with handled():
        config = load_config(config_path())
        with open_store(config) as store:
            address, added = add(store, email, reason=reason or "manual", now=SystemClock().now())
        show.suppressed(address, added)


@app.command("unsuppress")
def unsuppress(
    email: Annotated[str, typer.Argument(help="The address to allow again.", show_default=False)],
) -> None:
    """Remove an address from the suppression list."""
    from mailer.config.load import load_config
    from mailer.console import rsvp as show
    from mailer.contacts import open_store
    from mailer.rsvp.decisions import unsuppress as remove

    with handled():
        config = load_config(config_path())
        with open_store(config) as store:
            address = remove(store, email)
        show.unsuppressed(address)


@app.command("suppressed")
def suppressed() -> None:
    """List the suppression list (opt-outs, dead addresses, manual entries)."""
    from mailer.config.load import load_config
    from mailer.console import rsvp as show
    from mailer.contacts import open_store

    with handled():
        config = load_config(config_path())
        with open_store(config) as store:
            items = store.rsvps.suppressions()
        show.suppressions(items)
