"""The shared output: the two rich consoles, error and warning lines, tables, ``--json``, asking.

No other module prints. Output is plain when stdout is not a terminal (cron, pipes, tests).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from mailer.errors import MailerError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def show_table(table: Table) -> None:
    """Print *table* fitted to the terminal: cells wrap at spaces (the console's soft wrapping,
    right for lines, would keep every cell on one line and make rich split words instead)."""
    out.print(table, no_wrap=False)


def email_column(table: Table, header: str = "email") -> None:
    """An e-mail address column: kept whole while the other columns can wrap instead (at 80
    columns a long address is not split in the middle); folded only when nothing else can give."""
    table.add_column(header, no_wrap=True, overflow="fold")


def error(exc: MailerError, *, prefix: str = "") -> None:
    err.print(f"{prefix}error: {exc.message}", markup=False)
    if exc.next_step:
        err.print(f"hint: {exc.next_step}", markup=False)


def warning(text: str) -> None:
    err.print(f"warning: {text}", markup=False)


def info(text: str) -> None:
    out.print(text, markup=False)


def line(text: str) -> None:
    """A line with rich markup (only for our own fixed text)."""
    out.print(text)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm(question: str) -> bool:
    out.print(f"{question} [y/N] ", end="", markup=False)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes", "k", "kyllä", "j", "ja")


def counts(title: str, values: dict[str, int]) -> None:
    shown = "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())
    info(f"{title + ':':<12} {shown}")


def lines(items: Iterable[str]) -> None:
    for item in items:
        info(item)
