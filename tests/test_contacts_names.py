"""First and last names made from ``name``, names made from first and last names, and the
spellings of a language cell."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.contacts.book import parse_contacts
from mailer.contacts.names import full_name, split_name
from mailer.contacts.rows import language_code

DOCS = Path(__file__).resolve().parent.parent / "docs" / "contacts-and-templates.md"


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Matti Virtanen", "Matti", "Virtanen"),
        ("Virtanen, Matti", "Matti", "Virtanen"),
        ("Virtanen,Matti", "Matti", "Virtanen"),
        ("  Virtanen ,   Matti  Juhani ", "Matti", "Virtanen"),
        ("Anna-Liisa Mäki-Jaakkola", "Anna-Liisa", "Mäki-Jaakkola"),
        ("Mäki-Jaakkola, Anna-Liisa", "Anna-Liisa", "Mäki-Jaakkola"),
        ("Matti Juhani Virtanen", "Matti", "Virtanen"),
        ("Georg Henrik von Wright", "Georg", "von Wright"),
        ("von Wright, Georg Henrik", "Georg", "von Wright"),
        ("Anna Maria de la Cruz", "Anna", "de la Cruz"),
        ("Van Morrison", "Van", "Morrison"),
        ("van Gogh", "", "van Gogh"),
        ("Dr. Sarah Okafor", "Sarah", "Okafor"),
        ("tri Matti Virtanen", "Matti", "Virtanen"),
        ("Martin Luther King Jr.", "Martin", "King"),
        ("Okafor, Dr. Sarah", "Sarah", "Okafor"),
        ("Sarah", "Sarah", ""),
        ("Dr.", "Dr.", ""),
        ("Virtanen,", "Virtanen", ""),
        (", Matti", "Matti", ""),
        (",", "", ""),
        ("Matti Virtanen <matti@hs.example>", "Matti", "Virtanen"),
        ("matti.virtanen@hs.example", "", ""),
        ("", "", ""),
        ("   ", "", ""),
        ("Åsa\u00a0Sjöholm", "Åsa", "Sjöholm"),
    ],
)
def test_split_name(name: str, first: str, last: str) -> None:
    assert split_name(name) == (first, last)


def test_the_docs_table_of_names_is_what_happens() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### Names") : text.index("### Other columns")]
    rows = re.findall(r"^\| (.*) \| (.*) \| (.*) \|$", section, flags=re.MULTILINE)[2:]
    assert len(rows) >= 8

    def cell(text: str) -> str:
        return "" if text == "(empty)" else text.strip("`")

    for name, first, last in rows:
        assert split_name(cell(name)) == (cell(first), cell(last)), name


def test_full_name() -> None:
    assert full_name("Matti", "Virtanen") == "Matti Virtanen"
    assert full_name("", "Virtanen") == "Virtanen"
    assert full_name(" Anna ", "") == "Anna"
    assert full_name("", "") == ""


def contacts(text: str) -> list[tuple[str, str, str]]:
    book = parse_contacts(text.encode("utf-8"), default_language="fi", label="contacts.csv")
    assert book.problems == ()
    return [(c.name, c.first_name, c.last_name) for c in book.contacts]


def test_own_cells_win_and_empty_ones_are_made_from_the_name() -> None:
    assert contacts(
        "email,name,first_name,last_name\n"
        "a@x.example,Matti Virtanen,Masa,\n"
        'b@x.example,"Virtanen, Matti",,\n'
        "c@x.example,,Anna,Aalto\n"
        "d@x.example,,,Aalto\n"
        "e@x.example,Toimitus,,\n"
    ) == [
        ("Matti Virtanen", "Masa", "Virtanen"),
        ("Virtanen, Matti", "Matti", "Virtanen"),
        ("Anna Aalto", "Anna", "Aalto"),
        ("Aalto", "", "Aalto"),  # never "Hei Aalto": the last name is not made a first name
        ("Toimitus", "Toimitus", ""),
    ]


NOT_A_NAME = {"dr", "prof", "professor", "mr", "mrs", "ms", "miss", "mx", "sir", "dame", "tri"}
NOT_A_NAME |= {"herr", "fru", "jr", "sr", "ii", "iii", "iv"}
PARTICLES = {"af", "av", "da", "das", "de", "del", "della", "der", "di", "dos", "du", "la", "le"}
PARTICLES |= {"van", "von", "zu", "zum", "zur", "ten", "ter"}
WORD = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters=",@"
    ),
    min_size=1,
    max_size=8,
).filter(lambda word: word.rstrip(".").casefold() not in NOT_A_NAME and word not in PARTICLES)
SPACES = st.sampled_from([" ", "  ", "\t", "\u00a0", " \u2003 "])
COMMA = st.sampled_from([",", " ,", ", ", ",  ", ",,"])
PARTICLE = st.sampled_from(["von", "van", "de", "af", "van der", "de la"])


@st.composite
def name_shapes(draw: st.DrawFn) -> tuple[str, tuple[str, str] | None]:
    """A name, and the first and last name it must give (None: any, within the rules)."""
    shape = draw(st.sampled_from(["comma", "hyphens", "particle", "one", "empty", "free"]))
    pad = draw(SPACES)
    if shape == "comma":  # "Virtanen, Matti Juhani"
        last, first, middle = draw(WORD), draw(WORD), draw(st.lists(WORD, max_size=2))
        name = f"{pad}{last}{draw(COMMA)}{pad.join([first, *middle])}{pad}"
        return name, (first, last)
    if shape == "hyphens":  # "Anna-Liisa Mäki-Jaakkola"
        first = f"{draw(WORD)}-{draw(WORD)}"
        last = f"{draw(WORD)}-{draw(WORD)}"
        return f"{first}{pad}{last}", (first, last)
    if shape == "particle":  # "Georg von Wright"
        first, particle, last = draw(WORD), draw(PARTICLE), draw(WORD)
        return f"{first}{pad}{particle}{pad}{last}", (first, f"{particle} {last}")
    if shape == "one":
        word = draw(WORD)
        return f"{pad}{word}{pad}", (word, "")
    if shape == "empty":
        return draw(st.sampled_from(["", " ", "\t", ",", " , ", "\u00a0"])), ("", "")
    return draw(st.text(max_size=40)), None


@settings(max_examples=500, deadline=1000)
@given(name_shapes())
def test_names_of_any_shape_never_raise_and_never_hold_a_comma(
    shape: tuple[str, tuple[str, str] | None],
) -> None:
    name, expected = shape
    first, last = split_name(name)
    assert "," not in first
    assert "," not in last
    assert first == "" or first.split() == [first]  # one word
    assert last == " ".join(last.split())
    for part in (first, *last.split()):
        assert part in name
    if expected is not None:
        assert (first, last) == expected


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("fi", "fi"),
        ("FI", "fi"),
        (" sv ", "sv"),
        ("sv-FI", "sv"),
        ("sv_SE", "sv"),
        ("en-GB", "en"),
        ("EN-us", "en"),
        ("fi-FI", "fi"),
        ("fin", "fi"),
        ("swe", "sv"),
        ("eng", "en"),
        ("Suomi", "fi"),
        ("suomeksi", "fi"),
        ("Finnish", "fi"),
        ("finska", "fi"),
        ("Svenska", "sv"),
        ("SVENSKA", "sv"),
        ("ruotsi", "sv"),
        ("ruotsiksi", "sv"),
        ("Swedish", "sv"),
        ("På svenska", "sv"),
        ("Svenska (Finland)", "sv"),
        ("English", "en"),
        ("englanti", "en"),
        ("engelska", "en"),
        ("English (UK)", "en"),
        ("de", None),
        ("saksa", None),
        ("fi/sv", None),
        ("suomi, ruotsi", None),
        ("Finnish and Swedish", None),
        ("x", None),
    ],
)
def test_language_spellings(cell: str, code: str | None) -> None:
    assert language_code(cell) == code


@settings(max_examples=300, deadline=1000)
@given(st.text(max_size=30))
def test_any_language_cell_is_a_known_code_or_none(cell: str) -> None:
    assert language_code(cell) in {"fi", "sv", "en", None}
