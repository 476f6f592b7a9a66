"""The ``date``, ``time`` and ``datetime`` template filters (Babel), in the message's language.

Aware times are shown in the event's zone (the context's ``_zone``); a value that is not a date
or time is one :class:`~mailer.errors.TemplateError`. Formatting is cached by wall-clock time: a
round formats the same few dates for every recipient.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import jinja2

from mailer.errors import TemplateError

LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_GB"}


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
def date_filter(ctx: jinja2.runtime.Context, value: object, fmt: str = "long") -> str:
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
def time_filter(ctx: jinja2.runtime.Context, value: object, fmt: str = "short") -> str:
    if isinstance(value, jinja2.Undefined):
        return str(value)
    moment = _moment(ctx, value, "a time")
    return _format("time", moment, fmt, str(ctx.get("language", "en")))


@jinja2.pass_context
def datetime_filter(ctx: jinja2.runtime.Context, value: object, fmt: str = "medium") -> str:
    if isinstance(value, jinja2.Undefined):
        return str(value)
    moment = _moment(ctx, value, "a date and time")
    return _format("datetime", moment, fmt, str(ctx.get("language", "en")))
