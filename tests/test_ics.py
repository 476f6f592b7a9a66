"""The calendar object: parse it back with icalendar and check every field a client relies on."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from mailer.messages.ics import PRODID, CalendarInvite, build_calendar

HELSINKI = ZoneInfo("Europe/Helsinki")
DTSTAMP = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)


def invite(zone: str = "Europe/Helsinki", **changes: Any) -> CalendarInvite:
    tz = ZoneInfo(zone)
    base = CalendarInvite(
        uid="20270625-seminaari-Abc123@kokkola.example",
        sequence=0,
        method="REQUEST",
        summary="Akkukemian loppuseminaari",
        location="Villa Elba, Kokkola",
        description="12.00 lounas\n13.00 seminaari alkaa; tervetuloa!",
        start=dt.datetime(2027, 6, 25, 12, 0, tzinfo=tz),
        end=dt.datetime(2027, 6, 25, 16, 0, tzinfo=tz),
        zone=tz,
        organizer_email="viestinta@kokkola.example",
        organizer_name="Kokkolan kaupunki / Viestintä",
        attendee_email="paivi@lehti.example",
        attendee_name="Päivi Mäki-Jaakkola",
        dtstamp=DTSTAMP,
    )
    return dataclasses.replace(base, **changes)


def parse(data: bytes) -> tuple[Calendar, Any]:
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def lines(data: bytes) -> list[str]:
    """Unfolded content lines."""
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")


# --- a Helsinki invitation, field by field -------------------------------------------------------


def test_request_fields() -> None:
    data = build_calendar(invite())
    cal, ev = parse(data)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == PRODID
    assert str(ev["UID"]) == "20270625-seminaari-Abc123@kokkola.example"
    assert int(ev["SEQUENCE"]) == 0
    assert str(ev["SUMMARY"]) == "Akkukemian loppuseminaari"
    assert str(ev["LOCATION"]) == "Villa Elba, Kokkola"
    assert str(ev["DESCRIPTION"]) == "12.00 lounas\n13.00 seminaari alkaa; tervetuloa!"
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["TRANSP"]) == "OPAQUE"
    assert "URL" not in ev


def test_dtstamp_is_utc() -> None:
    data = build_calendar(invite(dtstamp=dt.datetime(2026, 11, 29, 12, 0, tzinfo=HELSINKI)))
    _, ev = parse(data)
    assert "DTSTAMP:20261129T100000Z" in lines(data)
    assert ev["DTSTAMP"].dt == dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)


def test_start_and_end_with_tzid_at_the_right_instant() -> None:
    data = build_calendar(invite())
    _, ev = parse(data)
    assert "DTSTART;TZID=Europe/Helsinki:20270625T120000" in lines(data)
    assert "DTEND;TZID=Europe/Helsinki:20270625T160000" in lines(data)
    assert ev["DTSTART"].dt.astimezone(dt.UTC) == dt.datetime(2027, 6, 25, 9, 0, tzinfo=dt.UTC)
    assert ev["DTEND"].dt.astimezone(dt.UTC) == dt.datetime(2027, 6, 25, 13, 0, tzinfo=dt.UTC)


def test_start_given_in_utc_is_written_in_the_event_zone() -> None:
    start = dt.datetime(2027, 6, 25, 9, 0, tzinfo=dt.UTC)
    data = build_calendar(invite(start=start, end=start + dt.timedelta(hours=4)))
    assert "DTSTART;TZID=Europe/Helsinki:20270625T120000" in lines(data)


def test_helsinki_vtimezone_lines() -> None:
    data = build_calendar(invite())
    text = lines(data)
    begin = text.index("BEGIN:VTIMEZONE")
    assert begin < text.index("BEGIN:VEVENT")
    block = text[begin : text.index("END:VTIMEZONE") + 1]
    assert block == [
        "BEGIN:VTIMEZONE",
        "TZID:Europe/Helsinki",
        "BEGIN:DAYLIGHT",
        "DTSTART:19700329T030000",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        "TZNAME:EEST",
        "TZOFFSETFROM:+0200",
        "TZOFFSETTO:+0300",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        "DTSTART:19701025T040000",
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
        "TZNAME:EET",
        "TZOFFSETFROM:+0300",
        "TZOFFSETTO:+0200",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]


def vtimezone_tz(data: bytes) -> dt.tzinfo:
    zones = Calendar.from_ical(data).walk("VTIMEZONE")
    assert len(zones) == 1
    tz: dt.tzinfo = zones[0].to_tz()
    return tz


@pytest.mark.parametrize("zone", ["Europe/Helsinki", "America/New_York", "Pacific/Auckland"])
def test_vtimezone_matches_the_zone_every_hour_of_three_years(zone: str) -> None:
    """A client that knows only our VTIMEZONE gets every offset of 2026-2028 right."""
    tz = ZoneInfo(zone)
    ours = vtimezone_tz(build_calendar(invite(zone)))
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    while moment.year < 2029:
        local = moment.astimezone(tz).replace(tzinfo=None)
        if (
            local.replace(tzinfo=tz, fold=0).utcoffset()
            == local.replace(tzinfo=tz, fold=1).utcoffset()
        ):
            assert local.replace(tzinfo=ours).utcoffset() == local.replace(tzinfo=tz).utcoffset(), (
                local
            )
        moment += dt.timedelta(hours=1)


def test_winter_and_summer_offsets_in_helsinki() -> None:
    ours = vtimezone_tz(build_calendar(invite()))
    assert dt.datetime(2027, 1, 15, 13, 0, tzinfo=ours).utcoffset() == dt.timedelta(hours=2)
    assert dt.datetime(2027, 7, 15, 13, 0, tzinfo=ours).utcoffset() == dt.timedelta(hours=3)
    # The last Sunday of March 2026 is the 29th, of October the 25th.
    assert dt.datetime(2026, 3, 29, 2, 59, tzinfo=ours).utcoffset() == dt.timedelta(hours=2)
    assert dt.datetime(2026, 3, 29, 4, 0, tzinfo=ours).utcoffset() == dt.timedelta(hours=3)
    assert dt.datetime(2026, 10, 25, 2, 59, tzinfo=ours).utcoffset() == dt.timedelta(hours=3)
    assert dt.datetime(2026, 10, 25, 4, 0, tzinfo=ours).utcoffset() == dt.timedelta(hours=2)


def test_organizer_with_cn() -> None:
    _, ev = parse(build_calendar(invite()))
    org = ev["ORGANIZER"]
    assert str(org) == "mailto:viestinta@kokkola.example"
    assert str(org.params["CN"]) == "Kokkolan kaupunki / Viestintä"


def test_exactly_one_attendee_who_must_answer() -> None:
    data = build_calendar(invite())
    _, ev = parse(data)
    attendee = ev["ATTENDEE"]
    assert not isinstance(attendee, list)
    assert sum(1 for line in lines(data) if line.startswith("ATTENDEE")) == 1
    assert str(attendee) == "mailto:paivi@lehti.example"
    assert str(attendee.params["CN"]) == "Päivi Mäki-Jaakkola"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "TRUE"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["CUTYPE"] == "INDIVIDUAL"


def test_names_are_optional() -> None:
    _, ev = parse(build_calendar(invite(attendee_name="", organizer_name="")))
    assert "CN" not in ev["ATTENDEE"].params
    assert "CN" not in ev["ORGANIZER"].params


def test_url_and_empty_optional_fields() -> None:
    data = build_calendar(
        invite(url="https://kokkola.example/seminaari", location="", description="")
    )
    _, ev = parse(data)
    assert str(ev["URL"]) == "https://kokkola.example/seminaari"
    assert "LOCATION" not in ev and "DESCRIPTION" not in ev


def test_sequence_is_written() -> None:
    _, ev = parse(build_calendar(invite(sequence=3)))
    assert int(ev["SEQUENCE"]) == 3


def test_cancel() -> None:
    cal, ev = parse(build_calendar(invite(method="CANCEL", sequence=1)))
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(ev["STATUS"]) == "CANCELLED"
    assert int(ev["SEQUENCE"]) == 1


# --- other zones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "utc_start", "winter", "summer"),
    [
        ("America/New_York", dt.datetime(2027, 6, 25, 16, 0), -5, -4),
        ("Pacific/Auckland", dt.datetime(2027, 6, 25, 0, 0), 13, 12),  # southern summer in January
        ("Asia/Tokyo", dt.datetime(2027, 6, 25, 3, 0), 9, 9),
    ],
)
def test_other_zones(zone: str, utc_start: dt.datetime, winter: int, summer: int) -> None:
    data = build_calendar(invite(zone))
    _, ev = parse(data)
    assert f"DTSTART;TZID={zone}:20270625T120000" in lines(data)
    assert ev["DTSTART"].dt.astimezone(dt.UTC) == utc_start.replace(tzinfo=dt.UTC)
    ours = vtimezone_tz(data)
    assert dt.datetime(2027, 1, 15, 12, tzinfo=ours).utcoffset() == dt.timedelta(hours=winter)
    assert dt.datetime(2027, 7, 15, 12, tzinfo=ours).utcoffset() == dt.timedelta(hours=summer)


def test_zone_without_daylight_saving_has_one_standard_part() -> None:
    data = build_calendar(invite("Asia/Tokyo"))
    text = lines(data)
    assert "BEGIN:DAYLIGHT" not in text
    assert text.count("BEGIN:STANDARD") == 1
    assert "TZOFFSETFROM:+0900" in text and "TZOFFSETTO:+0900" in text
    assert not any(line.startswith("RRULE") for line in text)


def test_zone_that_rrules_cannot_describe_falls_back_to_utc() -> None:
    """Morocco suspends its offset for Ramadan, on dates that move every year."""
    data = build_calendar(invite("Africa/Casablanca"))
    _, ev = parse(data)
    text = lines(data)
    assert "BEGIN:VTIMEZONE" not in text
    assert "DTSTART:20270625T110000Z" in text
    assert "DTEND:20270625T150000Z" in text
    assert ev["DTSTART"].dt == dt.datetime(2027, 6, 25, 11, 0, tzinfo=dt.UTC)


def test_event_over_new_year_is_written_in_utc() -> None:
    start = dt.datetime(2027, 12, 31, 22, 0, tzinfo=HELSINKI)
    data = build_calendar(invite(start=start, end=start + dt.timedelta(hours=4)))
    text = lines(data)
    assert "BEGIN:VTIMEZONE" not in text
    assert "DTSTART:20271231T200000Z" in text
    assert "DTEND:20280101T000000Z" in text


# --- the bytes -----------------------------------------------------------------------------------


def test_crlf_line_endings_and_folding_at_75_octets() -> None:
    long_name = (
        "Päivi Mäki-Jaakkola-Öhman-Åkerlund, Keski-Pohjanmaan Sanomat ja Österbottens Tidning"
    )
    data = build_calendar(invite(attendee_name=long_name, summary="Ä" * 200))
    assert data.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    physical = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in physical) <= 75
    assert any(line.startswith(b" ") for line in physical)  # something was folded
    for line in physical:
        line.decode("utf-8")  # folding never splits a UTF-8 character
    _, ev = parse(data)
    assert str(ev["SUMMARY"]) == "Ä" * 200
    assert str(ev["ATTENDEE"].params["CN"]) == long_name


def test_carriage_returns_become_newlines() -> None:
    _, ev = parse(build_calendar(invite(description="a\r\nb\rc")))
    assert str(ev["DESCRIPTION"]) == "a\nb\nc"


# Text of the event: anything but CR (iCalendar TEXT only knows "\n") and NUL.
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), max_size=60
)
_TEXT_SPECIAL = st.sampled_from([",", ";", ":", "\\", '"', "\n", "ä", "€", "😀", " ", "^", "'"])
# Names: contacts.csv and config.toml refuse control characters in names (see test_contacts and
# test_config). A backslash is left out: RFC 5545 parameter values have no escapes, so
# ``CN=a\;ROLE=..`` is correct, but icalendar's parser reads the backslash as an escape.
_NAME = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"), max_size=40
)
_NAME_SPECIAL = st.sampled_from([",", ";", ":", '"', "ä", "Å", "😀", " ", "^", "'", "^n"])


def _tricky(
    base: st.SearchStrategy[str], special: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(base, special), max_size=6).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    summary=_tricky(_TEXT, _TEXT_SPECIAL),
    location=_tricky(_TEXT, _TEXT_SPECIAL),
    description=_tricky(_TEXT, _TEXT_SPECIAL),
    organizer_name=_tricky(_NAME, _NAME_SPECIAL),
    attendee_name=_tricky(_NAME, _NAME_SPECIAL),
)
def test_text_round_trips_exactly(
    summary: str, location: str, description: str, organizer_name: str, attendee_name: str
) -> None:
    summary = summary or "x"  # SUMMARY is always written
    data = build_calendar(
        invite(
            summary=summary,
            location=location,
            description=description,
            organizer_name=organizer_name,
            attendee_name=attendee_name,
        )
    )
    physical = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in physical) <= 75
    assert b"\n" not in data.replace(b"\r\n", b"")
    _, ev = parse(data)
    assert str(ev["SUMMARY"]) == summary
    assert str(ev.get("LOCATION", "")) == location
    assert str(ev.get("DESCRIPTION", "")) == description
    assert str(ev["ORGANIZER"].params.get("CN", "")) == organizer_name
    attendee = ev["ATTENDEE"]
    assert not isinstance(attendee, list)
    assert str(attendee.params.get("CN", "")) == attendee_name
    assert str(attendee) == "mailto:paivi@lehti.example"
