"""Inputs that make a backtracking regular expression work hardest, built from the pattern.

For each repetition in a pattern (``x*``, ``x+``, ``x{2,}``, ``x{1,300}``), :func:`attacks`
builds the text that matches the pattern up to that repetition, pumps the repetition's body
until the text is *size* characters long and then stops, without whatever the pattern needs
next (the "terminator"). A backtracking matcher that is not linear tries the pumped run again
from many places: that is the classic catastrophic input. Also tried: each such prefix repeated
(many short almost-matches), every alternative of every branch, and a few generic runs (white
space, one character, a character and a line break) that mail makes easy to send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from re import _constants as C
from re import _parser as P
from typing import Any

GENERIC = (
    " ",
    "\n",
    " \n",
    "\t",
    "a",
    "a ",
    "a\n",
    "@",
    "a@",
    "<",
    "<a",
    "=?",
    "-",
    ".",
    "a.",
    "5",
)


class _Stop(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


class _Sampler:
    """A short text that the pattern matches; optionally pumped at one repetition."""

    def __init__(
        self, pump: int | None, count: int, choices: dict[int, int], unit: str = ""
    ) -> None:
        self.pump = pump
        self.unit = unit  # pump this instead of a sample of the repetition's body
        self.count = count
        self.choices = choices
        self.repeats = 0
        self.branches: list[int] = []  # number of alternatives of each branch, in order
        self.groups: dict[int, str] = {}

    def seq(self, items: Any, out: list[str]) -> None:
        for op, av in items:
            self.one(op, av, out)

    def one(self, op: Any, av: Any, out: list[str]) -> None:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append("a" if chr(av) != "a" else "b")
        elif op is C.ANY:
            out.append("a")
        elif op is C.IN:
            out.append(_member(av))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, high, body = av
            index = self.repeats
            self.repeats += 1
            if index == self.pump:
                piece: list[str] = []
                self.seq(body, piece)
                unit = self.unit or "".join(piece) or " "
                out.append(unit * max(1, self.count // len(unit)))
                raise _Stop("".join(out))
            times = max(low, 1) if high else 0
            for _ in range(min(times, 3)):
                self.seq(body, out)
        elif op is C.SUBPATTERN:
            group, _add, _del, body = av
            start = len("".join(out))
            self.seq(body, out)
            if group:
                self.groups[group] = "".join(out)[start:]
        elif op is C.ATOMIC_GROUP:
            self.seq(av, out)
        elif op is C.BRANCH:
            _none, alternatives = av
            index = len(self.branches)
            self.branches.append(len(alternatives))
            self.seq(alternatives[self.choices.get(index, 0)], out)
        elif op is C.GROUPREF:
            out.append(self.groups.get(av, ""))
        elif op is C.GROUPREF_EXISTS:
            _group, yes, _no = av
            self.seq(yes, out)
        elif op is C.AT and av is C.AT_BOUNDARY and out and out[-1][-1:].isalnum():
            out.append(" ")  # a word boundary between two words
        # other anchors, ASSERT, ASSERT_NOT: nothing to write


def _member(items: Any) -> str:
    negated = any(op is C.NEGATE for op, _av in items)
    if negated:
        banned: set[str] = set()
        for op, av in items:
            if op is C.LITERAL:
                banned.add(chr(av))
            elif op is C.RANGE:
                banned.update(chr(c) for c in range(av[0], min(av[1], av[0] + 200) + 1))
        return next(c for c in "ax0_é!" if c not in banned)
    for op, av in items:
        if op is C.LITERAL:
            return chr(av)
        if op is C.RANGE:
            return chr(av[0])
        if op is C.CATEGORY:
            return {
                C.CATEGORY_DIGIT: "1",
                C.CATEGORY_SPACE: " ",
                C.CATEGORY_WORD: "a",
                C.CATEGORY_NOT_DIGIT: "a",
                C.CATEGORY_NOT_SPACE: "a",
                C.CATEGORY_NOT_WORD: " ",
            }.get(av, "a")
    return "a"


def _sample(
    tree: Any, pump: int | None, count: int, choices: dict[int, int], unit: str = ""
) -> tuple[str, _Sampler]:
    sampler = _Sampler(pump, count, choices, unit)
    out: list[str] = []
    try:
        sampler.seq(tree, out)
    except _Stop as stop:
        return stop.text, sampler
    return "".join(out), sampler


def attacks(pattern: re.Pattern[str], size: int) -> Iterator[tuple[str, str]]:
    """(label, text of about *size* characters) pairs for *pattern*."""
    tree = P.parse(pattern.pattern, pattern.flags)
    _plain, sampler = _sample(tree, None, size, {})
    branch_choices = [{}] + [
        {b: alt} for b, count in enumerate(sampler.branches) for alt in range(1, count)
    ]
    seen: set[str] = set()
    for choices in branch_choices[:40]:
        _text, probe = _sample(tree, None, size, choices)
        for pump in range(probe.repeats):
            pumped, _ = _sample(tree, pump, size, choices)
            short, _ = _sample(tree, pump, 30, choices)
            for label, text in (
                (f"pump #{pump}", pumped),
                (f"pump #{pump} then '!'", pumped[: size - 1] + "!"),
                (f"prefix of pump #{pump}, repeated", _fill(short, size)),
                (f"prefix of pump #{pump} + newline, repeated", _fill(short + "\n", size)),
            ):
                key = text[:200] + text[-50:]
                if key not in seen:
                    seen.add(key)
                    yield f"{label} {choices or ''}".strip(), text
            if not choices:  # the prefix, then a run of something else the text may hold
                for unit in GENERIC:
                    other, _ = _sample(tree, pump, size, choices, unit)
                    yield f"pump #{pump} with {unit!r}", other
        whole, _ = _sample(tree, None, size, choices)
        if whole and whole[:-1]:
            yield (
                f"match minus its last character, repeated {choices or ''}".strip(),
                _fill(whole[:-1], size),
            )
    for unit in GENERIC:
        yield f"{unit!r} repeated", _fill(unit, size)


def _fill(unit: str, size: int) -> str:
    return (unit * (size // max(1, len(unit)) + 1))[:size]
