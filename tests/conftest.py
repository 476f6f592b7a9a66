"""Shared fixtures, and which tests the everyday ``pytest`` runs.

Area-specific fixtures live in the plugin modules listed below.

The everyday loop, ``pytest``, runs the fast tests only (a few minutes on a 2-core machine): tests
marked ``slow`` are deselected, and the run ends with a line saying how many and how to run them.
``pytest --all`` runs everything, and so do ``bash scripts/test.sh`` (the README's test command)
and CI (``.ci/run`` calls it). An explicit ``-m`` expression also replaces the default filter:
``pytest -m slow`` runs only the slow tests, ``pytest -m imap`` every Dovecot test,
``pytest -m postfix`` the Postfix submission tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures_smtp",
    "tests.fixtures_imap",
    "tests.fixtures_oauth",
    "tests.fixtures_oauth_imap",
    "tests.fixtures_postfix",
]

RUN_ALL = "--all"
_DESELECTED_SLOW = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        RUN_ALL,
        action="store_true",
        default=False,
        help="also run the tests marked slow (scripts/test.sh and CI do); without it, and "
        "without -m, the everyday pytest leaves them out",
    )


def _named(config: pytest.Config, item: pytest.Item) -> bool:
    """Whether *item* was named on the command line (``path::test``, with or without params)."""
    for arg in config.args:
        path, _, name = arg.partition("::")
        if not name or item.path != (config.invocation_params.dir / path).resolve():
            continue
        own = item.nodeid.partition("::")[2]
        if own == name or own.startswith((f"{name}[", f"{name}::")):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the slow tests unless --all or an explicit -m expression asks otherwise
    (a slow test named on the command line, ``pytest path::test``, runs too)."""
    if config.getoption(RUN_ALL) or config.getoption("markexpr"):
        return
    slow = [i for i in items if i.get_closest_marker("slow") and not _named(config, i)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [i for i in items if i not in slow]
    config.stash[_DESELECTED_SLOW] = len(slow)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    deselected = config.stash.get(_DESELECTED_SLOW, 0)
    if deselected:
        terminalreporter.write_line(
            f"{deselected} slow tests deselected (marker 'slow'); run everything with "
            f"'pytest {RUN_ALL}' (as scripts/test.sh and CI do), only them with 'pytest -m slow'",
            yellow=True,
        )


# A fixed "now": 29 November 2026 10:00 UTC, well before the starter project's event.
FIXED_NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def fixed_now() -> dt.datetime:
    return FIXED_NOW


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the user's config, keyring or terminal settings."""
    monkeypatch.delenv("MAILER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    yield
