"""Fixtures of the reliability suite, and the figures it reports.

Every test adds what it did to the session's :class:`Figures` (faults injected by kind, kills,
files tried, generated examples, messages lost and duplicated). With the environment variable
``MAILER_RELIABILITY_FIGURES=path.json`` the figures are written there at the end of the session;
``docs/reliability.md`` quotes them.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures_smtp import use_smtp_mode

FIGURES_ENV = "MAILER_RELIABILITY_FIGURES"


class Figures:
    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}
        self.notes: dict[str, object] = {}
        self.durations: dict[str, float] = {}

    def add(self, section: str, key: str, n: int = 1) -> None:
        self.counts.setdefault(section, Counter())[key] += n

    def merge(self, section: str, counts: Counter[str] | dict[str, int]) -> None:
        for key, n in counts.items():
            self.add(section, key, n)

    def note(self, key: str, value: object) -> None:
        self.notes[key] = value

    def as_dict(self) -> dict[str, object]:
        return {
            "counts": {s: dict(sorted(c.items())) for s, c in sorted(self.counts.items())},
            "notes": self.notes,
            "durations_s": {k: round(v, 1) for k, v in sorted(self.durations.items())},
        }


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


@pytest.fixture(
    params=[
        "chunked",
        pytest.param("lock-step", marks=pytest.mark.slow),
    ]
)
def both_modes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SMTP tests of the suite run pipelined with BDAT (servers offer PIPELINING and
    CHUNKING, as Postfix and Exchange Online do) in the everyday run, and with ``pytest --all``
    also in lock-step (neither). Pipelined with DATA (PIPELINING alone) shares the pipelined
    code and has its own runs in tests/test_smtp.py, test_pipeline.py and the fallback tests."""
    return use_smtp_mode(str(request.param), monkeypatch)


@pytest.fixture(autouse=True)
def _timed(request: pytest.FixtureRequest) -> Iterator[None]:
    began = time.monotonic()
    yield
    _FIGURES.durations[request.node.name] = time.monotonic() - began


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(FIGURES_ENV)
    if target and (_FIGURES.counts or _FIGURES.notes):
        Path(target).write_text(json.dumps(_FIGURES.as_dict(), indent=2) + "\n", encoding="utf-8")
