"""``mailer contacts ...``"""

from __future__ import annotations

from typing import Annotated

import typer

from mailer.cli.common import config_path, handled
from mailer.cli.usage import Command, Group

app = typer.Typer(
    help="Check and list the media contacts (contacts.csv).", no_args_is_help=True, cls=Group
)


@app.command("check", cls=Command)
def check() -> None:
    """Show the column mapping and every problem in contacts.csv.

    The other columns are listed with their template names (contact.<name>); problems as a
    table with the line of each; exit 1 when there are errors.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.config import load_config
    from mailer.contacts import check_project_contacts

    with handled():
        book = check_project_contacts(load_config(config_path()))
        console.contacts_check(book)
        if book.errors:
            raise typer.Exit(1)


@app.command("list", cls=Command)
def list_(
    tag: Annotated[
        str | None, typer.Option(metavar="TAG", help="Only contacts with this tag.")
    ] = None,
) -> None:
    """List the valid contacts."""
    # lazy: keeps --help fast
    from mailer import console
    from mailer.config import load_config
    from mailer.contacts import list_contacts

    with handled():
        console.contacts_listed(list_contacts(load_config(config_path()), tag=tag))


@app.command("suppress", cls=Command)
def suppress(
    email: Annotated[
        str,
        typer.Argument(metavar="EMAIL", help="The address to send nothing to.", show_default=False),
    ],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (kept with the address).")
    ] = "",
) -> None:
    """Never send anything to this address again.

    Puts it on the suppression list: no round (invitation, reminder, update, cancellation,
    release) sends to it.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import suppress_address

    with handled():
        config = load_config(config_path())
        result = suppress_address(config, email, reason=reason, now=SystemClock().now())
        show.suppressed(result.address, result.added)


@app.command("unsuppress", cls=Command)
def unsuppress(
    email: Annotated[
        str,
        typer.Argument(metavar="EMAIL", help="The address to allow again.", show_default=False),
    ],
) -> None:
    """Remove an address from the suppression list."""
    # lazy: keeps --help fast
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import unsuppress_address

    with handled():
        show.unsuppressed(unsuppress_address(load_config(config_path()), email))


@app.command("suppressed", cls=Command)
def suppressed() -> None:
    """List the addresses nothing is sent to.

    Opt-outs, dead addresses and manual entries, with the reason and the date.
    """
    # lazy: keeps --help fast
    from mailer.config import load_config
    from mailer.console import rsvp as show
    from mailer.rsvp import suppression_list

    with handled():
        show.suppressions(suppression_list(load_config(config_path())))
