"""``mailer release ...``: the embargoed press release."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailer.cli.common import config_path, handled, require_confirmation
from mailer.cli.usage import Command, Group

if TYPE_CHECKING:
    from mailer.clock import Clock
    from mailer.config import Config

app = typer.Typer(
    help="Schedule and send the embargoed press release.", no_args_is_help=True, cls=Group
)

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
TrustClockOpt = Annotated[
    bool,
    typer.Option(
        "--trust-clock",
        help="Send even if a second source contradicts the clock (the check is still recorded).",
    ),
]


@app.command("schedule", cls=Command)
def schedule(
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help='Embargo as local time "YYYY-MM-DD HH:MM[:SS]" (default: [release] embargo).',
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="Zone of --at, e.g. Europe/Helsinki (default: the event's).",
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option("--tag", metavar="TAG", help="Only contacts with this tag get the release."),
    ] = None,
    no_prebrief: Annotated[
        bool,
        typer.Option("--no-prebrief", help="Do not send the pre-brief ([release] prebrief_tag)."),
    ] = False,
    yes: YesOpt = False,
) -> None:
    """Schedule the release and check it now.

    Checks the time, renders and checks every message now, and shows when they leave.
    The time must be in the future and exist exactly once in its zone (daylight saving time).
    Contacts with [release] prebrief_tag get the release now, marked embargoed, and not again.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import release as show
    from mailer.errors import ExitCode
    from mailer.release import schedule_release

    clock = SystemClock()
    with handled():
        config = load_config(config_path())
        result = schedule_release(
            config,
            at=at,
            tz=tz,
            tag=tag,
            prebrief=not no_prebrief,
            clock=clock,
            show=show.proposal,
            confirm=lambda proposal: require_confirmation(
                yes, show.schedule_question(proposal), action="schedule"
            ),
        )
        if result.schedule is None:
            console.info("Not scheduled.")
            raise typer.Exit(int(ExitCode.ERROR))
        show.scheduled(result.schedule)
        due = result.proposal.prebrief_due
        if due:
            many = "1 contact" if len(due) == 1 else f"{len(due)} contacts"
            question = f"Send the embargoed pre-brief to {many} now?"
            if require_confirmation(yes, question):
                _send_prebrief(config, clock, dry_run=False)


def _send_prebrief(config: Config, clock: Clock, *, dry_run: bool) -> None:
    """Send (or check) the pre-brief with a progress bar; exit 3 when something failed."""
    # lazy: keeps --help fast
    from mailer import console
    from mailer.console import release as show
    from mailer.errors import ExitCode
    from mailer.release import send_prebrief

    progress = console.SendProgress("Sending the pre-brief", clock=clock, zone=config.zone)
    try:
        count, report = send_prebrief(
            config,
            clock=clock,
            progress=progress,
            dry_run=dry_run,
            interactive=console.is_interactive(),
        )
    finally:
        progress.stop()
    show.prebrief(count, report, dry_run=dry_run)
    if report is not None and not report.ok:
        raise typer.Exit(int(ExitCode.FAILED))


@app.command("prebrief", cls=Command)
def prebrief(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render and check the pre-brief; send nothing.")
    ] = False,
    yes: YesOpt = False,
) -> None:
    """Send the embargoed pre-brief to trusted contacts.

    The release now, marked embargoed, to contacts with [release] prebrief_tag; they are then
    not sent the release again at the embargo.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.errors import ExitCode

    clock = SystemClock()
    with handled():
        config = load_config(config_path())
        if not dry_run and not require_confirmation(yes, "Send the embargoed pre-brief now?"):
            console.info("Nothing was sent.")
            raise typer.Exit(int(ExitCode.ERROR))
        _send_prebrief(config, clock, dry_run=dry_run)


@app.command("send-due", cls=Command)
def send_due(
    no_lock: Annotated[
        bool,
        typer.Option("--no-lock", hidden=True, help="Tests: rely on the journal's claims alone."),
    ] = False,
    trust_clock: TrustClockOpt = False,
) -> None:
    """Send the release when it is due (run by cron).

    The cron entry point, every minute; never early.
    Not due: one log line, exit 0. Due within a minute: prepare, wait for the embargo second,
    send. Late but within [release] grace_minutes: send now. Later: marked missed, not sent.
    Before sending it checks the clock against a second source; exit 5 when they disagree.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import release as show
    from mailer.release import Command, run_release

    with handled(log_as="mailer release send-due"):
        config = load_config(config_path())
        result = run_release(
            config,
            command=Command.SEND_DUE,
            clock=SystemClock(),
            use_lock=not no_lock,
            trust_clock=trust_clock,
        )
        show.run_line(result)
        raise typer.Exit(int(result.exit_code))


@app.command("wait", cls=Command)
def wait(trust_clock: TrustClockOpt = False) -> None:
    """Wait with a countdown and send on the second.

    In the foreground, without cron: sends on the embargo second.
    Every minute of the countdown it runs send-due's pre-flight (the clock included).
    Ctrl-C stops it; nothing is left half done, and running it again resumes.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import release as show
    from mailer.release import Command, run_release

    clock = SystemClock()
    with handled():
        config = load_config(config_path())
        progress = show.ReleaseProgress(clock)
        try:
            result = run_release(
                config,
                command=Command.WAIT,
                clock=clock,
                progress=progress,
                on_wait=progress.waiting,
                on_check=progress.checked,
                interactive=console.is_interactive(),
                trust_clock=trust_clock,
            )
        finally:
            progress.stop()
        show.run_result(result)
        raise typer.Exit(int(result.exit_code))


@app.command("send-now", cls=Command)
def send_now(
    late_ok: Annotated[
        bool, typer.Option("--late-ok", help="Yes, send it now although the embargo has passed.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Also send again the messages that failed.")
    ] = False,
    resend_in_doubt: Annotated[
        bool,
        typer.Option(
            "--resend-in-doubt",
            help="Also send again messages whose delivery is unknown (they may arrive twice).",
        ),
    ] = False,
    trust_clock: TrustClockOpt = False,
    yes: YesOpt = False,
) -> None:
    """Send the release now, deliberately late.

    For example after it was missed.
    Never before the embargo; each contact still gets it at most once.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import release as show
    from mailer.errors import ExitCode, UsageError
    from mailer.release import Command, run_release

    clock = SystemClock()
    with handled():
        config = load_config(config_path())
        if not late_ok:
            raise UsageError(
                "send-now sends the release after its embargo: add --late-ok to confirm that "
                "it is deliberately late (to send on the second, use: mailer release wait)"
            )
        if not require_confirmation(yes, "Send the release now, after its embargo?"):
            console.info("Nothing was sent.")
            raise typer.Exit(int(ExitCode.ERROR))
        progress = console.SendProgress("Sending the release", clock=clock, zone=config.zone)
        try:
            result = run_release(
                config,
                command=Command.SEND_NOW,
                clock=clock,
                progress=progress,
                late_ok=late_ok,
                retry_failed=retry_failed,
                resend_in_doubt=resend_in_doubt,
                interactive=console.is_interactive(),
                trust_clock=trust_clock,
            )
        finally:
            progress.stop()
        show.run_result(result)
        raise typer.Exit(int(result.exit_code))


@app.command("status", cls=Command)
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show who got the release when, and the runs.

    The schedule and its state, each recipient's delivery relative to the embargo, and every
    run of send-due, wait and send-now.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import release as show
    from mailer.release import read_status

    with handled():
        result = read_status(load_config(config_path()), now=SystemClock().now())
        if as_json:
            show.status_json(result)
        else:
            show.status(result)


@app.command("cancel", cls=Command)
def cancel(yes: YesOpt = False) -> None:
    """Cancel the scheduled release.

    A run in progress stops before its next message.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.clock import SystemClock
    from mailer.config import load_config
    from mailer.console import release as show
    from mailer.errors import ExitCode
    from mailer.release import cancel_release

    with handled():
        config = load_config(config_path())
        if not require_confirmation(yes, "Cancel the scheduled release?", action="cancel"):
            console.info("Not cancelled.")
            raise typer.Exit(int(ExitCode.ERROR))
        show.cancelled(cancel_release(config, now=SystemClock().now()))


@app.command("cron", cls=Command)
def cron(
    systemd: Annotated[
        bool, typer.Option("--systemd", help="Print a systemd timer and service instead.")
    ] = False,
) -> None:
    """Print the crontab line that sends the release.

    It runs send-due every minute, with absolute paths and its own PATH.
    """
    # lazy: keeps --help fast
    from mailer.config import load_config
    from mailer.console import release as show
    from mailer.release import cron_setup

    with handled():
        config = load_config(config_path())
        show.cron(cron_setup(config, program=_program()), systemd=systemd)


def _program() -> list[str]:
    """How cron should start this mailer: its executable next to the interpreter, else -m."""
    first = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if first is not None and first.name == "mailer" and os.access(first, os.X_OK):
        return [str(first.absolute())]
    beside = Path(sys.executable).parent / "mailer"
    if os.access(beside, os.X_OK):
        return [str(beside.absolute())]
    found = shutil.which("mailer")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "mailer"]
