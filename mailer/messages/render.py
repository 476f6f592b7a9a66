"""Templates: a sandboxed Jinja2 environment with strict undefined variables.

Layout: ``templates/<name>/<language>/{subject.txt, body.txt, body.html}``. ``body.html`` is
optional; HTML is autoescaped. A contact whose language has no templates gets the default
language's. Dates and times are formatted the local way with the ``date``, ``time`` and
``datetime`` filters (Babel), in the language of the message being rendered.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailer.errors import TemplateError
from mailer.messages.htmlfilters import links, phone

LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}
PARTS = ("subject.txt", "body.txt", "body.html")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    language: str  # the language actually used (after fallback)


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


@jinja2.pass_context
def _date(ctx: jinja2.runtime.Context, value: object, fmt: str = "long") -> str:
    moment = _tz(_as_datetime(value), ctx)
    return _format("date", moment, fmt, str(ctx.get("language", "en")))


def _moment(ctx: jinja2.runtime.Context, value: object, what: str) -> dt.datetime:
    moment = _tz(_as_datetime(value), ctx)
    if not isinstance(moment, dt.datetime):
        raise TemplateError(f"cannot format {value!r} as {what}")
    return moment


@jinja2.pass_context
def _time(ctx: jinja2.runtime.Context, value: object, fmt: str = "short") -> str:
    moment = _moment(ctx, value, "a time")
    return _format("time", moment, fmt, str(ctx.get("language", "en")))


@jinja2.pass_context
def _datetime(ctx: jinja2.runtime.Context, value: object, fmt: str = "medium") -> str:
    moment = _moment(ctx, value, "a date and time")
    return _format("datetime", moment, fmt, str(ctx.get("language", "en")))


class Renderer:
    """Compiles each template once and renders it for many contacts."""

    def __init__(self, templates_dir: Path, *, default_language: str, label_root: Path) -> None:
        self.templates_dir = templates_dir
        self.default_language = default_language
        self.label_root = label_root
        self.env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir), encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.env.filters.update(
            date=_date, time=_time, datetime=_datetime, links=links, phone=phone
        )
        self._languages: dict[tuple[str, str], str] = {}

    def _label(self, relative: str) -> str:
        path = self.templates_dir / relative
        try:
            return str(path.relative_to(self.label_root))
        except ValueError:
            return str(path)

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
        raise TemplateError(
            f"{self._label(f'{name}/{self.default_language}/subject.txt')}: no such template "
            f"(templates of '{name}' are looked up as templates/{name}/<language>/subject.txt,"
            " body.txt and body.html)"
        )

    def _template(self, relative: str) -> jinja2.Template | None:
        try:
            return self.env.get_template(relative)
        except jinja2.TemplateNotFound:
            return None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{self._label(relative)}:{exc.lineno}: syntax error: {exc.message}"
            ) from None
        except UnicodeDecodeError:
            raise TemplateError(f"{self._label(relative)}: not UTF-8 text") from None
        except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as exc:
            # Jinja2 computes constant expressions while compiling: {{ 10**(10**5) }}
            raise TemplateError(
                f"{self._label(relative)}: cannot compile: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None

    def check(self, name: str, languages: set[str]) -> None:
        """Compile every template a batch will use (syntax errors surface here)."""
        for language in sorted(languages):
            used = self.language_for(name, language)
            for part in PARTS:
                template = self._template(f"{name}/{used}/{part}")
                if template is None and part != "body.html":
                    raise TemplateError(f"{self._label(f'{name}/{used}/{part}')}: no such template")

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
                raise TemplateError(f"{self._label(relative)}: no such template")
            out[part] = self._render_one(template, relative, values)
        subject = " ".join((out["subject.txt"] or "").split())
        if not subject:
            raise TemplateError(
                f"{self._label(f'{name}/{used}/subject.txt')}: the subject is empty"
            )
        return Rendered(
            subject=subject, text=out["body.txt"] or "", html=out["body.html"], language=used
        )

    def _render_one(
        self, template: jinja2.Template, relative: str, values: Mapping[str, Any]
    ) -> str:
        try:
            return template.render(values)
        except TemplateError as exc:
            raise TemplateError(f"{self._where(relative, exc)}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"{self._where(relative, exc)}: undefined variable: {exc.message}"
            ) from None
        except SecurityError as exc:
            raise TemplateError(
                f"{self._where(relative, exc)}: not allowed in a template: {exc}"
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                f"{self._where(relative, exc)}: no such template to include or import: "
                f"{exc.name!r} (names are relative to templates/, without '..')"
            ) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{self._where(relative, exc)}: {exc}") from None
        except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:
            raise TemplateError(
                f"{self._where(relative, exc)}: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        except RecursionError:
            raise TemplateError(
                f"{self._label(relative)}: endless recursion (a macro that calls itself?)"
            ) from None
        except MemoryError:
            raise TemplateError(f"{self._label(relative)}: ran out of memory") from None

    def _where(self, relative: str, exc: BaseException) -> str:
        """``templates/x/fi/body.txt:LINE`` from the traceback Jinja2 rewrote for us."""
        line = 0
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename.endswith(relative) and frame.lineno:
                line = frame.lineno
        label = self._label(relative)
        return f"{label}:{line}" if line else label
