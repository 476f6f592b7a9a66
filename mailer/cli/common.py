"""What every command shares: the chosen config file and turning errors into exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import typer


@dataclass
class _State:
    config_path: Path | None = None


STATE = _State()


def config_path() -> Path:
    from mailer.config import find_config  # lazy: keeps --help fast

    return find_config(STATE.config_path)


@contextlib.contextmanager
def handled(*, log_as: str = "") -> Iterator[None]:
    """Print a MailerError as one line and exit with its code; Ctrl-C exits 130.

    *log_as* (``mailer release send-due``): the line starts like a log line, with its time
    stamp and the command, for cron's log and mail.
    """
    # lazy: keeps --help fast (the console brings rich)
    from mailer import console
    from mailer.errors import ExitCode, MailerError

    try:
        yield
    except MailerError as exc:
        prefix = ""
        if log_as:
            from mailer.clock import SystemClock  # lazy: keeps --help fast
            from mailer.release import stamp

            prefix = f"{stamp(SystemClock().now())} {log_as}: "
        console.error(exc, prefix=prefix)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        console.err.print("interrupted: the journal is consistent; run the command again to resume")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def require_confirmation(yes: bool, question: str, *, action: str = "send") -> bool:
    """True to go on. Without a terminal and without --yes it refuses (exit 2).

    *action* is the verb of what the command would do ("send", "schedule", "cancel"): the
    refusal says that nothing was done of that kind and how to do it without asking.
    """
    # lazy: keeps --help fast
    from mailer import console
    from mailer.errors import UsageError

    if yes:
        return True
    if not console.is_interactive():
        done = {"send": "sent", "schedule": "scheduled", "cancel": "cancelled"}.get(action, "done")
        raise UsageError(
            f"not a terminal: nothing was {done}. Add --yes to {action} without asking "
            "(for example from a script), or run it in a terminal"
        )
    return console.confirm(question)
