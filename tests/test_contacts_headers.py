"""The header row of contacts.csv: recognised spellings, [contacts.columns], the names of the
other columns, and what ``mailer contacts check`` says about them."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailer.cli import app
from mailer.contacts.book import ColumnChoice, ContactBook, parse_contacts
from mailer.contacts.headers import ALIASES, header_key, identifier
from mailer.errors import ContactsError
from mailer.messages.plan import contact_context
from mailer.models import CONTACT_FIELDS
from tests.helpers import make_project, set_keys

DOCS = Path(__file__).resolve().parent.parent / "docs" / "contacts-and-templates.md"
runner = CliRunner()


def parse(text: str, columns: dict[str, str] | None = None) -> ContactBook:
    choice = ColumnChoice(columns or {}, "config.toml")
    return parse_contacts(
        text.encode("utf-8"), default_language="fi", label="contacts.csv", choice=choice
    )


def fields_of(book: ContactBook) -> dict[str, str]:
    """field or template name -> the header cell it came from."""
    return {column.name: column.header for column in book.mapping}


def fatal(text: str, columns: dict[str, str] | None = None) -> str:
    with pytest.raises(ContactsError) as info:
        parse(text, columns)
    return str(info.value)


# --- recognised spellings -----------------------------------------------------------------------

SPELLINGS = [(field, alias) for field, aliases in ALIASES.items() for alias in aliases]


@pytest.mark.parametrize(("field", "alias"), SPELLINGS)
def test_every_spelling_is_its_field(field: str, alias: str) -> None:
    other = "email" if field != "email" else "name"
    book = parse(f"{alias};{other}\n{'a@b.fi' if field == 'email' else 'x'};a@b.fi\n")
    assert fields_of(book)[field] == alias


def test_no_spelling_belongs_to_two_fields() -> None:
    owner: dict[str, str] = {}
    for field, alias in SPELLINGS:
        assert owner.setdefault(header_key(alias), field) == field, alias


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("EMAIL", "email"),
        ("e_mail", "email"),
        ("SÄHKÖPOSTI", "email"),
        ("sahkoposti", "email"),
        ("Sähköposti-osoite", "email"),
        ("First Name", "first_name"),
        ("firstname", "first_name"),
        ("Last name", "last_name"),
        ("tiedotusvaline", "outlet"),
        ("SPRAK", "language"),
        ("Organization 1 - Name", "outlet"),
        ("E-mail 1 - Value", "email"),
    ],
)
def test_case_spaces_and_accents_do_not_matter(header: str, field: str) -> None:
    book = parse(
        f"{header},email,name\nx,a@b.fi,y\n" if field != "email" else f"{header}\na@b.fi\n"
    )
    assert fields_of(book)[field] == header


HEADER_SPELLING = st.sampled_from(SPELLINGS).flatmap(
    lambda pair: st.tuples(
        st.just(pair[0]),
        st.lists(st.booleans(), min_size=len(pair[1]), max_size=len(pair[1])).map(
            lambda upper: "".join(
                ch.upper() if up else ch.lower() for ch, up in zip(pair[1], upper, strict=True)
            )
        ),
        st.sampled_from(["NFC", "NFD"]),
        st.sampled_from(["", " ", "  ", "\t", "\u00a0"]),
        st.sampled_from(["", " ", "  ", "\u00a0"]),
        st.sampled_from([" ", "_", "-", "  ", " - "]),
        st.booleans(),
        st.booleans(),
    )
)


@settings(max_examples=300, deadline=1000)
@given(HEADER_SPELLING)
def test_header_spellings_map_to_the_same_field(
    spelling: tuple[str, str, str, str, str, str, bool, bool],
) -> None:
    field, written, form, before, after, space, plain, bom = spelling
    if plain:  # accents dropped, as some programs write them
        written = "".join(
            ch for ch in unicodedata.normalize("NFD", written) if not unicodedata.combining(ch)
        )
    written = re.sub(r"[ _-]+", space, written)
    written = unicodedata.normalize("NFD" if form == "NFD" else "NFC", written)
    header = before + written + after
    other = ["email", "x@y.fi"] if field != "email" else ["Notes", "n"]
    text = f"{header};{other[0]}\n{'a@b.fi' if field == 'email' else 'v'};{other[1]}\n"
    data = ("\ufeff" if bom else "") + text
    book = parse_contacts(data.encode("utf-8"), default_language="fi", label="contacts.csv")
    chosen = {column.name: column for column in book.mapping}
    assert chosen[field].field
    assert chosen[field].letter == "A"
    assert header_key(chosen[field].header) == header_key(written)


# --- the other columns --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Puhelin", "puhelin"),
        ("Puhelin (työ)", "puhelin_tyo"),
        ("Job Title", "job_title"),
        ("Manager's Name", "managers_name"),
        ("Business Country/Region", "business_country_region"),
        ("  Lehti--Osasto__ ", "lehti_osasto"),
        ("Straße", "strasse"),
        ("1st", "column_1st"),
        ("???", "column_c"),
        ("Телефон", "телефон"),
    ],
)
def test_identifier(header: str, name: str) -> None:
    assert identifier(header, "C") == name
    assert name.isidentifier()


def test_a_recognised_header_twice_is_one_line(tmp_path: Path) -> None:
    assert fatal("Sähköposti,Nimi,E-mail\n") == (
        "contacts.csv:1: columns A ('Sähköposti') and C ('E-mail') are both email; remove one, "
        'or choose one in config.toml under [contacts.columns]: email = "E-mail"'
    )
    assert fatal("email,Name,Nimi\n") == (
        "contacts.csv:1: columns B ('Name') and C ('Nimi') are both name; remove one, or choose "
        'one in config.toml under [contacts.columns]: name = "Nimi"'
    )


def test_other_columns_never_take_a_field_name() -> None:
    book = parse("email,Koko nimi,Name,Items\na@b.fi,Anna Aalto,A,i\n", {"name": "Koko nimi"})
    assert fields_of(book) == {
        "email": "email",
        "name": "Koko nimi",
        "name_2": "Name",
        "items_2": "Items",
    }
    contact = book.contacts[0]
    assert (contact.name, contact.first_name) == ("Anna Aalto", "Anna")
    assert contact.fields["name_2"] == "A"


# --- [contacts.columns] -------------------------------------------------------------------------


def test_columns_chosen_by_hand_win() -> None:
    book = parse(
        "Sähköposti;Työsähköposti;Lehti / osasto;Language\nkoti@b.fi;tyo@b.fi;HS / talous;xx\n",
        {"email": "työ sähköposti", "outlet": "Lehti / osasto", "language": ""},
    )
    assert [(c.header, c.name, c.field, c.chosen) for c in book.mapping] == [
        ("Sähköposti", "sahkoposti", False, False),
        ("Työsähköposti", "email", True, True),
        ("Lehti / osasto", "outlet", True, True),
        ("Language", "language_2", False, False),
    ]
    contact = book.contacts[0]
    assert (contact.email, contact.outlet, contact.language) == ("tyo@b.fi", "HS / talous", "fi")
    assert book.problems == ()


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"email": "Työsähköposti"},
            "config.toml: [contacts.columns] email: contacts.csv has no column 'Työsähköposti' "
            "(did you mean 'Sähköposti'?)",
        ),
        (
            {"outlet": "Toimitus / lehti"},
            "config.toml: [contacts.columns] outlet: contacts.csv has no column "
            "'Toimitus / lehti' (its columns: 'Sähköposti', 'Nimi', 'Media')",
        ),
        (
            {"first_name": "Nimi", "name": "nimi"},
            "config.toml: [contacts.columns] name: column 'Nimi' is already chosen for first_name",
        ),
    ],
)
def test_columns_chosen_by_hand_must_exist(columns: dict[str, str], message: str) -> None:
    assert fatal("Sähköposti;Nimi;Media\na@b.fi;A;B\n", columns) == message


def cli(project: Path, *args: str) -> Any:
    return runner.invoke(app, ["-c", str(project / "config.toml"), *args])


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"emial": "Sähköposti"},
            "[contacts.columns] emial: unknown field (did you mean 'email'?); the fields are "
            "email, name, first_name, last_name, outlet, language, tags",
        ),
        (
            {"email": 3},
            "[contacts.columns] email: expected the column's header as text, got an integer",
        ),
        ({"email": " "}, "[contacts.columns] email: must name the column of e-mail addresses"),
        ({"name": "Ni\x07mi"}, "[contacts.columns] name: control character in 'Ni\\x07mi'"),
        (
            "Sähköposti",
            '[contacts.columns]: expected a table such as email = "Työsähköposti", got a string',
        ),
    ],
)
def test_config_mistakes_are_one_line_naming_the_key(
    tmp_path: Path, columns: object, message: str
) -> None:
    project = make_project(tmp_path / "p")
    set_keys(project, "contacts", columns=columns)
    result = cli(project, "contacts", "check")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {project / 'config.toml'}: {message}\n"


def test_a_chosen_column_missing_from_the_file_through_the_cli(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    set_keys(project, "contacts", columns={"email": "Työsähköposti"})
    (project / "contacts.csv").write_text("Sähköposti,Nimi\na@b.fi,A\n", encoding="utf-8")
    for args in (["contacts", "check"], ["invite", "send", "--yes"]):
        result = cli(project, *args)
        assert result.exit_code == 1
        assert result.stderr == (
            f"error: {project / 'config.toml'}: [contacts.columns] email: contacts.csv has no "
            "column 'Työsähköposti' (did you mean 'Sähköposti'?)\n"
        )


def test_contacts_check_marks_the_columns_chosen_by_hand(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    set_keys(project, "contacts", columns={"email": "Työ", "language": ""})
    (project / "contacts.csv").write_text(
        "Työ;Nimi;Kieli\na@b.fi;Matti Virtanen;de\n", encoding="utf-8"
    )
    result = cli(project, "contacts", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Columns of contacts.csv:",
        "  Työ -> email ([contacts.columns])",
        "  Nimi -> name",
        "  first_name, last_name: made from name",
        "  language: not in the file; every contact gets 'fi'",
        "  outlet, tags: not in the file; empty",
        "Other columns, in templates as contact.<name>:",
        "  Kieli -> contact.kieli",
        "contacts.csv: 1 valid contact, 0 errors, 0 warnings (delimiter ';', encoding utf-8)",
    ]


def test_contacts_check_lists_an_unknown_language_as_an_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "contacts.csv").write_text(
        "Sähköposti;Kieli\na@b.fi;saksa\nb@b.fi;ruotsi\n", encoding="utf-8"
    )
    result = cli(project, "contacts", "check")
    assert result.exit_code == 1
    assert "unknown language 'saksa'; use fi, sv or en, or leave the cell" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "contacts.csv: 1 valid contact, 1 error, 0 warnings (delimiter ';', encoding utf-8)"
    )
    sent = cli(project, "invite", "send", "--yes")
    assert sent.exit_code == 1
    assert sent.stderr == (
        "error: contacts.csv:2: column 'Kieli': unknown language 'saksa'; use fi, sv or en, or "
        "leave the cell empty for the default (fi) (1 error; run 'mailer contacts check')\n"
    )


# --- templates ----------------------------------------------------------------------------------


def test_every_field_is_defined_in_templates_for_a_file_of_addresses_only() -> None:
    contact = parse("email\na@b.fi\n").contacts[0]
    context = contact_context(contact)
    assert {key: context[key] for key in CONTACT_FIELDS} == {
        "email": "a@b.fi",
        "name": "",
        "first_name": "",
        "last_name": "",
        "outlet": "",
        "language": "fi",
        "tags": [],
    }


def test_templates_see_the_fields_and_the_other_columns() -> None:
    contact = parse("Sähköposti;Nimi;Puhelin\na@b.fi;Virtanen, Matti;040 1\n").contacts[0]
    context = contact_context(contact)
    assert context["first_name"] == "Matti"
    assert context["last_name"] == "Virtanen"
    assert context["puhelin"] == "040 1"
    assert "sahkoposti" not in context


# --- the docs -----------------------------------------------------------------------------------


def test_the_docs_list_every_recognised_spelling() -> None:
    text = DOCS.read_text(encoding="utf-8")
    text = text[text.index("### Which column is which") : text.index("### Names")]
    rows = {
        match[1]: match[2]
        for match in re.finditer(r"^\| `(\w+)` \| (.*) \|$", text, flags=re.MULTILINE)
    }
    for field, aliases in ALIASES.items():
        assert field in rows, field
        listed = re.findall(r"`([^`]+)`", rows[field])
        assert listed == list(aliases), field
