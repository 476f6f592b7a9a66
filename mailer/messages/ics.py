"""The calendar object of an invitation (iTIP REQUEST / CANCEL, RFC 5545 / 5546).

One VEVENT per message with exactly one ATTENDEE: the journalist it goes to. Times are written
with ``TZID`` and a VTIMEZONE described by yearly RRULEs (the form Google and Outlook send),
derived from the IANA zone and checked against it; a zone that cannot be described that way is
written in UTC instead.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vText,
)

from mailer import __version__

PRODID = f"-//mailer//mailer {__version__}//EN"
Method = Literal["REQUEST", "CANCEL"]
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class _Text(vText):
    """RFC 5545 TEXT escaping. icalendar's own turns a literal backslash-N into a line break."""

    def to_ical(self) -> bytes:
        text = str(self).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text.replace("\n", "\\n").encode("utf-8")


@dataclass(frozen=True)
class CalendarInvite:
    uid: str
    sequence: int
    method: Method
    summary: str
    location: str
    description: str
    start: dt.datetime  # aware
    end: dt.datetime
    zone: ZoneInfo
    organizer_email: str
    organizer_name: str
    attendee_email: str
    attendee_name: str
    dtstamp: dt.datetime
    url: str = ""
    language: str = ""  # the LANGUAGE of SUMMARY, LOCATION and DESCRIPTION ("" = not said)


@dataclass(frozen=True)
class _Rule:
    month: int
    byday: str  # "-1SU", "2SU"
    local_time: dt.time  # wall time in the offset before the change
    offset_from: dt.timedelta
    offset_to: dt.timedelta
    name: str
    is_dst: bool

    def onset(self, year: int) -> dt.datetime:
        n = int(self.byday[:-2])
        weekday = _WEEKDAYS.index(self.byday[-2:])
        days = [
            d
            for d in range(1, _calendar.monthrange(year, self.month)[1] + 1)
            if dt.date(year, self.month, d).weekday() == weekday
        ]
        day = days[n] if n < 0 else days[n - 1]
        return dt.datetime.combine(dt.date(year, self.month, day), self.local_time)


def _transitions(zone: ZoneInfo, year: int) -> list[dt.datetime]:
    """UTC instants in *year* at which *zone* changes its offset."""
    found: list[dt.datetime] = []
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    previous = start.astimezone(zone).utcoffset()
    for day in range(1, 367):
        moment = start + dt.timedelta(days=day)
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            low = moment - dt.timedelta(days=1)
            while (moment - low) > dt.timedelta(minutes=1):
                mid = low + (moment - low) / 2
                if mid.astimezone(zone).utcoffset() == previous:
                    low = mid
                else:
                    moment = mid
            found.append(moment.replace(second=0, microsecond=0))
            previous = offset
            moment = moment.replace(hour=0)
        if moment.year > year:
            break
    return [t for t in found if t.year == year]


def _rule_for(zone: ZoneInfo, instant: dt.datetime) -> _Rule:
    before = (instant - dt.timedelta(minutes=1)).astimezone(zone)
    after = instant.astimezone(zone)
    offset_from = before.utcoffset() or dt.timedelta(0)
    offset_to = after.utcoffset() or dt.timedelta(0)
    local = (instant + offset_from).replace(tzinfo=None)
    days_in_month = _calendar.monthrange(local.year, local.month)[1]
    nth = -1 if local.day + 7 > days_in_month else (local.day - 1) // 7 + 1
    return _Rule(
        month=local.month,
        byday=f"{nth}{_WEEKDAYS[local.weekday()]}",
        local_time=local.time(),
        offset_from=offset_from,
        offset_to=offset_to,
        name=after.tzname() or "",
        is_dst=bool(after.dst()),
    )


@lru_cache(maxsize=32)
def _rules(zone: ZoneInfo, year: int) -> tuple[_Rule, ...] | None:
    """Yearly rules describing *zone* around *year*, or None when RRULEs cannot describe it."""
    instants = _transitions(zone, year)
    rules = tuple(_rule_for(zone, t) for t in instants)
    if len(rules) not in (0, 2):
        return None
    for check_year in (year - 1, year, year + 1):
        actual = _transitions(zone, check_year)
        if len(actual) != len(rules):
            return None
        for rule, instant in zip(rules, actual, strict=True):
            if rule.onset(check_year) != (instant + rule.offset_from).replace(tzinfo=None):
                return None
    return rules


def _vtimezone(zone: ZoneInfo, year: int) -> Timezone | None:
    rules = _rules(zone, year)
    if rules is None:
        return None
    tz = Timezone()
    tz.add("tzid", zone.key)
    if not rules:
        moment = dt.datetime(year, 1, 1, tzinfo=zone)
        offset = moment.utcoffset() or dt.timedelta(0)
        std = TimezoneStandard()
        std.add("dtstart", dt.datetime(1970, 1, 1))
        std.add("tzoffsetfrom", offset)
        std.add("tzoffsetto", offset)
        std.add("tzname", moment.tzname() or zone.key)
        tz.add_component(std)
        return tz
    for rule in sorted(rules, key=lambda r: not r.is_dst):
        part = TimezoneDaylight() if rule.is_dst else TimezoneStandard()
        part.add("dtstart", rule.onset(1970))
        part.add("tzoffsetfrom", rule.offset_from)
        part.add("tzoffsetto", rule.offset_to)
        part.add("tzname", rule.name)
        part.add("rrule", {"freq": "yearly", "bymonth": rule.month, "byday": rule.byday})
        tz.add_component(part)
    return tz


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = value
    return address


# Names and addresses that need no escaping inside a quoted parameter / a mailto value.
_PLAIN_NAME = re.compile(r'[^"\x00-\x1f\x7f^\\]*')
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?_`{|}~@-]+")


def _fold(line: str) -> bytes:
    """RFC 5545 folding: lines of at most 75 octets, never inside a UTF-8 sequence."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return data + b"\r\n"
    pieces = []
    start, limit = 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        pieces.append(data[start:end])
        start, limit = end, 74  # a continuation line starts with a space
    return b"\r\n ".join(pieces) + b"\r\n"


@dataclass(frozen=True)
class CalendarTemplate:
    """The part of the calendar object every recipient shares, built once per round.

    Only UID, SEQUENCE, DTSTAMP and the ATTENDEE differ between recipients; they are written into
    the VEVENT by :meth:`render` (property order within a component carries no meaning).
    """

    head: bytes  # up to and including "BEGIN:VEVENT" CRLF
    tail: bytes

    def render(
        self,
        *,
        uid: str,
        sequence: int,
        dtstamp: dt.datetime,
        attendee_email: str,
        attendee_name: str,
    ) -> bytes:
        if _PLAIN_NAME.fullmatch(attendee_name) and _PLAIN_ADDRESS.fullmatch(attendee_email):
            # The common case, written directly (icalendar takes ten times as long per line).
            cn = f'CN="{attendee_name}";' if attendee_name else ""
            lines = [
                f"UID:{uid}",
                f"SEQUENCE:{sequence}",
                f"DTSTAMP:{dtstamp.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}",
                f"ATTENDEE;{cn}CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;"
                f"RSVP=TRUE:mailto:{attendee_email}",
            ]
            inner = b"".join(_fold(line) for line in lines)
            return self.head + inner + self.tail
        own = Event()
        own.add("uid", uid)
        own.add("sequence", sequence)
        own.add("dtstamp", dtstamp.astimezone(dt.UTC))
        own.add(
            "attendee",
            _address(
                attendee_email,
                attendee_name,
                CUTYPE="INDIVIDUAL",
                ROLE="REQ-PARTICIPANT",
                PARTSTAT="NEEDS-ACTION",
                RSVP="TRUE",
            ),
        )
        ical: bytes = own.to_ical()
        inner = ical[len(b"BEGIN:VEVENT\r\n") : -len(b"END:VEVENT\r\n")]
        return self.head + inner + self.tail


def calendar_template(invite: CalendarInvite) -> CalendarTemplate:
    """Everything but the per-recipient properties of *invite* (which are ignored here)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", invite.method)

    vtz = _vtimezone(invite.zone, invite.start.year)
    if vtz is not None and invite.end.year != invite.start.year:
        vtz = None
    start = invite.start.astimezone(invite.zone) if vtz else invite.start.astimezone(dt.UTC)
    end = invite.end.astimezone(invite.zone) if vtz else invite.end.astimezone(dt.UTC)
    if vtz is not None:
        cal.add_component(vtz)

    event = Event()
    event.add("dtstart", start)
    event.add("dtend", end)
    said = {"LANGUAGE": invite.language} if invite.language else {}
    event.add("summary", _Text(invite.summary), parameters=said)
    if invite.location:
        event.add("location", _Text(invite.location), parameters=said)
    if invite.description:
        event.add("description", _Text(invite.description), parameters=said)
    if invite.url:
        event.add("url", invite.url)
    event.add("status", "CANCELLED" if invite.method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(invite.organizer_email, invite.organizer_name))
    cal.add_component(event)
    data: bytes = cal.to_ical()
    marker = b"BEGIN:VEVENT\r\n"
    head, _, tail = data.partition(marker)
    return CalendarTemplate(head + marker, tail)


def build_calendar(invite: CalendarInvite) -> bytes:
    """The VCALENDAR as bytes (CRLF line endings, folded at 75 octets)."""
    return calendar_template(invite).render(
        uid=invite.uid,
        sequence=invite.sequence,
        dtstamp=invite.dtstamp,
        attendee_email=invite.attendee_email,
        attendee_name=invite.attendee_name,
    )
