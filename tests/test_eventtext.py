"""The event as a message tells it: zone names, times, what changed, the calendar description."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from mailer.config import EventConfig, EventText
from mailer.messages.eventtext import (
    Change,
    attachment_line,
    calendar_description,
    changes,
    event_vars,
    when_text,
    zone_name,
)

HELSINKI = ZoneInfo("Europe/Helsinki")


def event(**overrides: object) -> EventConfig:
    values: dict[str, object] = {
        "title": "Loppuseminaari",
        "location": "Villa Elba, Kokkola",
        "description": "Ohjelma:\n12.00 lounas\n",
        "start": dt.datetime(2027, 6, 25, 12, 0, tzinfo=HELSINKI),
        "end": dt.datetime(2027, 6, 25, 16, 0, tzinfo=HELSINKI),
        "zone": HELSINKI,
        "id": "x",
        "url": "",
        "languages": {
            "sv": EventText("Slutseminarium", "Villa Elba, Karleby", "Program:\n12.00 lunch\n", "")
        },
    }
    values.update(overrides)
    return EventConfig(**values)  # type: ignore[arg-type]


# --- zone names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "language", "expected"),
    [
        ("Europe/Helsinki", "fi", "Suomen aikaa"),
        ("Europe/Helsinki", "sv", "finsk tid"),
        ("Europe/Helsinki", "en", "Finnish time"),
        ("Europe/Mariehamn", "sv", "finsk tid"),
        ("Europe/Stockholm", "fi", "Ruotsin aikaa"),
        ("Europe/Stockholm", "sv", "svensk tid"),
        ("Europe/Tallinn", "en", "Estonian time"),
        # Babel's generic names for the zones without a name of ours.
        ("Europe/Berlin", "fi", "Keski-Euroopan aika"),
        ("Europe/Berlin", "sv", "centraleuropeisk tid"),
        ("Europe/Berlin", "en", "Central European Time"),
        ("Asia/Tokyo", "en", "Japan Time"),
        ("America/New_York", "en", "Eastern Time"),
        ("UTC", "fi", "UTC"),
        ("Etc/UTC", "en", "UTC"),
    ],
)
def test_zone_names(zone: str, language: str, expected: str) -> None:
    assert zone_name(ZoneInfo(zone), language) == expected


@pytest.mark.parametrize("key", ["Etc/GMT-3", "Etc/GMT+5", "America/Argentina/Buenos_Aires"])
def test_a_zone_name_is_never_the_zone_key(key: str) -> None:
    for language in ("fi", "sv", "en"):
        name = zone_name(ZoneInfo(key), language, dt.datetime(2027, 6, 25, tzinfo=dt.UTC))
        assert "/" not in name and key not in name and name


def test_an_unnamed_fixed_offset_zone_gets_its_offset() -> None:
    assert zone_name(ZoneInfo("Etc/GMT-3"), "fi") == "UTC+3"
    assert zone_name(ZoneInfo("Etc/GMT+5"), "en") == "UTC-5"


# --- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fi", "perjantai 25. kesäkuuta 2027 klo 12.00–16.00"),
        ("sv", "fredag 25 juni 2027 kl. 12.00–16.00"),
        ("en", "Friday, 25 June 2027, 12:00–16:00"),
    ],
)
def test_when_text(language: str, expected: str) -> None:
    ev = event()
    assert when_text(ev.start, ev.end, HELSINKI, language) == expected


def test_when_text_over_two_days_and_in_the_event_zone() -> None:
    start = dt.datetime(2027, 6, 25, 18, 0, tzinfo=HELSINKI).astimezone(dt.UTC)
    end = dt.datetime(2027, 6, 26, 2, 0, tzinfo=HELSINKI)
    assert when_text(start, end, HELSINKI, "fi") == (
        "perjantai 25. kesäkuuta 2027 klo 18.00 – lauantai 26. kesäkuuta 2027 klo 2.00"
    )


# --- what changed --------------------------------------------------------------------------------


def test_changes_in_each_language() -> None:
    before = event()
    after = event(
        start=dt.datetime(2027, 6, 26, 13, 0, tzinfo=HELSINKI),
        end=dt.datetime(2027, 6, 26, 17, 0, tzinfo=HELSINKI),
        location="Kaupungintalo",
        languages={"sv": EventText("Slutseminarium", "Stadshuset", "Program", "")},
    )
    assert changes(before, after, "fi") == (
        Change(
            "time",
            "Aika",
            "perjantai 25. kesäkuuta 2027 klo 12.00–16.00",
            "lauantai 26. kesäkuuta 2027 klo 13.00–17.00",
        ),
        Change("location", "Paikka", "Villa Elba, Kokkola", "Kaupungintalo"),
    )
    assert [c.line for c in changes(before, after, "sv")] == [
        "Tid: fredag 25 juni 2027 kl. 12.00–16.00 → lördag 26 juni 2027 kl. 13.00–17.00",
        "Plats: Villa Elba, Karleby → Stadshuset",
    ]
    # English has no table: it follows [event].
    assert [c.what for c in changes(before, after, "en")] == ["time", "location"]
    assert changes(before, after, "en")[1].as_dict() == {
        "what": "location",
        "label": "Place",
        "old": "Villa Elba, Kokkola",
        "new": "Kaupungintalo",
    }


def test_no_changes_and_the_description_is_not_listed() -> None:
    assert changes(event(), event(), "fi") == ()
    assert changes(event(), event(description="Uusi ohjelma"), "fi") == ()


def test_title_and_url_changes() -> None:
    after = event(title="Uusi nimi", url="https://kokkola.example/s")
    assert [(c.what, c.old, c.new) for c in changes(event(), after, "fi")] == [
        ("title", "Loppuseminaari", "Uusi nimi"),
        ("url", "", "https://kokkola.example/s"),
    ]


def test_a_new_zone_is_named_on_both_sides() -> None:
    stockholm = ZoneInfo("Europe/Stockholm")
    after = event(
        zone=stockholm,
        start=dt.datetime(2027, 6, 25, 11, 0, tzinfo=stockholm),
        end=dt.datetime(2027, 6, 25, 15, 0, tzinfo=stockholm),
    )
    (change,) = changes(event(), after, "sv")
    assert change.line == (
        "Tid: fredag 25 juni 2027 kl. 12.00–16.00 (finsk tid) → "
        "fredag 25 juni 2027 kl. 11.00–15.00 (svensk tid)"
    )


def test_the_same_instant_written_in_another_offset_is_no_change() -> None:
    before = event()
    after = dataclasses.replace(
        before, start=before.start.astimezone(dt.UTC), end=before.end.astimezone(dt.UTC)
    )
    assert changes(before, after, "fi") == ()


# --- the calendar description --------------------------------------------------------------------


def test_attachment_line() -> None:
    assert attachment_line([], "fi") == ""
    assert attachment_line(["programme.pdf"], "fi") == "Liitteenä: programme.pdf"
    assert attachment_line(["a.pdf", "b.jpg"], "fi") == "Liitteinä: a.pdf, b.jpg"
    assert attachment_line(["a.pdf"], "sv") == "Bilaga: a.pdf"
    assert attachment_line(["a.pdf", "b.jpg"], "sv") == "Bilagor: a.pdf, b.jpg"
    assert attachment_line(["a.pdf"], "en") == "Attached: a.pdf"


def test_calendar_description() -> None:
    text = event().text("fi")
    assert calendar_description(text, "fi", attachments=(), changed=()) == (
        "Ohjelma:\n12.00 lounas"
    )
    assert calendar_description(text, "fi", attachments=["programme.pdf"], changed=()) == (
        "Ohjelma:\n12.00 lounas\n\nLiitteenä: programme.pdf"
    )
    moved = Change("location", "Paikka", "Villa Elba", "Kaupungintalo")
    assert calendar_description(text, "fi", attachments=(), changed=[moved]) == (
        "Muutokset:\nPaikka: Villa Elba → Kaupungintalo\n\nOhjelma:\n12.00 lounas"
    )
    empty = EventText("t", "l", "", "")
    assert calendar_description(empty, "en", attachments=["a.pdf"], changed=()) == (
        "Attached: a.pdf"
    )
    assert calendar_description(empty, "en", attachments=(), changed=()) == ""


def test_event_vars() -> None:
    assert event_vars(event(), "sv") == {
        "title": "Slutseminarium",
        "location": "Villa Elba, Karleby",
        "description": "Program:\n12.00 lunch\n",
        "start": event().start,
        "end": event().end,
        "timezone": "Europe/Helsinki",
        "zone_name": "finsk tid",
        "url": "",
    }
    assert event_vars(event(), "en")["title"] == "Loppuseminaari"
    assert event_vars(event(), "en")["zone_name"] == "Finnish time"
