"""``mailer invite ...``: the invitation round."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailer.cli.common import config_path, handled, require_confirmation

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mailer.contacts import Project
    from mailer.messages.plan import RoundSpec
    from mailer.models import Contact
    from mailer.store import Store

app = typer.Typer(help="Preview and send the personal invitations.", no_args_is_help=True)

TagOpt = Annotated[str | None, typer.Option("--tag", help="Only contacts with this tag.")]
OnlyOpt = Annotated[str | None, typer.Option("--only", help="Only this e-mail address.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@app.command("preview")
def preview(
    to: Annotated[
        str | None, typer.Option("--to", help="The contact to render for (default: the first).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the message to this .eml file.")
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Print the whole MIME message.")] = False,
) -> None:
    """Show one rendered invitation exactly as it would be sent (nothing is journaled)."""
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.contacts import load_project, recipients
    from mailer.messages.plan import build_plan, invitation_spec
    from mailer.sending.outbox import write_private

    with handled():
        project = load_project(config_path())
        contacts = recipients(project, tag=None, only=to)[:1]
        plan = build_plan(
            project.config,
            contacts,
            invitation_spec(project.config),
            now=SystemClock().now(),
            store=None,
        )
        item = plan.items[0]
        console.preview(item, raw=raw)
        if out is not None:
            write_private(out, item.data)
            console.info(f"\nwrote {out}")


@app.command("send")
def send(
    tag: TagOpt = None,
    only: OnlyOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Send at most N messages in this run.")
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
    """Send one personal invitation (with a calendar invitation) to each contact.

    The whole batch is rendered and checked first; rerunning sends nothing twice.
    """
    from dataclasses import replace

    from mailer.contacts import load_project
    from mailer.invitations.followups import invitation_sequence
    from mailer.messages.plan import invitation_spec

    with handled():
        project = load_project(config_path())
        config = project.config
        run_round(
            project,
            lambda store: (
                replace(invitation_spec(config), sequence=invitation_sequence(config, store)),
                None,
            ),
            noun="invitations",
            tag=tag,
            only=only,
            limit=limit,
            dry_run=dry_run,
            yes=yes,
            retry_failed=retry_failed,
            resend_in_doubt=resend_in_doubt,
        )


def run_round(
    project: Project,
    choose: Callable[[Store], tuple[RoundSpec, Sequence[Contact] | None] | None],
    *,
    noun: str,
    tag: str | None,
    only: str | None,
    limit: int | None,
    dry_run: bool,
    yes: bool,
    retry_failed: bool = False,
    resend_in_doubt: bool = False,
) -> None:
    """Plan, summarise, confirm, send and report one round (shared by invite subcommands)."""
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import credentials
    from mailer.contacts import loading
    from mailer.errors import ExitCode
    from mailer.invitations import followups as followup
    from mailer.invitations import rounds

    clock = SystemClock()
    with loading.open_store(project.config) as store:
        chosen = choose(store)
        if chosen is None:
            console.info(f"Nothing to send: the {noun} would not change anything.")
            return
        spec, contacts = chosen
        prepared = rounds.prepare(
            project,
            spec,
            store,
            contacts=contacts,
            now=clock.now(),
            tag=tag,
            only=only,
            limit=limit,
            retry_failed=retry_failed,
            resend_in_doubt=resend_in_doubt,
            suppressed=rounds.suppressed(store),
        )
        if prepared.recovery.in_doubt or prepared.recovery.requeued:
            console.warning(
                f"an earlier run stopped: {prepared.recovery.requeued} messages requeued, "
                f"{prepared.recovery.in_doubt} in doubt"
            )
        if prepared.requeued:
            console.info(f"Requeued {prepared.requeued} messages on request.")
        console.send_summary(prepared.summary)
        for text in rounds.delivery_plan_lines(
            project.config, len(prepared.plan.items), clock.now(), store=store
        ):
            console.info(text)
        if dry_run:
            console.info("Dry run: every message was rendered and checked; nothing was sent.")
            return
        if not prepared.plan.items:
            console.info(f"Nothing to send: all {noun} were handled by earlier runs.")
            return
        if not require_confirmation(yes, f"Send {len(prepared.plan.items)} {noun}?"):
            console.info("Cancelled; nothing was sent.")
            raise typer.Exit(int(ExitCode.ERROR))
        password = credentials.password_for(project.config, interactive=console.is_interactive())
        plan = rounds.commit(project, prepared, store, now=clock.now())
        followup.record_round(project.config, store, spec)
        progress = console.SendProgress(f"Sending {noun}")
        try:
            report = rounds.send(
                project, plan, store, clock=clock, progress=progress, password=password
            )
        finally:
            progress.stop()
        console.send_report(report, already_done=len(plan.done))
        if not report.ok:
            raise typer.Exit(int(ExitCode.FAILED))


DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Render and check; send nothing.")]


def _follow_up(kind: str, noun: str, *, dry_run: bool, yes: bool) -> None:
    from mailer.contacts import load_project
    from mailer.invitations import followups as followup

    with handled():
        project = load_project(config_path())
        run_round(
            project,
            lambda store: followup.choose_round(kind, project.config, project.book, store),
            noun=noun,
            tag=None,
            only=None,
            limit=None,
            dry_run=dry_run,
            yes=yes,
        )


@app.command("remind")
def remind(dry_run: DryRunOpt = False, yes: YesOpt = False) -> None:
    """Send a reminder to invited contacts who have not answered (not to bounced or opted-out ones).

    The reminder carries the calendar invitation again, so the Accept button is one click away.
    """
    _follow_up("reminder", "reminders", dry_run=dry_run, yes=yes)


@app.command("update")
def update(dry_run: DryRunOpt = False, yes: YesOpt = False) -> None:
    """Send the changed event (edit [event] in config.toml first) to everyone invited.

    Same calendar UID, SEQUENCE + 1: calendar clients update the existing entry.
    """
    _follow_up("update", "updates", dry_run=dry_run, yes=yes)


@app.command("cancel")
def cancel(dry_run: DryRunOpt = False, yes: YesOpt = False) -> None:
    """Cancel the event: send METHOD:CANCEL to everyone invited (calendars drop the entry)."""
    _follow_up("cancel", "cancellations", dry_run=dry_run, yes=yes)
