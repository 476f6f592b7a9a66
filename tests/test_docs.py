"""The documentation: the generated CLI reference, the MkDocs site and the short README."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from mailer.cli import app

ROOT = Path(__file__).resolve().parent.parent
CLI_MD = ROOT / "docs" / "cli.md"
README = ROOT / "README.md"
README_LIMIT = 14_000  # bytes: the README is a front page; details go to docs/
MAIN_COMMAND = "python3 -m venv .venv && .venv/bin/pip install"  # .ci/run greps for this line
TEST_COMMAND = "bash scripts/test.sh"
REGENERATE = "run 'python scripts/cli_reference.py' and commit docs/cli.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "scripts" / "cli_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _listed_commands(*group: str) -> list[str]:
    """The command names that ``mailer [group] --help`` lists under "Commands:"."""
    result = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    _, found, rest = result.output.partition("\nCommands:\n")
    assert found, f"'mailer {' '.join(group)} --help' lists no commands:\n{result.output}"
    return [line.split()[0] for line in rest.splitlines() if line.startswith("  ") and line.split()]


def test_cli_reference_is_up_to_date() -> None:
    assert CLI_MD.exists(), f"docs/cli.md is missing: {REGENERATE}"
    expected = _generator().render()
    actual = CLI_MD.read_text(encoding="utf-8")
    assert actual == expected, f"docs/cli.md differs from the Typer app's help: {REGENERATE}"


def test_cli_reference_does_not_depend_on_the_terminal_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generator = _generator()
    monkeypatch.setenv("COLUMNS", "40")
    narrow = generator.render()
    monkeypatch.setenv("COLUMNS", "200")
    assert generator.render() == narrow


def test_every_command_that_help_lists_is_in_the_cli_reference() -> None:
    text = CLI_MD.read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (mailer.*)$", text, flags=re.MULTILINE))
    listed = []
    for name in _listed_commands():
        listed.append(f"mailer {name}")
        if "\nCommands:\n" in CliRunner().invoke(app, [name, "--help"]).output:
            listed += [f"mailer {name} {sub}" for sub in _listed_commands(name)]
    assert len(listed) > 20, listed
    missing = [path for path in listed if path not in headings]
    assert not missing, f"not in docs/cli.md: {missing}; {REGENERATE}"


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    # mkdocs and mkdocs-material are declared dependencies (the docs and test extras): a missing
    # one is a failure, not a reason to skip.
    for module in ("mkdocs", "material"):
        assert importlib.util.find_spec(module) is not None, (
            f"{module} is not installed: pip install -e '.[docs]'"
        )
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "cli" / "index.html").exists()


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    data = README.read_bytes()
    assert len(data) < README_LIMIT, (
        f"README.md is {len(data):,} bytes (limit {README_LIMIT:,}): move details to docs/"
    )
    text = data.decode("utf-8")
    before_sections = text.split("\n## ", 1)[0]
    blocks = re.findall(r"^```\w*\n(.*?)^```", before_sections, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 2, "the README must start with the main command and the test command"
    main, tests = (block.strip() for block in blocks[:2])
    assert main.startswith(MAIN_COMMAND) and "\n" not in main, main
    assert tests == TEST_COMMAND, tests
    # The line .ci/run picks (grep -m1 '^python3 -m venv .venv && .venv/bin/pip install').
    first = next(line for line in text.splitlines() if line.startswith(MAIN_COMMAND))
    assert first == main
