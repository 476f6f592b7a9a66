"""Words for numbers, shared by every place that builds a line for the officer."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 message``, ``2 messages``; *many* for irregular plurals (``1 reply``, ``2 replies``)."""
    return f"{n} {noun if n == 1 else many or noun + 's'}"
