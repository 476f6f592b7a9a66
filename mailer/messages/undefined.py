"""Strict undefined names in templates: any use of a name the context lacks is an error.

:class:`StrictUndefined` raises :class:`UndefinedName`, which knows the object and the name that
were looked up (for :mod:`.hints`). While :func:`collecting` is active (``mailer check`` finds
every problem of a message), using an undefined name as text, a truth value, a sequence or an
attribute notes it in :class:`Notes` with its template file and line, and goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

import jinja2


class UndefinedName(jinja2.UndefinedError):
    """Jinja2's UndefinedError, with the object and the name that were looked up."""

    def __init__(self, message: str, *, obj: Any, name: Any) -> None:
        super().__init__(message)
        self.obj = obj
        self.name = name


class Notes:
    """The undefined names met while rendering one part in collecting mode."""

    def __init__(self) -> None:
        self.seen: list[tuple[jinja2.Undefined, str, int]] = []  # (undefined, file, line)

    def note(self, undefined: jinja2.Undefined) -> None:
        file, line = _template_position()
        self.seen.append((undefined, file, line))


_COLLECTING: ContextVar[Notes | None] = ContextVar("mailer_template_notes", default=None)


def _template_position() -> tuple[str, int]:
    """The template file and line being rendered (the innermost template frame on the stack)."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            return template.filename or "", template.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return "", 0


class StrictUndefined(jinja2.Undefined):
    """Strict: any use of an undefined name is an error that knows what was looked up.

    While :func:`collecting` is active, using it as text, a truth value, a sequence or an
    attribute notes the name and goes on (empty, false); anything else notes it and stops.
    """

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if self._undefined_exception is not jinja2.UndefinedError:  # the sandbox's refusals
            raise self._undefined_exception(self._undefined_message)
        notes = _COLLECTING.get()
        if notes is not None:
            notes.note(self)
        raise UndefinedName(
            self._undefined_message, obj=self._undefined_obj, name=self._undefined_name
        )

    def _lenient(self, value: Any) -> Any:
        notes = _COLLECTING.get()
        if notes is None or self._undefined_exception is not jinja2.UndefinedError:
            self._fail_with_undefined_error()
        notes.note(self)
        return value

    def __str__(self) -> str:
        return str(self._lenient(""))

    def __bool__(self) -> bool:
        return bool(self._lenient(False))

    def __len__(self) -> int:
        return int(self._lenient(0))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._lenient(()))

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self._lenient(self)

    __add__ = __radd__ = __sub__ = __rsub__ = _fail_with_undefined_error
    __mul__ = __rmul__ = __div__ = __rdiv__ = _fail_with_undefined_error
    __truediv__ = __rtruediv__ = _fail_with_undefined_error
    __floordiv__ = __rfloordiv__ = _fail_with_undefined_error
    __mod__ = __rmod__ = _fail_with_undefined_error
    __pos__ = __neg__ = _fail_with_undefined_error
    __call__ = __getitem__ = _fail_with_undefined_error
    __lt__ = __le__ = __gt__ = __ge__ = _fail_with_undefined_error
    __int__ = __float__ = __complex__ = _fail_with_undefined_error
    __pow__ = __rpow__ = _fail_with_undefined_error
    __eq__ = __ne__ = __hash__ = __contains__ = _fail_with_undefined_error


@contextmanager
def collecting(notes: Notes) -> Iterator[None]:
    token = _COLLECTING.set(notes)
    try:
        yield
    finally:
        _COLLECTING.reset(token)
