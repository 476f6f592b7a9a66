"""Read iTIP REPLY objects out of calendar text (pure; untrusted input; never raises).

Handles what real clients send: Outlook/Exchange (no ORGANIZER, Windows time-zone names,
localised SUMMARY, COMMENT with the journalist's note), Google (UTC times, X-NUM-GUESTS on the
ATTENDEE, another address), Thunderbird and Apple (objects without a METHOD parameter on the
MIME part). METHOD is read from the object, never from the MIME header.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from mailer.rsvp.itip import read_simple
from mailer.rsvp.results import CalendarAnswer, PartStat
from mailer.rsvp.textutil import tidy

MAX_CALENDAR_CHARS = 2_000_000
MAX_EVENTS = 50
# icalendar reads about 25,000 lines a second here: a reply has a few dozen, a calendar of
# 100,000 broken lines would take seconds of the message's time budget
MAX_CALENDAR_LINES = 10_000

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PARTSTATS = {p.value.upper(): p for p in PartStat}


@dataclass(frozen=True)
class CalendarRead:
    """What one calendar object holds."""

    methods: tuple[str, ...]  # METHOD of each VCALENDAR ("" when absent), upper-case
    replies: tuple[CalendarAnswer, ...]  # answers found (REPLY, or no METHOD with a PARTSTAT)
    problem: str  # why the object could not be read ("" when it could)
    warnings: tuple[str, ...] = ()  # broken properties that were skipped


def read_calendar(text: str, *, from_address: str = "", forwarded: bool = False) -> CalendarRead:
    """The REPLY answers in calendar *text*."""
    try:
        return _read(text, from_address, forwarded)
    except Exception as exc:  # untrusted input: report, never raise
        return CalendarRead((), (), f"the calendar object cannot be read ({type(exc).__name__})")


def _read(text: str, from_address: str, forwarded: bool) -> CalendarRead:
    if len(text) > MAX_CALENDAR_CHARS:
        return CalendarRead((), (), "the calendar object is too large")
    upper = text.upper()
    if "BEGIN:VCALENDAR" not in upper:
        return CalendarRead((), (), "not an iCalendar object (no BEGIN:VCALENDAR)")
    lines = _lines(text)
    if len(lines) > MAX_CALENDAR_LINES:
        return CalendarRead((), (), f"the calendar object is too large ({len(lines):,} lines)")
    calendars: list[Any] | None = read_simple(lines)  # the common shape, without icalendar
    if calendars is None:
        try:
            calendars = _from_ical("\r\n".join(lines) + "\r\n")
        except Exception as exc:
            return CalendarRead((), (), f"broken iCalendar: {tidy(str(exc))[:200]}")
    events = [(cal, ev) for cal in calendars for ev in cal.walk("VEVENT")]
    if not events:
        if "BEGIN:VEVENT" in upper:
            return CalendarRead((), (), "broken iCalendar: the VEVENT is incomplete")
        return CalendarRead(tuple(_method(c) for c in calendars), (), "")
    methods = tuple(_method(c) for c in calendars)
    replies: list[CalendarAnswer] = []
    warnings: list[str] = []
    for cal, event in events[:MAX_EVENTS]:
        method = _method(cal)
        if method not in ("REPLY", ""):
            continue
        warnings.extend(
            f"{name or 'line'}: {tidy(str(why))[:120]}"
            for name, why in getattr(event, "errors", [])[:5]
        )
        replies.extend(_answers(cal, event, method, from_address, forwarded))
    return CalendarRead(methods, tuple(_dedupe(replies)), "", tuple(warnings))


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n")


def warm_up() -> None:
    """Import icalendar now: a reader process does before its first message, so that the import
    is not counted in that message's time budget."""
    import icalendar  # imported only when needed, so that `mailer --help` starts fast

    assert icalendar.Calendar is not None


def _from_ical(text: str) -> list[Any]:
    from icalendar import Calendar  # imported only for what the simple reader leaves

    return list(Calendar.from_ical(text, multiple=True))


def _method(cal: Any) -> str:
    return _text(cal.get("METHOD")).upper()


def _answers(
    cal: Any, event: Any, method: str, from_address: str, forwarded: bool
) -> list[CalendarAnswer]:
    uid = _text(event.get("UID"))[:500]
    if not uid:
        return []
    attendees = event.get("ATTENDEE")
    if attendees is None:
        return []
    if not isinstance(attendees, list):
        attendees = [attendees]
    out: list[CalendarAnswer] = []
    for attendee in attendees[:20]:
        params = getattr(attendee, "params", {}) or {}
        partstat = _PARTSTATS.get(_text(params.get("PARTSTAT")).upper())
        if partstat is None:
            continue  # NEEDS-ACTION, or a REQUEST's list of everyone
        guests = _int(params.get("X-NUM-GUESTS"))
        if guests is None:
            guests = _int(event.get("X-NUM-GUESTS"))
        out.append(
            CalendarAnswer(
                uid=uid,
                attendee=_address(attendee),
                attendee_name=_text(params.get("CN"))[:200],
                partstat=partstat,
                dtstamp=_stamp(event.get("DTSTAMP")),
                sequence=_int(event.get("SEQUENCE")) or 0,
                comment=_comment(event.get("COMMENT")),
                guests=guests,
                delegated_to=", ".join(_addresses(params.get("DELEGATED-TO"))),
                method=method,
                summary=_text(event.get("SUMMARY"))[:300],
                producer=_text(cal.get("PRODID"))[:200],
                from_address=from_address,
                forwarded=forwarded,
            )
        )
    return out


def _dedupe(replies: list[CalendarAnswer]) -> list[CalendarAnswer]:
    """One answer per (UID, ATTENDEE, DTSTAMP, PARTSTAT): recurrence overrides repeat them."""
    seen: set[tuple[object, ...]] = set()
    out: list[CalendarAnswer] = []
    for reply in replies:
        ident = (reply.uid, reply.attendee, reply.dtstamp, reply.partstat)
        if ident not in seen:
            seen.add(ident)
            out.append(reply)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return tidy(str(value))


def _comment(value: Any) -> str:
    values = value if isinstance(value, list) else [value] if value is not None else []
    text = "\n".join(str(v).replace("\r\n", "\n").strip() for v in values[:5])
    return _CONTROL.sub("", text).strip()[:2000]


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 <= number <= 10_000 else None


def _address(attendee: Any) -> str:
    text = tidy(str(attendee)).strip('"')
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip().lower()[:320]


def _addresses(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    out = []
    for item in items[:10]:
        text = tidy(str(item)).strip('"')
        out.append((text[7:] if text.lower().startswith("mailto:") else text).lower())
    return [a for a in out if a]


def _stamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = value.dt
    except Exception:
        return None
    if isinstance(when, dt.datetime):
        return when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if isinstance(when, dt.date):
        return dt.datetime(when.year, when.month, when.day, tzinfo=dt.UTC)
    return None
