"""A small strict reader for the common shape of iTIP REPLY objects (pure; never raises).

Most replies are one VCALENDAR with one VEVENT and a dozen plain lines; reading them with
icalendar costs about a millisecond each. :func:`read_simple` reads exactly that shape and
gives objects that answer the few questions :mod:`mailer.rsvp.ical` asks (``get``, ``walk``,
``params``, ``dt``) with the values icalendar would give. When the text holds anything it does
not fully understand (another component, an unknown property, a value icalendar would reject or
convert differently, a repeated property, escapes in parameters, ...) it returns None and the
caller reads the text with icalendar, so that both ways always agree (see the property test in
tests/test_rsvp_itip.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

# NAME *(";" param) ":" value, with the parameter grammar narrowed to what needs no unescaping:
# no backslash, caret (RFC 6868), percent, comma or control character in a parameter value, and
# no white space at the ends of an unquoted one (icalendar strips it there), and no "=" in it
# (icalendar splits there and drops the white space around it).
_SAFE = r'[^";:,=\\^%\x00-\x1f\x7f]'
_QSAFE = r'[^"\\^%\x00-\x08\x0a-\x1f\x7f]'
_PARAM = rf'([A-Za-z0-9-]+)=(?:"({_QSAFE}*)"|((?![ \t]){_SAFE}+(?<![ \t])))'
_LINE = re.compile(rf"([A-Za-z0-9-]+)((?:;{_PARAM})*):(.*)", re.DOTALL)
_PARAMS = re.compile(rf";{_PARAM}")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_UNESCAPE = re.compile(r"\\([\\,;:nN])")  # icalendar's unescape_backslash for TEXT values
_DATETIME = re.compile(r"(\d{4})(\d\d)(\d\d)(?:T(\d\d)(\d\d)(\d\d)(Z?))?")
_INTEGER = re.compile(r"[0-9]{1,9}")

_DAY = r"(?:MO|TU|WE|TH|FR|SA|SU)"
_RULE_PART = re.compile(
    rf"(FREQ)=(?:YEARLY|MONTHLY|WEEKLY|DAILY)|(BYMONTH)=(?:[1-9]|1[0-2])"
    rf"|(BYDAY)=(?:[+-]?[1-5])?{_DAY}|(INTERVAL)=[1-9][0-9]?|(COUNT)=[1-9][0-9]{{0,2}}"
    rf"|(WKST)={_DAY}|(UNTIL)=(\d{{8}}T\d{{6}}Z)"
)
_OFFSET = re.compile(r"[+-](?:0[0-9]|1[0-4])[0-5][0-9]")

_TEXT = frozenset(
    {
        "UID",
        "SUMMARY",
        "COMMENT",
        "DESCRIPTION",
        "LOCATION",
        "STATUS",
        "CLASS",
        "TRANSP",
        "PRODID",
        "VERSION",
        "CALSCALE",
        "METHOD",
        "TZID",
        "TZNAME",
    }
)
_ADDRESS = frozenset({"ATTENDEE", "ORGANIZER"})
_INTEGERS = frozenset({"SEQUENCE", "PRIORITY"})
_DATES = frozenset({"DTSTAMP", "DTSTART", "DTEND", "CREATED", "LAST-MODIFIED"})
_TIMEZONE_RULE = frozenset({"DTSTART", "TZOFFSETFROM", "TZOFFSETTO", "TZNAME", "RRULE", "COMMENT"})
_ALLOWED = {
    "VCALENDAR": frozenset({"PRODID", "VERSION", "CALSCALE", "METHOD"}),
    "VEVENT": frozenset(
        {"UID", "SUMMARY", "COMMENT", "DESCRIPTION", "LOCATION", "STATUS", "CLASS", "TRANSP"}
    )
    | _ADDRESS
    | _INTEGERS
    | _DATES,
    "VTIMEZONE": frozenset({"TZID"}),
    "STANDARD": _TIMEZONE_RULE,
    "DAYLIGHT": _TIMEZONE_RULE,
}
_CHILDREN = {"VCALENDAR": ("VEVENT", "VTIMEZONE"), "VTIMEZONE": ("STANDARD", "DAYLIGHT")}
_REPEATABLE = frozenset({"ATTENDEE"})


class Unsure(Exception):
    """The text leaves the shape this reader knows: read it with icalendar instead."""


class Value(str):
    """A property value as text, with its parameters (upper-case names)."""

    params: dict[str, str]

    def __new__(cls, text: str, params: dict[str, str]) -> Value:
        value = super().__new__(cls, text)
        value.params = params
        return value


class Stamp:
    """A date-time property: ``dt`` as icalendar gives it (aware UTC, naive, or a date)."""

    def __init__(self, when: dt.date, params: dict[str, str]) -> None:
        self.dt = when
        self.params = params


class Component:
    """A VCALENDAR or VEVENT: its properties (a list for a repeated one) and components."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.props: dict[str, object] = {}
        self.subcomponents: list[Component] = []
        self.errors: list[tuple[str, str]] = []  # always empty: values are checked on reading

    def get(self, name: str) -> object:
        return self.props.get(name)

    def walk(self, name: str) -> list[Component]:
        found = [self] if self.name == name else []
        for sub in self.subcomponents:
            found.extend(sub.walk(name))
        return found


def read_simple(lines: Sequence[str]) -> list[Component] | None:
    """The calendar in *lines* (normalised, unfolded here), or None when unsure."""
    try:
        return [_read(_unfold(lines))]
    except Unsure:
        return None
    except Exception:  # untrusted input: never raise, let icalendar decide
        return None


def _unfold(lines: Sequence[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not line:
            raise Unsure("blank line")
        if line[0] in " \t":
            if not out:
                raise Unsure("folded first line")
            out[-1] += line[1:]
        else:
            out.append(line)
    return out


def _read(lines: list[str]) -> Component:
    if len(lines) < 2 or lines[0] != "BEGIN:VCALENDAR" or lines[-1] != "END:VCALENDAR":
        raise Unsure("not one VCALENDAR")
    stack = [Component("VCALENDAR")]
    for line in lines[1:-1]:
        current = stack[-1]
        if line.startswith("BEGIN:") and line[6:] in _CHILDREN.get(current.name, ()):
            stack.append(Component(line[6:]))
            current.subcomponents.append(stack[-1])
        elif line.startswith("END:") and line[4:] == current.name and len(stack) > 1:
            stack.pop()
        else:
            _property(current, line)
    if len(stack) != 1:
        raise Unsure("a component is not closed")
    return stack[0]


def _property(component: Component, line: str) -> None:
    m = _LINE.fullmatch(line)
    if m is None:
        raise Unsure("line")
    name, raw_params, raw = m.group(1).upper(), m.group(2), m.group(6)
    if _BAD_VALUE.search(raw):
        raise Unsure("control character")
    params: dict[str, str] = {}
    for p in _PARAMS.finditer(raw_params):
        quoted = p.group(2)
        params[p.group(1).upper()] = quoted if quoted is not None else p.group(3)
    if "VALUE" in params or ("TZID" in params and not _zoned(component, name)):
        raise Unsure("VALUE or TZID")
    if name.startswith("X-"):
        value: object = Value(raw, params)  # icalendar keeps unknown values verbatim
    elif name not in _ALLOWED[component.name]:
        raise Unsure("property")
    elif component.name in ("STANDARD", "DAYLIGHT") and name not in _TEXT:
        value = Value(_timezone_rule(name, raw, params), params)
    elif name in _DATES:
        value = Stamp(_date(raw, "TZID" in params), params)
    elif name in _INTEGERS:
        if not _INTEGER.fullmatch(raw):
            raise Unsure("integer")
        value = Value(str(int(raw)), params)
    else:
        value = Value(_UNESCAPE.sub(_unescaped, raw), params)
    if name in component.props:
        if name not in _REPEATABLE:
            raise Unsure("repeated property")
        before = component.props[name]
        component.props[name] = [*before, value] if isinstance(before, list) else [before, value]
    else:
        component.props[name] = value


def _zoned(component: Component, name: str) -> bool:
    return component.name == "VEVENT" and name in ("DTSTART", "DTEND")


def _timezone_rule(name: str, raw: str, params: dict[str, str]) -> str:
    """Check a line of a STANDARD or DAYLIGHT part (icalendar rejects the whole calendar when
    one of them is broken, so only forms it surely reads are taken)."""
    if params:
        raise Unsure("parameters in a time zone rule")
    if name == "DTSTART":
        if "T" not in raw or raw.endswith("Z"):
            raise Unsure("time zone start")
        _date(raw, False)
    elif name in ("TZOFFSETFROM", "TZOFFSETTO"):
        if not _OFFSET.fullmatch(raw) or raw == "-0000":
            raise Unsure("offset")
    else:  # RRULE
        seen: set[str] = set()
        for part in raw.split(";"):
            m = _RULE_PART.fullmatch(part)
            key = part.partition("=")[0]
            if m is None or key in seen:
                raise Unsure("recurrence rule")
            seen.add(key)
            if m.group(8):
                _date(m.group(8), False)
        if not raw.startswith("FREQ="):
            raise Unsure("recurrence rule without FREQ first")
    return raw


def _unescaped(m: re.Match[str]) -> str:
    return "\n" if m.group(1) in "nN" else m.group(1)


def _date(raw: str, zoned: bool) -> dt.date:
    m = _DATETIME.fullmatch(raw)
    if m is None:
        raise Unsure("date")
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if m.group(4) is None:
        if zoned:
            raise Unsure("zoned date")
        return dt.date(year, month, day)
    if zoned and m.group(7):
        raise Unsure("zoned UTC time")
    when = dt.datetime(year, month, day, int(m.group(4)), int(m.group(5)), int(m.group(6)))
    if zoned:
        return when  # DTSTART / DTEND only: the time zone is never read here
    return when.replace(tzinfo=dt.UTC) if m.group(7) else when
