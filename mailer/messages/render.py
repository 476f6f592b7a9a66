"""Templates: a sandboxed Jinja2 environment with strict undefined variables.

Layout: ``templates/<name>/<language>/{subject.txt, body.txt, body.html}``. ``body.html`` is
optional; HTML is autoescaped. A contact whose language has no templates gets the default
language's. Dates and times are formatted the local way with the ``date``, ``time`` and
``datetime`` filters (Babel), in the language of the message being rendered.

A template that fails raises one :class:`~mailer.errors.TemplateError` naming the file, the
line and (from :mod:`.hints`) what to do. :meth:`Renderer.render` stops at the first problem, as
a send must; :meth:`Renderer.problems` and :meth:`Renderer.compile_problems` (for ``mailer
check``) find every problem of a message: they render again with undefined names noted instead
of raised, so the normal path pays nothing for them.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.utils import missing

from mailer.clock import SystemClock
from mailer.errors import TemplateError
from mailer.messages.budget import Budget, BudgetedEnvironment, BudgetExceeded, metered, stream
from mailer.messages.hints import Sources, explain_undefined, filter_hint
from mailer.messages.htmlfilters import links, phone

LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}
PARTS = ("subject.txt", "body.txt", "body.html")
DEFAULT_BUDGET = Budget()


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str  # the language actually used (after fallback)


class UndefinedName(jinja2.UndefinedError):
    """Jinja2's UndefinedError, with the object and the name that were looked up."""

    def __init__(self, message: str, *, obj: Any, name: Any) -> None:
        super().__init__(message)
        self.obj = obj
        self.name = name


class _Notes:
    """The undefined names met while rendering one part in collecting mode."""

    def __init__(self) -> None:
        self.seen: list[tuple[jinja2.Undefined, str, int]] = []  # (undefined, file, line)

    def note(self, undefined: jinja2.Undefined) -> None:
        file, line = _template_position()
        self.seen.append((undefined, file, line))


_COLLECTING: ContextVar[_Notes | None] = ContextVar("mailer_template_notes", default=None)


def _template_position() -> tuple[str, int]:
    """The template file and line being rendered (the innermost template frame on the stack)."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            return template.filename or "", template.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return "", 0


class _Undefined(jinja2.Undefined):
    """Strict: any use of an undefined name is an error that knows what was looked up.

    While :meth:`Renderer.problems` collects, using it as text, a truth value, a sequence or an
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
def _collecting(notes: _Notes) -> Iterator[None]:
    token = _COLLECTING.set(notes)
    try:
        yield
    finally:
        _COLLECTING.reset(token)


def _as_datetime(value: object) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, str):
        try:
            return (
                dt.datetime.fromisoformat(value)
                if "T" in value or " " in value.strip()
                else (dt.date.fromisoformat(value.strip()))
            )
        except ValueError:
            pass
    raise TemplateError(f"cannot format {value!r} as a date (expected a date or YYYY-MM-DD)")


@lru_cache(maxsize=64)
def _locale(language: str) -> Any:
    from babel import Locale

    return Locale.parse(LOCALES.get(language, "en_GB"))


def _tz(value: dt.datetime | dt.date, ctx: jinja2.runtime.Context) -> dt.datetime | dt.date:
    """Show aware times in the event's zone, whatever zone they were stored in."""
    zone = ctx.get("_zone")
    if isinstance(value, dt.datetime) and value.tzinfo is not None and zone is not None:
        return value.astimezone(zone)
    return value


def _format(kind: str, value: dt.datetime | dt.date, fmt: str, language: str) -> str:
    """Babel formatting of the wall-clock time *value* shows.

    Cached by that wall-clock time: aware datetimes of one instant in two zones are equal
    (and hash alike), so they must not share a cache entry."""
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
    return _format_wall(kind, value, fmt, language)


@lru_cache(maxsize=1024)
def _format_wall(kind: str, value: dt.datetime | dt.date, fmt: str, language: str) -> str:
    """Babel formatting, cached: a round formats the same few dates for every recipient."""
    from babel.dates import format_date, format_datetime, format_time

    locale = _locale(language)
    if kind == "date":
        day = value.date() if isinstance(value, dt.datetime) else value
        return str(format_date(day, format=fmt, locale=locale))
    assert isinstance(value, dt.datetime)
    naive = value
    if kind == "time":
        return str(format_time(naive, format=fmt, locale=locale))
    return str(format_datetime(naive, format=fmt, locale=locale))


def format_moment(
    kind: str, value: dt.datetime | dt.date, language: str, *, fmt: str, zone: Any = None
) -> str:
    """*value* as the ``date``, ``time`` or ``datetime`` filter shows it in *language* (aware
    times in *zone*)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None and zone is not None:
        value = value.astimezone(zone)
    return _format(kind, value, fmt, language)


@jinja2.pass_context
def _date(ctx: jinja2.runtime.Context, value: object, fmt: str = "long") -> str:
    if isinstance(value, jinja2.Undefined):
        return str(value)  # the undefined name is the problem, not the date
    moment = _tz(_as_datetime(value), ctx)
    return _format("date", moment, fmt, str(ctx.get("language", "en")))


def _moment(ctx: jinja2.runtime.Context, value: object, what: str) -> dt.datetime:
    moment = _tz(_as_datetime(value), ctx)
    if not isinstance(moment, dt.datetime):
        raise TemplateError(f"cannot format {value!r} as {what}")
    return moment


@jinja2.pass_context
def _time(ctx: jinja2.runtime.Context, value: object, fmt: str = "short") -> str:
    if isinstance(value, jinja2.Undefined):
        return str(value)
    moment = _moment(ctx, value, "a time")
    return _format("time", moment, fmt, str(ctx.get("language", "en")))


@jinja2.pass_context
def _datetime(ctx: jinja2.runtime.Context, value: object, fmt: str = "medium") -> str:
    if isinstance(value, jinja2.Undefined):
        return str(value)
    moment = _moment(ctx, value, "a date and time")
    return _format("datetime", moment, fmt, str(ctx.get("language", "en")))


class Renderer:
    """Compiles each template once and renders it for many contacts."""

    def __init__(
        self,
        templates_dir: Path,
        *,
        default_language: str,
        label_root: Path,
        sources: Sources | None = None,
        budget: Budget = DEFAULT_BUDGET,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self.budget = budget
        self.monotonic = monotonic or SystemClock().monotonic
        self.default_language = default_language
        self.label_root = label_root
        self.sources = sources or Sources()
        self.env = BudgetedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir), encoding="utf-8"),
            undefined=_Undefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.env.add_filters(date=_date, time=_time, datetime=_datetime, links=links, phone=phone)
        self._languages: dict[tuple[str, str], str] = {}
        self._inside = (str(templates_dir) + os.sep, str(templates_dir.resolve()) + os.sep)

    def _label(self, relative: str) -> str:
        path = self.templates_dir / relative
        try:
            return str(path.relative_to(self.label_root))
        except ValueError:
            return str(path)

    def _label_file(self, filename: str) -> str:
        """The label of a template file Jinja2 names by its path."""
        try:
            relative = Path(filename).resolve().relative_to(self.templates_dir.resolve())
        except (ValueError, OSError):
            return filename
        return self._label(relative.as_posix())

    def language_for(self, name: str, language: str) -> str:
        """The language whose templates a contact of *language* gets (looked up once)."""
        key = (name, language)
        if key not in self._languages:
            self._languages[key] = self._find_language(name, language)
        return self._languages[key]

    def _find_language(self, name: str, language: str) -> str:
        if (self.templates_dir / name / language / "subject.txt").is_file():
            return language
        if (self.templates_dir / name / self.default_language / "subject.txt").is_file():
            return self.default_language
        raise TemplateError.at(
            self._label(f"{name}/{self.default_language}/subject.txt"),
            0,
            f"no such template (templates of '{name}' are looked up as "
            f"templates/{name}/<language>/subject.txt, body.txt and body.html)",
        )

    def _template(self, relative: str) -> jinja2.Template | None:
        try:
            return self.env.get_template(relative)
        except jinja2.TemplateNotFound:
            return None
        except jinja2.TemplateSyntaxError as exc:
            label = self._label_file(exc.filename) if exc.filename else self._label(relative)
            hint = filter_hint(exc.message or "", self.env.filters, self.env.tests)
            raise TemplateError.at(
                label, exc.lineno, f"syntax error: {exc.message}", hint
            ) from None
        except UnicodeDecodeError:
            raise TemplateError.at(self._label(relative), 0, "not UTF-8 text") from None
        except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as exc:
            # Jinja2 computes constant expressions while compiling: {{ 10**(10**5) }}
            raise TemplateError.at(
                self._label(relative),
                0,
                f"cannot compile: {type(exc).__name__}: {str(exc)[:200]}",
            ) from None

    def check(self, name: str, languages: set[str]) -> None:
        """Compile every template a batch will use (syntax errors surface here)."""
        problems = self.compile_problems(name, languages)
        if problems:
            raise problems[0]

    def compile_problems(self, name: str, languages: set[str]) -> tuple[TemplateError, ...]:
        """Every problem found by compiling the templates of *languages*: syntax errors and
        missing files, each file once."""
        found: dict[str, TemplateError] = {}
        for language in sorted(languages):
            try:
                used = self.language_for(name, language)
            except TemplateError as exc:
                found.setdefault(exc.message, exc)
                continue
            for part in PARTS:
                relative = f"{name}/{used}/{part}"
                try:
                    template = self._template(relative)
                except TemplateError as exc:
                    found.setdefault(exc.message, exc)
                    continue
                if template is None and part != "body.html":
                    missing_file = TemplateError.at(self._label(relative), 0, "no such template")
                    found.setdefault(missing_file.message, missing_file)
        return tuple(found.values())

    def render(self, name: str, language: str, context: Mapping[str, Any]) -> Rendered:
        used = self.language_for(name, language)
        values = {**context, "language": used}
        out: dict[str, str | None] = {}
        for part in PARTS:
            relative = f"{name}/{used}/{part}"
            template = self._template(relative)
            if template is None:
                if part == "body.html":
                    out[part] = None
                    continue
                raise TemplateError.at(self._label(relative), 0, "no such template")
            out[part] = self._render_one(template, relative, values)
        subject = " ".join((out["subject.txt"] or "").split())
        if not subject:
            raise TemplateError.at(
                self._label(f"{name}/{used}/subject.txt"), 0, "the subject is empty"
            )
        return Rendered(
            subject=subject, text=out["body.txt"] or "", html=out["body.html"], language=used
        )

    def problems(
        self, name: str, language: str, context: Mapping[str, Any]
    ) -> tuple[TemplateError, ...]:
        """Every problem of the message :meth:`render` would make: each part is rendered with
        undefined names noted rather than raised, so that one run finds them all. A part that
        fails otherwise adds the error that stopped it."""
        try:
            used = self.language_for(name, language)
        except TemplateError as exc:
            return (exc,)
        values = {**context, "language": used}
        found: dict[tuple[str, int, str], TemplateError] = {}

        def add(error: TemplateError) -> None:
            found.setdefault((error.file, error.line, error.problem), error)

        for part in PARTS:
            relative = f"{name}/{used}/{part}"
            try:
                template = self._template(relative)
            except TemplateError as exc:
                add(exc)
                continue
            if template is None:
                if part != "body.html":
                    add(TemplateError.at(self._label(relative), 0, "no such template"))
                continue
            notes = _Notes()
            stopped: TemplateError | None = None
            text = ""
            try:
                with _collecting(notes):
                    text = self._render_one(template, relative, values)
            except TemplateError as exc:
                stopped = exc
            for undefined, file, line in notes.seen:
                add(self._undefined_error(undefined, file, line, relative, values))
            if stopped is not None:
                add(stopped)
            elif part == "subject.txt" and not notes.seen and not text.split():
                add(TemplateError.at(self._label(relative), 0, "the subject is empty"))
        return tuple(found.values())

    def _undefined_error(
        self,
        undefined: jinja2.Undefined,
        file: str,
        line: int,
        relative: str,
        values: Mapping[str, Any],
    ) -> TemplateError:
        label = self._label_file(file) if file else self._label(relative)
        return self._explain(
            label,
            line,
            undefined._undefined_obj,
            undefined._undefined_name,
            values,
            undefined._undefined_message,
        )

    def _explain(
        self,
        label: str,
        line: int,
        obj: Any,
        name: Any,
        values: Mapping[str, Any],
        message: str,
    ) -> TemplateError:
        explained = explain_undefined(obj, name, values, self.sources, missing=missing)
        if explained.variable is None:
            return TemplateError.at(label, line, f"undefined variable: {message}")
        return TemplateError.at(
            label, line, f"undefined variable {explained.variable}", explained.hint
        )

    def _render_one(
        self, template: jinja2.Template, relative: str, values: Mapping[str, Any]
    ) -> str:
        part = relative.rpartition("/")[2]
        try:
            with metered(self.budget, part, self.monotonic) as meter:
                return stream(template, values, meter)
        except BudgetExceeded as exc:
            label, line = self._where(relative, exc)
            if exc.position is not None:
                label, line = self._label_file(exc.position[0]), exc.position[1]
            return self._raise(TemplateError.at(label, line, exc.problem))
        except TemplateError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, exc.problem, exc.hint))
        except UndefinedName as exc:
            label, line = self._where(relative, exc)
            return self._raise(
                self._explain(label, line, exc.obj, exc.name, values, exc.message or "")
            )
        except jinja2.UndefinedError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, f"undefined variable: {exc.message}"))
        except SecurityError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, f"not allowed in a template: {exc}"))
        except jinja2.TemplateNotFound as exc:
            label, line = self._where(relative, exc)
            return self._raise(
                TemplateError.at(
                    label,
                    line,
                    f"no such template to include or import: {exc.name!r} (names are relative "
                    "to templates/, without '..')",
                )
            )
        except jinja2.TemplateSyntaxError as exc:  # in an included or imported template
            label = self._label_file(exc.filename) if exc.filename else self._label(relative)
            hint = filter_hint(exc.message or "", self.env.filters, self.env.tests)
            return self._raise(
                TemplateError.at(label, exc.lineno, f"syntax error: {exc.message}", hint)
            )
        except jinja2.TemplateError as exc:
            label, line = self._where(relative, exc)
            return self._raise(TemplateError.at(label, line, str(exc)))
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
            label, line = self._where(relative, exc)
            return self._raise(
                TemplateError.at(label, line, f"{type(exc).__name__}: {str(exc)[:200]}")
            )
        except RecursionError:
            return self._raise(
                TemplateError.at(
                    self._label(relative), 0, "endless recursion (a macro that calls itself?)"
                )
            )
        except MemoryError:
            return self._raise(TemplateError.at(self._label(relative), 0, "ran out of memory"))

    @staticmethod
    def _raise(error: TemplateError) -> NoReturn:
        raise error from None

    def _where(self, relative: str, exc: BaseException) -> tuple[str, int]:
        """The template file and line of the error, from the traceback Jinja2 rewrote for us:
        the innermost template frame (an included template's own file and line)."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.startswith(self._inside) and frame.lineno:
                return self._label_file(frame.filename), frame.lineno
        return self._label(relative), 0
