"""Do the text part and the HTML part of a message tell the same facts?

Outlook shows the HTML part; a plain-text reader, a screen reader's fallback and many phones the
text part. When the officer rewrites one and not the other, they disagree. The rule, kept simple
so that a warning can be explained in one line: each **fact from config.toml** that a template
can name — the event's title, location, date, start and end time, web address, and every
``[vars]`` value — is looked for in both parts, in the forms the templates write it (a date as
the ``date`` filter writes it, ``11:00`` also as ``11.00``). A fact found in one part and not in
the other is a disagreement. Facts in neither part are not (a template need not name them all).

Comparison is on what a reader sees: the HTML without its ``<head>``, styles, scripts and tags,
entities decoded; spaces of any kind (no-break spaces) as one space, non-breaking hyphens as
hyphens, case ignored.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from mailer.config import Config
from mailer.messages.datefilters import format_moment
from mailer.messages.plan import event_context

_DATE_FORMATS = ("long", "full", "medium", "short")
_HIDDEN = re.compile(r"<(head|style|script)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_SHORTEST = 3  # shorter [vars] values ("x", "10") match by accident


@dataclass(frozen=True)
class Fact:
    """One fact from config.toml and the ways a template may write it."""

    name: str  # in the officer's terms: "the event's location", "vars.speaker"
    value: str  # as shown in a warning
    forms: tuple[str, ...]


@dataclass(frozen=True)
class Parts:
    """What the reader sees of a message."""

    text: str
    html: str | None  # the HTML source; None: no HTML part


def message_parts(data: bytes) -> Parts:
    """The first text/plain and text/html parts of a message."""
    msg = message_from_bytes(data, policy=policy.default)
    text: str | None = None
    source: str | None = None
    for part in msg.walk():
        if part.is_multipart() or part.get_filename() or not isinstance(part, EmailMessage):
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and text is None:
            text = str(part.get_content())
        elif kind == "text/html" and source is None:
            source = str(part.get_content())
    return Parts(text or "", source)


def config_facts(config: Config, language: str) -> tuple[Fact, ...]:
    """The facts of config.toml a template of *language* can name, in the forms it writes them."""
    context = event_context(config, language)
    event: Mapping[str, Any] = context["event"]
    zone = context.get("_zone")
    facts = [
        _fact("the event's title", event.get("title")),
        _fact("the event's location", event.get("location")),
        _fact("the event's web address", event.get("url")),
    ]
    start, end = event.get("start"), event.get("end")
    if isinstance(start, dt.datetime):
        facts.append(_date_fact("the event's date", start, language, zone))
        facts.append(_time_fact("the start time", start, language, zone))
    if isinstance(end, dt.datetime):
        facts.append(_time_fact("the end time", end, language, zone))
    for name, value in _flat("vars", context.get("vars") or {}):
        if isinstance(value, dt.date):
            facts.append(_date_fact(name, value, language, zone))
        elif isinstance(value, str):
            text = value.strip()
            clock, day = _CLOCK.match(text), _iso_date(text)
            if clock:
                facts.append(_clock_fact(name, text, *clock.groups()))
            elif day is not None:  # written as it is, or as the date filter shows it
                written = _date_fact(name, day, language, zone)
                facts.append(Fact(name, text, (*written.forms, _seen(text))))
            elif len(text) >= _SHORTEST:
                facts.append(_fact(name, text))
    return _merged(f for f in facts if f.forms)


def _merged(facts: Iterable[Fact]) -> tuple[Fact, ...]:
    """Facts written the same way are one fact ("the start time and vars.lunch_time")."""
    by_forms: dict[tuple[str, ...], Fact] = {}
    for fact in facts:
        same = by_forms.get(fact.forms)
        name = fact.name if same is None else f"{same.name} and {fact.name}"
        by_forms[fact.forms] = Fact(name, fact.value if same is None else same.value, fact.forms)
    return tuple(by_forms.values())


def disagreements(parts: Parts, facts: Iterable[Fact]) -> tuple[str, ...]:
    """One line per fact that one part names and the other does not."""
    if parts.html is None:
        return ()
    text = _seen(parts.text)
    shown = _seen(visible_text(parts.html))
    out = []
    for fact in facts:
        in_text = any(form in text for form in fact.forms)
        in_html = any(form in shown for form in fact.forms)
        if in_text != in_html:
            has, lacks = ("text", "HTML") if in_text else ("HTML", "text")
            out.append(
                f"the {has} part names {fact.name} ({_short(fact.value)}), the {lacks} part "
                "does not"
            )
    return tuple(out)


def visible_text(source: str) -> str:
    """The text a reader sees of an HTML document."""
    return html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", source)))


def _seen(text: str) -> str:
    text = text.replace("\u2011", "-").replace("\u00ad", "")
    return " ".join(text.split()).casefold()  # str.split() splits on no-break spaces too


def _fact(name: str, value: object) -> Fact:
    if not isinstance(value, str) or not value.strip():
        return Fact(name, "", ())
    return Fact(name, value.strip(), (_seen(value),))


def _date_fact(name: str, value: dt.date, language: str, zone: Any) -> Fact:
    forms = [format_moment("date", value, language, fmt=f, zone=zone) for f in _DATE_FORMATS]
    return Fact(name, forms[0], tuple(sorted({_seen(f) for f in forms})))


def _time_fact(name: str, value: dt.datetime, language: str, zone: Any) -> Fact:
    shown = format_moment("time", value, language, fmt="short", zone=zone)
    clock = _CLOCK.match(shown)
    return _clock_fact(name, shown, *clock.groups()) if clock else _fact(name, shown)


def _clock_fact(name: str, shown: str, hours: str, minutes: str) -> Fact:
    forms = {f"{h}{sep}{minutes}" for h in (hours, hours.lstrip("0") or "0") for sep in ":."}
    return Fact(name, shown, tuple(sorted(forms)))


def _iso_date(value: str) -> dt.date | None:
    """A [vars] value written as an ISO date (2027-06-18)."""
    if len(value) != len("2027-06-18"):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _flat(prefix: str, table: Mapping[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.extend(_flat(f"{prefix}.{key}", value))
        else:
            out.append((f"{prefix}.{key}", value))
    return out


def _short(value: str, limit: int = 60) -> str:
    one = " ".join(value.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
