"""The text and the HTML part of a message tell the same facts of config.toml
(messages/agreement.py)."""

from __future__ import annotations

import html
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.config import load_config
from mailer.messages.agreement import (
    Fact,
    Parts,
    config_facts,
    disagreements,
    message_parts,
    visible_text,
)
from tests.helpers import config_path, edit_config, make_project

FACTS = (
    Fact("the event's title", "Akkupäivä", ("akkupäivä",)),
    Fact("the event's location", "Villa Elba", ("villa elba",)),
    Fact("the start time", "12.00", ("12.00", "12:00")),
    Fact("vars.contact_phone", "+358 40 123-4567", ("+358 40 123-4567",)),
)
TEXT = "Akkupäivä alkaa klo 12.00, Villa Elba. Puh. +358 40 123-4567\n"


def test_the_facts_of_config_toml(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")

    def change(data: dict[str, object]) -> None:
        data["event"] = {
            **data["event"],  # type: ignore[dict-item]
            "title": "Akkupäivä",
            "location": "Villa Elba",
            "start": "2027-06-25 12:00",
            "end": "2027-06-25 16:00",
            "url": "https://kokkola.example/akkupaiva",
        }
        data["vars"] = {
            "lunch_time": "12:00",
            "deadline": "2027-06-18",
            "speaker": "Jarkko Vesa",
            "n": "7",
            "seats": 40,
        }

    edit_config(project, change)
    facts = config_facts(load_config(config_path(project)), "fi")
    assert [(f.name, f.value, f.forms) for f in facts] == [
        ("the event's title", "Akkupäivä", ("akkupäivä",)),
        ("the event's location", "Villa Elba", ("villa elba",)),
        (
            "the event's web address",
            "https://kokkola.example/akkupaiva",
            ("https://kokkola.example/akkupaiva",),
        ),
        (
            "the event's date",
            "25. kesäkuuta 2027",
            ("25. kesäkuuta 2027", "25.6.2027", "perjantai 25. kesäkuuta 2027"),
        ),
        ("the start time and vars.lunch_time", "12.00", ("12.00", "12:00")),
        ("the end time", "16.00", ("16.00", "16:00")),
        (
            "vars.deadline",
            "2027-06-18",
            ("18. kesäkuuta 2027", "18.6.2027", "perjantai 18. kesäkuuta 2027", "2027-06-18"),
        ),
        ("vars.speaker", "Jarkko Vesa", ("jarkko vesa",)),
    ]


def test_parts_that_agree() -> None:
    source = (
        "<html><head><title>Ignored</title><style>p { color: red }</style></head><body>"
        "<h1>Akku&shy;päivä</h1><p>Klo&nbsp;12:00, <b>VILLA</b> Elba.</p>"
        "<p>Puh.&nbsp;+358&#160;40&nbsp;123&#8209;4567</p></body></html>"
    )
    assert disagreements(Parts(TEXT, source), FACTS) == ()


def test_parts_that_disagree() -> None:
    source = "<head><title>Akkupäivä</title></head><p>Klo 12.00 in Kaupungintalo.</p>"
    assert disagreements(Parts(TEXT, source), FACTS) == (
        "the text part names the event's title (Akkupäivä), the HTML part does not",
        "the text part names the event's location (Villa Elba), the HTML part does not",
        "the text part names vars.contact_phone (+358 40 123-4567), the HTML part does not",
    )
    assert disagreements(Parts("Tervetuloa!", "<p>Villa Elba</p>"), FACTS) == (
        "the HTML part names the event's location (Villa Elba), the text part does not",
    )


def test_without_an_html_part_nothing_disagrees() -> None:
    assert disagreements(Parts("Tervetuloa!", None), FACTS) == ()


def test_message_parts_of_a_multipart_message() -> None:
    data = (
        b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHei\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hei</p>\r\n--b--\r\n"
    )
    parts = message_parts(data)
    assert (parts.text, parts.html) == ("Hei", "<p>Hei</p>")
    assert message_parts(b"Content-Type: text/plain\r\n\r\nHei\r\n") == Parts("Hei\r\n", None)


def test_visible_text() -> None:
    assert visible_text("<head><title>T</title></head><!-- x --><p>a&amp;b</p>").split() == ["a&b"]


ALPHABET = st.sampled_from(list("abcäöß XYZ12.:-+<>&\"'\n\t\u00a0\u202f\u2011\u00ad"))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(ALPHABET, max_size=80),
    cuts=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80)), max_size=5),
)
def test_an_html_made_from_the_text_agrees_with_it(text: str, cuts: list[tuple[int, int]]) -> None:
    """Whatever facts the text names, its HTML version (escaped, in paragraphs, no-break
    spaces as entities) names them too, and the other way round."""
    facts = []
    for start, end in cuts:
        value = text[min(start, end) : max(start, end)]
        if seen(value):
            facts.append(Fact("a fact", value, (seen(value),)))
    body = "".join(f"<p>{html.escape(line)}</p>\n" for line in text.split("\n"))
    source = f"<html><head><title>x</title></head><body>{body.replace(chr(0xA0), '&nbsp;')}"
    assert disagreements(Parts(text, source), facts) == ()


def seen(text: str) -> str:
    """The documented comparison: no-break spaces are spaces, a non-breaking hyphen a hyphen,
    soft hyphens nothing, case ignored."""
    text = text.replace("\u2011", "-").replace("\u00ad", "")
    return " ".join(text.split()).casefold()
