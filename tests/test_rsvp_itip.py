"""The simple iTIP REPLY reader (mailer.rsvp.itip) against icalendar, which it stands in for."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.rsvp import ical
from mailer.rsvp.ical import CalendarRead, read_calendar
from mailer.rsvp.itip import read_simple
from mailer.rsvp.parse import parse_message

CORPUS = Path(__file__).parent / "data" / "replies"
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextmanager
def icalendar_only() -> Iterator[None]:
    with mock.patch.object(ical, "read_simple", lambda lines: None):
        yield


def both(text: str) -> tuple[CalendarRead, CalendarRead]:
    fast = read_calendar(text, from_address="from@x.example")
    with icalendar_only():
        slow = read_calendar(text, from_address="from@x.example")
    return fast, slow


def simple(text: str) -> bool:
    return read_simple(ical._lines(text)) is not None


# --- the corpus ------------------------------------------------------------------------------


def _corpus_calendars() -> list[tuple[str, str]]:
    return [
        (p.name, part.text)
        for p in sorted(CORPUS.glob("*.eml"))
        for part in parse_message(p.read_bytes()).calendars
    ]


@pytest.mark.parametrize(("name", "text"), _corpus_calendars(), ids=lambda v: v[:40])
def test_corpus_calendars_read_the_same_both_ways(name: str, text: str) -> None:
    fast, slow = both(text)
    assert fast == slow
    # Google, Apple, Outlook (with its VTIMEZONE) and Thunderbird take the simple way.
    assert simple(text) == (name != "broken_icalendar.eml")


# --- generated REPLY objects -----------------------------------------------------------------

_PIECES = st.sampled_from(
    ["\\,", "\\;", "\\n", "\\N", "\\\\", "\\:", "\\x", ",", ";", ":", '"', "^", "%2C", " "]
)
_TEXT = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6) | _PIECES, max_size=6
).map("".join)
_UNQUOTED_EQUALS = re.compile(r';[A-Za-z0-9-]+=(?!")[^";:\r\n]*=')
_PARAM_TEXT = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\^%,;:'),
        min_size=1,
        max_size=20,
    )
    .map(lambda text: text.strip(" \t"))
    .filter(bool)
)
_STAMPS = st.sampled_from(
    [
        "20270301T120000Z",
        "20270301T120000",
        "20270301",
        "20270229T120000Z",
        "20271399T250000Z",
        "yesterday",
        "20270301T120000z",
    ]
)
_PARTSTATS = st.sampled_from(
    ["ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED", "NEEDS-ACTION", "accepted", '"ACCEPTED"']
)
_TIMEZONE = [
    "BEGIN:VTIMEZONE",
    "TZID:FLE Standard Time",
    "BEGIN:STANDARD",
    "DTSTART:16010101T040000",
    "TZOFFSETFROM:+0300",
    "TZOFFSETTO:+0200",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:16010101T030000",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0300",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
]


def _param(name: str, value: str, quoted: bool) -> str:
    return f';{name}="{value}"' if quoted else f";{name}={value}"


@st.composite
def attendee(draw: st.DrawFn) -> str:
    params = [
        _param("PARTSTAT", draw(_PARTSTATS), False),
        _param("CN", draw(_PARAM_TEXT), draw(st.booleans())),
    ]
    if draw(st.booleans()):
        params.append(_param("X-NUM-GUESTS", draw(st.sampled_from(["0", "2", "x", "-1"])), False))
    if draw(st.booleans()):
        params.append(';DELEGATED-TO="mailto:d@x.example"')
    params = draw(st.permutations(params))
    address = draw(
        st.sampled_from(
            [
                "mailto:a@x.example",
                "MAILTO:B@X.example",
                "c@x.example",
                '"mailto:q@x.example"',
                "mailto:a\\,b@x.example",
            ]
        )
    )
    return "ATTENDEE" + "".join(params) + ":" + address


@st.composite
def reply(draw: st.DrawFn) -> list[str]:
    """Lines of a REPLY as clients write them (what the simple reader must take)."""
    guests = draw(st.sampled_from(["1", " 3", "x", "a\\,b"]))
    event = [
        f"UID:{draw(_TEXT)}",
        f"DTSTAMP:{draw(_STAMPS)}",
        *draw(st.lists(attendee(), min_size=1, max_size=3)),
    ]
    optional = [
        f"SEQUENCE:{draw(st.sampled_from(['0', '2', '007', 'x', '-1']))}",
        f"COMMENT;LANGUAGE=fi-FI:{draw(_TEXT)}",
        f"SUMMARY:{draw(_TEXT)}",
        f"X-NUM-GUESTS:{guests}",
        "DTSTART;TZID=FLE Standard Time:20270625T120000",
        "DTEND:20270625T160000Z",
        f"ORGANIZER;CN={draw(_PARAM_TEXT)}:mailto:org@x.example",
        "PRIORITY:5",
        f"X-MICROSOFT-CDO-BUSYSTATUS:{draw(_TEXT)}",
        "CLASS:PUBLIC",
        f"LOCATION:{draw(_TEXT)}",
    ]
    event += draw(st.lists(st.sampled_from(optional), unique=True))
    event = draw(st.permutations(event))
    head = [f"PRODID:{draw(_TEXT)}", "VERSION:2.0"]
    method = draw(st.sampled_from(["REPLY", "reply", "REQUEST", "COUNTER", None]))
    if method is not None:
        head.append(f"METHOD:{method}")
    zone = _TIMEZONE if draw(st.booleans()) else []
    return ["BEGIN:VCALENDAR", *head, *zone, "BEGIN:VEVENT", *event, "END:VEVENT", "END:VCALENDAR"]


def _fold(lines: list[str], widths: list[int], newline: str) -> str:
    out = []
    for i, line in enumerate(lines):
        width = widths[i % len(widths)] if widths else 0
        if width and len(line) > width:
            line = (newline + " ").join(line[j : j + width] for j in range(0, len(line), width))
        out.append(line)
    return newline.join(out) + newline


@PROPERTY
@given(reply(), st.lists(st.integers(0, 80), max_size=5), st.sampled_from(["\r\n", "\n"]))
def test_generated_replies_read_the_same_both_ways(
    lines: list[str], widths: list[int], newline: str
) -> None:
    text = _fold(lines, widths, newline)
    fast, slow = both(text)
    assert fast == slow


@PROPERTY
@given(reply())
def test_plain_replies_take_the_simple_way(lines: list[str]) -> None:
    text = "\r\n".join(lines)
    clean = all(
        bad not in text
        for bad in (
            "yesterday",
            "1399",
            "0229",
            "SEQUENCE:x",
            "SEQUENCE:-1",
            "T120000z",
            '"ACCEPTED"',
            "\\x",
        )
    )
    # An "=" inside an unquoted parameter value goes to icalendar (it reads it differently).
    clean = clean and not _UNQUOTED_EQUALS.search(text)
    if clean:
        assert simple(text)


_MUTATIONS = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "BEGIN:VALARM",
        "END:VCALENDAR",
        "BEGIN:VCALENDAR",
        "RRULE:FREQ=YEARLY;BYDAY=-1XX",
        "TZOFFSETFROM:+03",
        "DTSTART:1601",
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=a^nb:mailto:x@y",
        'ATTENDEE;CN="a;PARTSTAT=ACCEPTED:x@y',
        "ATTENDEE;PARTSTAT=ACCEPTED,DECLINED:mailto:x@y",
        "ATTENDEE;PARTSTAT= ACCEPTED:x@y",
        "UID:second",
        "DTSTAMP;TZID=Europe/Helsinki:20270301T120000",
        "DTSTART;VALUE=DATE:20270301",
        "FOO:bar",
        "RECURRENCE-ID:20270301T120000Z",
        "SEQUENCE:1",
        ":x",
        "X-A;=b:c",
        "x y:z",
        "TZNAME:EET",
        "RRULE:FREQ=YEARLY;UNTIL=20271301T000000Z",
        "TZOFFSETTO:-0000",
    ]
)


@PROPERTY
@given(
    reply(),
    st.lists(st.tuples(st.integers(0, 60), st.one_of(_MUTATIONS, _TEXT)), min_size=1, max_size=4),
)
def test_damaged_replies_read_the_same_both_ways(
    lines: list[str], changes: list[tuple[int, str]]
) -> None:
    for where, line in changes:
        lines.insert(where % (len(lines) + 1), line)
    fast, slow = both("\r\n".join(lines))
    assert fast == slow


@PROPERTY
@given(st.lists(st.text(max_size=40), max_size=30))
def test_simple_reader_never_raises(lines: list[str]) -> None:
    result = read_simple(lines)
    assert result is None or len(result) == 1
    inside = read_simple(["BEGIN:VCALENDAR", *lines, "END:VCALENDAR"])
    assert inside is None or inside[0].name == "VCALENDAR"


def test_an_equals_sign_in_an_unquoted_parameter_reads_the_same_both_ways() -> None:
    """Found by the property test above: icalendar drops the white space around the "=" in
    ``CN=0 =``; the simple reader leaves such a line to icalendar."""
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:x",
        "VERSION:2.0",
        "METHOD:REPLY",
        "BEGIN:VEVENT",
        "UID:u1",
        "DTSTAMP:20270601T100000Z",
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=0 =:MAILTO:B@X.example",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    text = "\r\n".join(lines) + "\r\n"
    fast, slow = both(text)
    assert fast == slow
    assert not simple(text)
