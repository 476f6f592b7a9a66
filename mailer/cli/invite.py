"""``mailer invite ...``: the invitation round."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailer.cli.common import config_path, handled, require_confirmation
from mailer.cli.usage import Command, Group, at_least

app = typer.Typer(
    help="Preview and send the personal invitations.", no_args_is_help=True, cls=Group
)

TagOpt = Annotated[
    str | None, typer.Option("--tag", metavar="TAG", help="Only contacts with this tag.")
]
OnlyOpt = Annotated[
    str | None, typer.Option("--only", metavar="EMAIL", help="Only this e-mail address.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@app.command("preview", cls=Command)
def preview(
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="EMAIL", help="The contact to render for (default: the first)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="Also write the message to this .eml file."),
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Print the whole MIME message.")] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Write the HTML part to this file (default: preview-<language>.html next to "
            "config.toml).",
        ),
    ] = None,
    open_html: Annotated[
        bool, typer.Option("--open", help="Open the HTML part in the default web browser.")
    ] = False,
) -> None:
    """Show one invitation exactly as it would be sent.

    Rendered for one contact, with its calendar invitation and attachments; nothing is
    journaled or sent. The text part is shown here; the HTML part (what Outlook shows) is
    written to a file (mode 0600: it holds the contact's data). A warning names each fact of
    config.toml that one part names and the other does not.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import invitations as show
    from mailer.invitations import preview_invitation

    with handled():
        config = load_config(config_path())
        result = preview_invitation(config, to=to, now=SystemClock().now(), out=out, html=html)
        show.previewed(result, raw=raw, open_html=open_html)


@app.command("send", cls=Command)
def send(
    tag: TagOpt = None,
    only: OnlyOpt = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            metavar="N",
            callback=at_least(1),
            help="Send at most N messages in this run.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render and check everything; send nothing.")
    ] = False,
    yes: YesOpt = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Send again to contacts whose message failed.")
    ] = False,
    resend_in_doubt: Annotated[
        bool,
        typer.Option(
            "--resend-in-doubt",
            help="Send again messages whose delivery is unknown (they may arrive twice).",
        ),
    ] = False,
) -> None:
    """Send each contact a personal invitation.

    One message per contact with a calendar invitation. The whole batch is rendered and checked
    first; rerunning sends nothing twice.
    """
    _round(
        "invitation",
        tag=tag,
        only=only,
        limit=limit,
        dry_run=dry_run,
        yes=yes,
        retry_failed=retry_failed,
        resend_in_doubt=resend_in_doubt,
    )


def _round(
    name: str,
    *,
    dry_run: bool,
    yes: bool,
    tag: str | None = None,
    only: str | None = None,
    limit: int | None = None,
    retry_failed: bool = False,
    resend_in_doubt: bool = False,
) -> None:
    """One round of any invite subcommand, shown and confirmed on the terminal."""
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import invitations as show
    from mailer.invitations import RoundKind, run_round

    kind = RoundKind(name)
    clock = SystemClock()
    with handled():
        config = load_config(config_path())
        progress = console.SendProgress(f"Sending {kind.noun}", clock=clock, zone=config.zone)
        rendering = show.RenderProgress("Rendering and checking", clock=clock)
        try:
            result = run_round(
                config,
                kind,
                clock=clock,
                show=lambda plan: show.round_plan(plan, progress),
                confirm=lambda plan: require_confirmation(yes, show.send_question(plan)),
                progress=progress,
                rendering=rendering,
                interactive=console.is_interactive(),
                tag=tag,
                only=only,
                limit=limit,
                dry_run=dry_run,
                retry_failed=retry_failed,
                resend_in_doubt=resend_in_doubt,
            )
        finally:
            rendering.stop()
            progress.stop()
        show.round_result(result)
        if result.exit_code:
            raise typer.Exit(int(result.exit_code))


DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Render and check; send nothing.")]


@app.command("remind", cls=Command)
def remind(dry_run: DryRunOpt = False, yes: YesOpt = False) -> None:
    """Remind invited contacts who have not answered.

    Not bounced or opted-out ones. The reminder carries the calendar invitation again, so the
    Accept button is one click away.
    """
    _round("reminder", dry_run=dry_run, yes=yes)


@app.command("update", cls=Command)
def update(dry_run: DryRunOpt = False, yes: YesOpt = False) -> None:
    """Send the changed event to everyone invited.

    Edit [event] in config.toml first. Same calendar UID, SEQUENCE + 1: calendar clients update
    the existing entry.
    """
    _round("update", dry_run=dry_run, yes=yes)


@app.command("cancel", cls=Command)
def cancel(dry_run: DryRunOpt = False, yes: YesOpt = False) -> None:
    """Cancel the event in everyone's calendar.

    Sends METHOD:CANCEL to everyone invited; calendar clients drop the entry.
    """
    _round("cancel", dry_run=dry_run, yes=yes)
