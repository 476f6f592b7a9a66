"""``--help`` at 80 columns and usage errors (issue 13, finding 13).

Every command's help is rendered as the officer sees it in an 80-column terminal: the command
lists carry whole sentences (never cut with "..." or "…"), and no option or argument shows a
Python type (``<int range> [x>=1]``, ``{email}``, ``<list[Path]>``). A wrong option or value is
one ``error:`` line naming the option, with the valid values, and exit code 2.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from mailer.cli import app
from tests.helpers import make_project

runner = CliRunner()

JARGON = [
    re.compile(p)
    for p in (r"<int", r"\[x>=", r"\[x<=", r"<=x", r"\{", r"list\[", r"<str>", r"<path>", r"<bool>")
]


def _commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((" ".join(path), command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


def help_at_80(path: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, [*path.split(), "--help"], prog_name="mailer")
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def command_list(text: str) -> list[str]:
    """The lines of the ``Commands:`` section."""
    lines = text.splitlines()
    if "Commands:" not in lines:
        return []
    start = lines.index("Commands:") + 1
    return [line for line in lines[start:] if line.strip()]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[p or "mailer" for p, _ in COMMANDS])
def test_help_at_80_columns_has_whole_summaries_and_no_type_jargon(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = help_at_80(path, monkeypatch)
    for line in text.splitlines():
        assert len(line) <= 80, line
        for pattern in JARGON:
            assert not pattern.search(line), f"'mailer {path} --help': {line!r}"
    for line in command_list(text):
        assert "…" not in line and not line.endswith("..."), f"cut: {line!r}"
        assert line.endswith("."), f"'mailer {path} --help' summary is not one sentence: {line!r}"


def test_the_command_lists_read_as_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    assert command_list(help_at_80("invite", monkeypatch)) == [
        "  preview  Show one invitation exactly as it would be sent.",
        "  send     Send each contact a personal invitation.",
        "  remind   Remind invited contacts who have not answered.",
        "  update   Send the changed event to everyone invited.",
        "  cancel   Cancel the event in everyone's calendar.",
    ]


def test_arguments_and_options_are_shown_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    text = help_at_80("rsvp set", monkeypatch).splitlines()
    assert text[0] == "Usage: mailer rsvp set [OPTIONS] EMAIL"
    assert "  EMAIL  The contact's e-mail address.  [required]" in text
    assert "  --status yes|no|maybe  The answer.  [required]" in text
    assert "  --guests N             People coming along (photographer, colleague)." in text
    send = help_at_80("invite send", monkeypatch).splitlines()
    assert "  --limit N          Send at most N messages in this run." in send
    imported = help_at_80("rsvp import", monkeypatch).splitlines()
    assert imported[0] == "Usage: mailer rsvp import [OPTIONS] PATH..."


# --- usage errors --------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["rsvp", "list", "--status", "kyllä"],
            "error: --status: 'kyllä' is not one of 'yes', 'no', 'maybe', 'none'",
        ),
        (
            ["rsvp", "set", "jorgen.bystrom@yle.example", "--status", "kyllä"],
            "error: --status: 'kyllä' is not one of 'yes', 'no', 'maybe'",
        ),
        (["rsvp", "set", "jorgen.bystrom@yle.example"], "error: missing --status yes|no|maybe"),
        (["rsvp", "set"], "error: missing EMAIL"),
        (
            ["rsvp", "set", "jorgen.bystrom@yle.example", "--status", "yes", "--guests", "-1"],
            "error: --guests: must be 0 or more",
        ),
        (
            ["rsvp", "set", "jorgen.bystrom@yle.example", "--status", "yes", "--guests", "two"],
            "error: --guests: must be a whole number",
        ),
        (["invite", "send", "--limit", "0"], "error: --limit: must be 1 or more"),
        (["rsvp", "export", "--out", "x.csv"], "error: no such option: --out"),
        (["invite", "sned"], "error: no such command 'sned'; did you mean 'send'?"),
    ],
)
def test_a_usage_error_is_one_error_line_and_exit_2(
    project: Path, args: list[str], error: str
) -> None:
    result = runner.invoke(app, args, prog_name="mailer")
    assert result.exit_code == 2, result.output
    command = "mailer invite" if args[1] == "sned" else f"mailer {args[0]} {args[1]}"
    assert result.stderr.splitlines() == [error, f"hint: see '{command} --help'"]
    assert result.stdout == ""


def test_a_group_without_a_command_still_shows_its_help(project: Path) -> None:
    result = runner.invoke(app, ["invite"], prog_name="mailer")
    assert result.exit_code == 2
    assert "Commands:" in result.output
