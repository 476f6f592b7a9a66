"""The event as one message tells it: in the message's language, with a zone name people use.

``[event.<language>]`` texts over ``[event]`` (:meth:`EventConfig.text`), what changed since the
details that were sent before (:func:`changes`, for updates), the attachment line, and the
calendar object's description built from them (:func:`calendar_description`). Pure: Babel for
the local forms of dates and zone names, nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from mailer.config import EventConfig, EventText
from mailer.messages.datefilters import LOCALES

# The names people use for the zones of the region, by zone and language ("klo 13.00 Suomen
# aikaa", "kl. 13.00 finsk tid", "13:00 Finnish time"). Other zones get Babel's generic name.
ZONE_NAMES: dict[str, dict[str, str]] = {
    "Europe/Helsinki": {"fi": "Suomen aikaa", "sv": "finsk tid", "en": "Finnish time"},
    "Europe/Mariehamn": {"fi": "Suomen aikaa", "sv": "finsk tid", "en": "Finnish time"},
    "Europe/Stockholm": {"fi": "Ruotsin aikaa", "sv": "svensk tid", "en": "Swedish time"},
    "Europe/Tallinn": {"fi": "Viron aikaa", "sv": "estnisk tid", "en": "Estonian time"},
    "Europe/Oslo": {"fi": "Norjan aikaa", "sv": "norsk tid", "en": "Norwegian time"},
    "Europe/Copenhagen": {"fi": "Tanskan aikaa", "sv": "dansk tid", "en": "Danish time"},
}
_UTC_KEYS = frozenset({"UTC", "UCT", "GMT", "Universal", "Zulu", "Etc/UTC", "Etc/GMT"})

_LABELS: dict[str, dict[str, str]] = {
    "title": {"fi": "Tilaisuus", "sv": "Evenemang", "en": "Event"},
    "time": {"fi": "Aika", "sv": "Tid", "en": "Time"},
    "location": {"fi": "Paikka", "sv": "Plats", "en": "Place"},
    "url": {"fi": "Verkkosivu", "sv": "Webbsida", "en": "Web page"},
}
_CHANGED = {"fi": "Muutokset:", "sv": "Ändringar:", "en": "What changed:"}
_ATTACHED = {
    "fi": ("Liitteenä: {}", "Liitteinä: {}"),
    "sv": ("Bilaga: {}", "Bilagor: {}"),
    "en": ("Attached: {}", "Attached: {}"),
}
_AT = {"fi": " klo ", "sv": " kl. ", "en": ", "}  # between the day and the time


def _pick(table: dict[str, Any], language: str) -> Any:
    return table.get(language, table["en"])


@lru_cache(maxsize=128)
def zone_name(zone: ZoneInfo, language: str, at: dt.datetime | None = None) -> str:
    """The zone as people name it in *language*: "Suomen aikaa", "finsk tid", "Finnish time";
    Babel's generic name for zones without a name of ours; never the IANA key."""
    own = ZONE_NAMES.get(zone.key)
    if own is not None:
        return str(_pick(own, language))
    if zone.key in _UTC_KEYS:
        return "UTC"
    from babel import Locale
    from babel.dates import get_timezone_name

    try:
        name = str(
            get_timezone_name(
                zone, width="long", locale=Locale.parse(LOCALES.get(language, "en_GB"))
            )
        )
    except (LookupError, ValueError):  # pragma: no cover - Babel knows every IANA zone
        name = ""
    if name and "/" not in name and "(" not in name:
        return name
    moment = at.astimezone(zone) if at is not None else dt.datetime(2000, 1, 1, tzinfo=zone)
    offset = moment.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _babel(kind: str, value: dt.datetime, language: str) -> str:
    # Keyed by the wall-clock time: one instant in two zones is one aware datetime to a cache.
    return _babel_wall(kind, value.replace(tzinfo=None), language)


@lru_cache(maxsize=256)
def _babel_wall(kind: str, naive: dt.datetime, language: str) -> str:
    from babel import Locale
    from babel.dates import format_date, format_time

    locale = Locale.parse(LOCALES.get(language, "en_GB"))
    if kind == "date":
        return str(format_date(naive.date(), format="full", locale=locale))
    return str(format_time(naive, format="short", locale=locale))


def when_text(start: dt.datetime, end: dt.datetime, zone: ZoneInfo, language: str) -> str:
    """ "perjantai 25. kesäkuuta 2027 klo 12.00–16.00", "Friday, 25 June 2027, 12:00–16:00"."""
    start, end = start.astimezone(zone), end.astimezone(zone)
    at = _pick(_AT, language)
    first = f"{_babel('date', start, language)}{at}{_babel('time', start, language)}"
    if end.date() == start.date():
        return f"{first}–{_babel('time', end, language)}"
    return f"{first} – {_babel('date', end, language)}{at}{_babel('time', end, language)}"


@dataclass(frozen=True)
class Change:
    """One fact of the event that differs from what was sent before, in one language."""

    what: str  # "title", "time", "location" or "url"
    label: str  # "Aika", "Tid", "Time", ...
    old: str
    new: str

    def as_dict(self) -> dict[str, str]:
        return {"what": self.what, "label": self.label, "old": self.old, "new": self.new}

    @property
    def line(self) -> str:
        return f"{self.label}: {self.old} → {self.new}"


def changes(previous: EventConfig, current: EventConfig, language: str) -> tuple[Change, ...]:
    """What differs between the event as sent before and as it is now, told in *language*.

    The description is not listed (the calendar carries the new one whole); times are compared
    as instants, and shown with the zone's name only when the zone changed.
    """
    old, new = previous.text(language), current.text(language)
    found: list[Change] = []

    def add(what: str, before: str, after: str) -> None:
        if before != after:
            found.append(Change(what, _pick(_LABELS[what], language), before, after))

    add("title", old.title, new.title)
    same_zone = previous.zone.key == current.zone.key
    if (previous.start, previous.end) != (current.start, current.end) or not same_zone:
        before = when_text(previous.start, previous.end, previous.zone, language)
        after = when_text(current.start, current.end, current.zone, language)
        if not same_zone:
            before += f" ({zone_name(previous.zone, language, previous.start)})"
            after += f" ({zone_name(current.zone, language, current.start)})"
        add("time", before, after)
    add("location", old.location, new.location)
    add("url", old.url, new.url)
    return tuple(found)


def attachment_line(names: Sequence[str], language: str) -> str:
    """ "Liitteenä: programme.pdf" (empty without attachments)."""
    if not names:
        return ""
    one, many = _pick(_ATTACHED, language)
    return str(one if len(names) == 1 else many).format(", ".join(names))


def calendar_description(
    text: EventText, language: str, *, attachments: Sequence[str], changed: Sequence[Change]
) -> str:
    """The calendar object's DESCRIPTION: what changed (an update), the event's description,
    and the attachments the message carries (only when it carries them)."""
    blocks = []
    if changed:
        blocks.append("\n".join([_pick(_CHANGED, language), *(c.line for c in changed)]))
    if text.description.strip():
        blocks.append(text.description.strip("\n"))
    if attachments:
        blocks.append(attachment_line(attachments, language))
    return "\n\n".join(blocks)


def event_vars(event: EventConfig, language: str) -> dict[str, Any]:
    """``event.*`` of the templates, in *language*."""
    text = event.text(language)
    return {
        "title": text.title,
        "location": text.location,
        "description": text.description,
        "start": event.start,
        "end": event.end,
        "timezone": event.zone.key,
        "zone_name": zone_name(event.zone, language, event.start),
        "url": text.url,
    }
