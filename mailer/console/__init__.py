"""All terminal output: tables, progress bars, summaries, error lines and ``--json``.

No other module prints. Output is plain when stdout is not a terminal (cron, pipes, tests).

Front door of the console: the shared output (:mod:`.output`), contacts (:mod:`.contacts`),
sending (:mod:`.sending`), ``init`` and ``status`` (:mod:`.project`). The CLI uses the area
modules of the other commands directly (``from mailer.console import release as show``).
"""

from __future__ import annotations

from mailer.console.contacts import contacts_check, contacts_listed, problems
from mailer.console.output import (
    confirm,
    counts,
    email_column,
    err,
    error,
    info,
    is_interactive,
    line,
    lines,
    out,
    print_json,
    show_table,
    warning,
)
from mailer.console.project import starter, status, status_json
from mailer.console.sending import (
    SendProgress,
    duration,
    notice_text,
    preview,
    send_report,
    send_summary,
    stop_line,
)

__all__ = [
    "SendProgress",
    "confirm",
    "contacts_check",
    "contacts_listed",
    "counts",
    "duration",
    "email_column",
    "err",
    "error",
    "info",
    "is_interactive",
    "line",
    "lines",
    "notice_text",
    "out",
    "preview",
    "print_json",
    "problems",
    "send_report",
    "send_summary",
    "show_table",
    "starter",
    "status",
    "status_json",
    "stop_line",
    "warning",
]
