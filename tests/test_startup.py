"""Start-up stays light: `mailer --help` must not import the heavy parts of the stack.

The time itself is measured by the benchmark suite (`bench/run.py --only startup`, target 0.3 s),
not here; this test keeps the reason it is fast: rendering, calendar, SMTP, SQLite and the rich
console are imported only by the commands that use them.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "jinja2",
    "icalendar",
    "aiosmtplib",
    "sqlite3",
    "rich",
    "babel",
    "email.mime",
    "mailer.messages.plan",
    "mailer.sending",
    "mailer.store",
    "mailer.rsvp",
)

_PROBE = """
import json, sys
sys.argv = ["mailer"] + sys.argv[1:]
from mailer.cli import main
try:
    main()
except SystemExit as stop:
    code = stop.code
else:
    code = 0
heavy = json.loads({heavy!r})
print("\\n@@" + json.dumps({{"code": code, "loaded": [m for m in heavy if m in sys.modules]}}))
"""


def _probe(*args: str) -> tuple[str, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=json.dumps(HEAVY)), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    output, _, tail = done.stdout.rpartition("\n@@")
    return output, json.loads(tail)


def test_help_imports_none_of_the_heavy_modules() -> None:
    output, facts = _probe("--help")
    assert facts["code"] == 0
    assert "invite" in output and "release" in output  # the real help, not an error
    assert facts["loaded"] == []


def test_subcommand_help_stays_light_too() -> None:
    output, facts = _probe("release", "--help")
    assert facts["code"] == 0
    assert "send-due" in output
    assert facts["loaded"] == []
