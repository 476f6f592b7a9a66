"""The budget of a template: how much text one message part may make, and for how long.

A template is code the officer (or whoever can write the templates folder) controls, and a
typo or a hostile edit can make it build a huge string (``{{ "a" * 100000000 }}``) or loop for
ever. :class:`BudgetedEnvironment` is the sandbox with limits:

* every value the template builds with ``*``, ``**``, ``%``, ``+``, ``~``, a filter or a method
  is checked before it is built where its size can be known (``"a" * n``, ``center(n)``,
  ``join``, ``replace``, format widths) and after; a value longer than the part's limit stops
  the render, and so does building more than ten times the limit in all;
* ``range()`` gives at most :data:`MAX_ITEMS` numbers;
* every loop iteration, call and operator checks the time: a part that renders longer than
  :attr:`Budget.seconds` is stopped, also when it writes nothing;
* :func:`stream` renders through ``Template.generate()``, counting the characters written.

The limits are per part (subject, text, HTML) of one message; :class:`Budget` holds them. A
limit that is reached raises :class:`BudgetExceeded`, which :mod:`.render` turns into one
:class:`~mailer.errors.TemplateError` naming the file and line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

__all__ = [
    "MAX_ITEMS",
    "Budget",
    "BudgetExceeded",
    "BudgetedEnvironment",
    "metered",
    "stream",
]

MAX_ITEMS = 100_000  # numbers range() may give
TICKS_PER_READ = 32  # steps (loop steps, calls, operators, pieces written) per clock reading
_WORK_FACTOR = 10  # all the text one part may build, in multiples of its limit
_POWER_BITS = 100_000  # the largest integer ** may make, in bits
_LOOP = "_budget_loop"
_TEXT = "_budget_text"
# Widths and precisions in a format: "%10000000s", "%.5f", "{:>10000000}", "{0:.3}".
_PERCENT_SPEC = re.compile(r"%(?:\([^()]*\))?[-#0 +]*(\d*)(?:\.(\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}:]*:([^{}]*)\}")
_NUMBER = re.compile(r"\d+")
_NESTED = re.compile(r"\{[^{}]*\{")


@dataclass(frozen=True)
class Budget:
    """The limits of one message: characters of the subject and of each body part, and the
    seconds one part may take to render."""

    subject_chars: int = 1_000
    part_chars: int = 1_000_000
    seconds: float = 2.0

    def chars(self, part: str) -> int:
        return self.subject_chars if part == "subject.txt" else self.part_chars


class BudgetExceeded(Exception):
    """A template went over its budget; *problem* says which limit, in the officer's terms."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.position: tuple[str, int] | None = None  # (template file, line) when known


class _Meter:
    """The budget of the part being rendered: what it may write and build, its deadline."""

    def __init__(self, budget: Budget, part: str, monotonic: Callable[[], float]) -> None:
        self.limit = budget.chars(part)  # characters the part may write
        self.subject = part == "subject.txt"
        self.value_limit = budget.part_chars  # the longest value it may build
        self.seconds = budget.seconds
        self.monotonic = monotonic
        self.deadline = monotonic() + budget.seconds
        self.built = 0
        self.ticks = 0

    def too_long(self) -> BudgetExceeded:
        """The error of a part that writes more than its limit."""
        if self.subject:
            return BudgetExceeded(
                f"the subject grows past {self.limit:,} characters, the limit of a subject"
            )
        return BudgetExceeded(
            f"the text grows past {self.limit:,} characters, the limit of a message part "
            "(a loop that writes too much?)"
        )

    def allow(self, size: int) -> None:
        """Refuse a value of *size* characters (or items) before it is made."""
        if size > self.value_limit:
            raise BudgetExceeded(
                f"the template builds a text longer than {self.value_limit:,} characters, the "
                "limit of a message part (a multiplication, a join or a width too large?)"
            )

    def made(self, value: object) -> None:
        """Count a value the template made; refuse it when it is too long."""
        if isinstance(value, str | list | tuple | bytes):
            size = len(value)
            self.allow(size)
            self.built += size
            if self.built > _WORK_FACTOR * self.value_limit:
                raise BudgetExceeded(
                    f"the template builds more than {_WORK_FACTOR * self.value_limit:,} "
                    "characters in all (a loop that makes too much text?)"
                )
        self.tick()

    def tick(self) -> None:
        """A step of the render: every :data:`TICKS_PER_READ` th step reads the clock."""
        self.ticks += 1
        if self.ticks % TICKS_PER_READ == 0 and self.monotonic() > self.deadline:
            raise BudgetExceeded(
                f"rendering took longer than {self.seconds:g} s, the limit of one message part "
                "(a loop that never ends, or loops inside loops?)"
            )


_METER: ContextVar[_Meter | None] = ContextVar("mailer_template_meter", default=None)


@contextmanager
def metered(budget: Budget, part: str, monotonic: Callable[[], float]) -> Iterator[_Meter]:
    """Render *part* (``subject.txt``, ...) inside this block, within *budget*."""
    meter = _Meter(budget, part, monotonic)
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def _allow(size: int) -> None:
    meter = _METER.get()
    if meter is not None:
        meter.allow(size)


def _made(value: Any) -> Any:
    meter = _METER.get()
    if meter is not None:
        meter.made(value)
    return value


_CONTAINERS = (list, tuple, set, frozenset, dict)


def _text_size(value: Any) -> int:
    """About how many characters the text of *value* has (for a list, dict or set: its repr,
    which ``{{ value }}`` and the ``string`` filter make), counted only up to just past the
    limit: a list of a thousand references to one long text is a long text."""
    meter = _METER.get()
    if meter is None or not isinstance(value, _CONTAINERS):
        return 0
    total = 0
    stack = [value]
    while stack and total <= meter.value_limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
            total += 2
        elif isinstance(item, _CONTAINERS):
            stack.extend(item)
            total += 2
        else:
            total += 8
    return total


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` before it is made text: a container's repr is checked first."""
    _allow(_text_size(value))
    return value


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja2's ``lipsum()``, its size checked first (about eight characters a word)."""
    _allow(n * max * 8)
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _widths(fmt: str) -> int:
    """The largest width or precision written in format string *fmt* (0 when none)."""
    found = [n for spec in _PERCENT_SPEC.findall(fmt) for n in spec if n]
    found += [n for spec in _BRACE_SPEC.findall(fmt) for n in _NUMBER.findall(spec)]
    return max((int(n) if len(n) < 30 else 10**30 for n in found), default=0)


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | bytes) else 0


def _text_length(items: Iterable[Any]) -> tuple[list[Any], int]:
    listed = list(items)
    _allow(len(listed))
    return listed, sum(len(item) if isinstance(item, str) else 20 for item in listed)


def _check_join(separator: str, items: Any) -> list[Any]:
    listed, total = _text_length(items)
    _allow(total + len(separator) * max(len(listed) - 1, 0))
    return listed


def _check_growth(name: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a str method or filter that would make too long a text, before it runs."""
    numbers = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
    if name in {"center", "ljust", "rjust", "zfill", "indent", "wordwrap", "truncate"}:
        _allow(max(numbers, default=0))
    elif name == "expandtabs":
        _allow(len(text) + text.count("\t") * max(numbers, default=8))
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        times = len(text) + 1 if not old else text.count(old)
        _allow(len(text) + times * max(len(new) - len(old), 0))
    elif name in {"format", "format_map"}:
        _allow(_widths(text))
        _allow(sum(_sized(a) for a in (*args, *kwargs.values())))
        if _NESTED.search(text):  # "{:>{}}": the width is an argument
            _allow(max(numbers, default=0))
    for number in numbers if name == "indent" else ():
        _allow(len(text) + text.count("\n") * number)


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise BudgetExceeded(
            f"range() of {len(numbers):,} numbers; a template may count to {MAX_ITEMS:,}"
        )
    return numbers


def _loop(items: Any) -> Iterator[Any]:
    """The items of a ``{% for %}`` loop, checking the time at each one."""
    meter = _METER.get()
    for item in items:
        if meter is not None:
            meter.tick()
        yield item


def _budget_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that checks the size of what it is asked to make and of what it made."""
    passes = getattr(function, "jinja_pass_arg", None)

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        rest = args[1:] if passes is not None else args
        if rest:
            value, extra = rest[0], rest[1:]
            if name == "join":
                separator = str(extra[0]) if extra else str(kwargs.get("d", ""))
                listed = _check_join(separator, value)
                args = (*args[: len(args) - len(rest)], listed, *extra)
            elif isinstance(value, str):
                _check_growth(name, value, extra, kwargs)
            else:
                _allow(_text_size(value))
        return _made(function(*args, **kwargs))

    return checked


class _Guard(NodeTransformer):
    """Puts every loop's items through the time check and every ``~`` through the size check."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _LOOP, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, _TEXT, [], [], None, None, lineno=node.lineno)


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the limits of :class:`Budget` (see the module)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        self.filters = {name: _budget_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP] = _loop
        self.filters[_TEXT] = _made
        self.globals["range"] = _range
        self.globals["lipsum"] = _lipsum

    def add_filters(self, **filters: Callable[..., Any]) -> None:
        """Add filters of our own, checked like the built-in ones."""
        self.filters.update({name: _budget_filter(name, f) for name, f in filters.items()})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Jinja2 has no public hook between parsing and compiling; this is where the guards go.
        template = super()._parse(source, name, filename)
        guarded = _Guard().visit(template)
        assert isinstance(guarded, nodes.Template)
        return guarded

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _allow(len(seq) * times)
        elif op == "**":
            _check_power(left, right)
        elif op == "%" and isinstance(left, str):
            _allow(_widths(left))
            if "*" in left:
                values = right if isinstance(right, tuple) else (right,)
                _allow(max((v for v in values if isinstance(v, int)), default=0))
        return _made(super().call_binop(context, op, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` in the sandbox, its widths checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text, name = value.__self__, value.__name__
        unchecked = wrapped

        @functools.wraps(unchecked)
        def checked(*args: Any, **kwargs: Any) -> str:
            _check_growth(name, str(text), args, kwargs)
            return unchecked(*args, **kwargs)

        return checked

    def call(
        __self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any
    ) -> Any:
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name == "join" and args:
                args = (_check_join(owner, args[0]), *args[1:])
            else:
                _check_growth(name, owner, args, kwargs)
        _made(None)  # the time, for macros that call each other
        return _made(super().call(__context, __obj, *args, **kwargs))


def _check_power(left: Any, right: Any) -> None:
    numbers = isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0
    if numbers and right * abs(left).bit_length() > _POWER_BITS:
        raise BudgetExceeded(
            f"{left} ** {right} is a number too large for a template "
            f"(more than {_POWER_BITS:,} bits)"
        )


def stream(template: jinja2.Template, values: Mapping[str, Any], meter: _Meter) -> str:
    """Render *template* piece by piece, stopping as soon as it writes more than the meter's
    limit or runs past its deadline."""
    pieces: list[str] = []
    written = 0
    chunks: Generator[str, None, None] = template.generate(values)  # type: ignore[assignment]
    try:
        for chunk in chunks:
            written += len(chunk)
            if written > meter.limit:  # checked at each piece: the generator is at its line
                raise _at_position(meter.too_long(), chunks)
            meter.tick()
            pieces.append(chunk)
    finally:
        chunks.close()
    return "".join(pieces)


def _at_position(error: BudgetExceeded, chunks: Iterator[str]) -> BudgetExceeded:
    """*error* with the template file and line where the render stopped writing, when known."""
    generator: Any = chunks
    found: tuple[str, int] | None = None
    while generator is not None:
        frame = getattr(generator, "gi_frame", None)
        if frame is not None:
            template = frame.f_globals.get("__jinja_template__")
            if isinstance(template, jinja2.Template) and template.filename:
                found = (template.filename, template.get_corresponding_lineno(frame.f_lineno))
        generator = getattr(generator, "gi_yieldfrom", None)
    error.position = found
    return error
