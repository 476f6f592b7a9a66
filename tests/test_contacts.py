"""contacts.csv: encodings and delimiters as Excel writes them, line numbers, problems."""

from __future__ import annotations

import csv
import io
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.addresses import clean_display_name, has_control
from mailer.contacts.book import (
    ContactBook,
    ContactCounts,
    count_contacts,
    load_contacts,
    parse_contacts,
    require_valid,
    select_contacts,
)
from mailer.errors import ContactsError
from mailer.models import Contact, Severity

DATA = Path(__file__).parent / "data" / "contacts"


def write(tmp_path: Path, data: bytes | str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def load(tmp_path: Path, data: bytes | str, *, default_language: str = "fi") -> ContactBook:
    """Write *data* as contacts.csv in tmp_path and load it under the label 'contacts.csv'."""
    return load_contacts(
        write(tmp_path, data), default_language=default_language, label="contacts.csv"
    )


def messages(book: ContactBook) -> list[str]:
    return [str(p) for p in book.problems]


def fatal(tmp_path: Path, data: bytes | str) -> str:
    with pytest.raises(ContactsError) as info:
        load(tmp_path, data)
    return str(info.value)


def physical_lines(text: str) -> int:
    return len(io.StringIO(text, newline="").readlines())


# --- files as Excel writes them -----------------------------------------------------------------


def test_excel_csv_utf8_with_bom_semicolons_and_crlf() -> None:
    book = load_contacts(DATA / "excel_utf8_semicolon.csv", default_language="fi")

    assert book.encoding == "utf-8-sig"
    assert book.delimiter == ";"
    assert book.columns == ("email", "name", "outlet", "language", "tags", "first_name")
    assert book.problems == ()
    assert [(c.line, c.email, c.name, c.outlet, c.language, c.tags) for c in book.contacts] == [
        (
            2,
            "paivi.maki-jaakkola@keskipohjanmaa.fi",
            "Päivi Mäki-Jaakkola",
            "Keskipohjanmaa",
            "fi",
            ("local", "trusted"),
        ),
        (3, "asa.sjoholm@ot.fi", "Åsa Sjöholm", "Österbottens Tidning", "sv", ("local",)),
        (4, "toimitus@xn--yhti-8qa.fi", "Yhtiön toimitus", "Yhtiö Oy", "fi", ("national", "trade")),
    ]
    assert book.contacts[1].fields["first_name"] == "Åsa"
    assert book.contacts[2].fields["first_name"] == ""


def test_excel_plain_csv_is_windows_1252_with_a_warning() -> None:
    path = DATA / "excel_cp1252.csv"
    book = load_contacts(path, default_language="sv")

    assert book.encoding == "cp1252"
    assert book.delimiter == ";"
    assert [(c.name, c.outlet, c.language) for c in book.contacts] == [
        ("Jyrki Hyvönen", "Yle – Keski-Pohjanmaa", "fi"),
        ("Märta Ähtäri", "Keskisuomalainen", "fi"),
    ]
    assert messages(book) == [
        f"{path}: not UTF-8; read as Windows-1252 (Excel). Save as 'CSV UTF-8' to avoid this"
    ]
    assert book.warnings[0].line == 0
    assert book.errors == ()


def test_quoted_cell_with_a_line_break_spans_lines_and_later_lines_count_right() -> None:
    book = load_contacts(DATA / "multiline.csv", default_language="fi", label="contacts.csv")

    assert messages(book) == [
        "contacts.csv:2: column 'notes': line break inside the cell (cells must be a single line)",
        "contacts.csv:5: invalid e-mail address 'not-an-address': "
        "An email address must have an @-sign.",
        "contacts.csv:6: duplicate of line 2 (anna@lehti.fi)",
    ]
    assert [(c.line, c.email) for c in book.contacts] == [(4, "bertta@lehti.fi")]


def test_crlf_lf_and_old_mac_cr_line_endings_give_the_same_lines(tmp_path: Path) -> None:
    rows = ["email,name", "a@lehti.fi,A", "", "bad,B", "c@lehti.fi,C"]
    results = []
    for ending in ("\r\n", "\n", "\r"):
        book = load(tmp_path, ending.join(rows) + ending)
        results.append(
            ([c.line for c in book.contacts], [(p.line, p.message) for p in book.problems])
        )
    assert results[0] == results[1] == results[2]
    assert results[0][0] == [2, 5]
    assert [line for line, _ in results[0][1]] == [3, 4]


def test_tab_delimited(tmp_path: Path) -> None:
    book = load(tmp_path, "email\tname\touter  inner\nmatti@hs.fi\tMatti, M.\tx;y\n")
    assert book.delimiter == "\t"
    assert book.columns == ("email", "name", "outer_inner")
    assert book.contacts[0].name == "Matti, M."


def test_delimiter_tie_or_none_means_comma(tmp_path: Path) -> None:
    assert load(tmp_path, "email\na@b.fi\n").delimiter == ","
    assert load(tmp_path, 'email,"x;y"\na@b.fi,1\n').delimiter == ","


# --- addresses ----------------------------------------------------------------------------------


def test_idn_domain_becomes_punycode(tmp_path: Path) -> None:
    book = load(tmp_path, "email,name\ntoimitus@yhtiö.fi,Toimitus\n")
    contact = book.contacts[0]
    assert contact.email == "toimitus@xn--yhti-8qa.fi"
    assert contact.fields["email"] == "toimitus@xn--yhti-8qa.fi"


def test_invalid_and_empty_addresses_are_errors(tmp_path: Path) -> None:
    book = load(tmp_path, "email,name\nmatti.hs.fi,Matti\n,Nobody\npää@hs.fi,Pää\nok@hs.fi,Ok\n")
    assert messages(book) == [
        "contacts.csv:2: invalid e-mail address 'matti.hs.fi': An email address must have an "
        "@-sign.",
        "contacts.csv:3: empty e-mail address",
        "contacts.csv:4: e-mail address 'pää@hs.fi' has non-ASCII letters before the @, which "
        "mail servers without SMTPUTF8 cannot deliver",
    ]
    assert [c.email for c in book.contacts] == ["ok@hs.fi"]


def test_duplicates_ignore_case_and_name_the_first_line(tmp_path: Path) -> None:
    book = load(
        tmp_path,
        "email\nmatti@hs.fi\nother@hs.fi\nMatti@HS.fi\ntoimitus@yhtiö.fi\nTOIMITUS@YHTIÖ.FI\n",
    )
    assert [str(p) for p in book.errors] == [
        "contacts.csv:4: duplicate of line 2 (Matti@hs.fi)",
        "contacts.csv:6: duplicate of line 5 (TOIMITUS@xn--yhti-8qa.fi)",
    ]
    assert [c.line for c in book.contacts] == [2, 3, 5]


def test_an_address_on_a_row_with_another_error_still_counts_for_duplicates(
    tmp_path: Path,
) -> None:
    book = load(tmp_path, 'email,name\nmatti@hs.fi,"Ma\ttti"\nmatti@hs.fi,Matti\n')
    assert [p.line for p in book.errors] == [2, 3]
    assert book.errors[1].message == "duplicate of line 2 (matti@hs.fi)"
    assert book.contacts == ()


# --- the header ---------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["email", "Email", "E-mail", " EMAIL ", "e mail"])
def test_email_column_spellings(tmp_path: Path, header: str) -> None:
    book = load(tmp_path, f"{header},Name\na@b.fi,A\n")
    assert book.columns == ("email", "name")
    assert book.contacts[0].fields == {"email": "a@b.fi", "name": "A"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Työsähköposti;Nimi\nmatti@hs.fi;Matti\n",
            "contacts.csv:1: no 'email' column; if column 'Työsähköposti' holds the addresses, "
            'set email = "Työsähköposti" under [contacts.columns] in config.toml '
            "(or rename the column to 'email')",
        ),
        (
            "Name,Work Email\nMatti,matti@hs.fi\n",
            "contacts.csv:1: no 'email' column; if column 'Work Email' holds the addresses, "
            'set email = "Work Email" under [contacts.columns] in config.toml '
            "(or rename the column to 'email')",
        ),
        (
            "nimi,postinumero,osoite\n\nMatti,67100,matti@hs.fi\n",
            "contacts.csv:1: no 'email' column; if column 'osoite' holds the addresses, "
            'set email = "osoite" under [contacts.columns] in config.toml '
            "(or rename the column to 'email')",
        ),
        (
            "nimi,media\nMatti,HS\n",
            "contacts.csv:1: no 'email' column (the header row has 'nimi', 'media'); "
            "the addresses must be in a column named 'email' or chosen under "
            "[contacts.columns] in config.toml",
        ),
    ],
)
def test_missing_email_column_suggests_the_likely_one(
    tmp_path: Path, text: str, message: str
) -> None:
    assert fatal(tmp_path, text) == message


def test_header_problems_that_stop_everything(tmp_path: Path) -> None:
    assert fatal(tmp_path, "email,Name,name\n") == (
        "contacts.csv:1: duplicate column 'name': B ('Name') and C ('name')"
    )
    assert fatal(tmp_path, "Email,E-mail\n") == (
        "contacts.csv:1: duplicate column 'email': A ('Email') and B ('E-mail')"
    )
    assert fatal(tmp_path, "matti@hs.fi;Matti\n") == (
        "contacts.csv:1: no header row (line 1 holds 'matti@hs.fi'); add a first line that "
        "names the columns: email;name;outlet;language;tags"
    )
    assert fatal(tmp_path, "\nemail\na@b.fi\n") == (
        "contacts.csv:1: no header row (line 1 is empty); line 1 must name the columns: "
        "email,name,outlet,language,tags"
    )


def test_other_columns_get_names_templates_can_use(tmp_path: Path) -> None:
    book = load(
        tmp_path,
        "Email, First  Name ,Puhelin (työ),1st,Lehti-Osasto,Manager's Name,???,Items\n"
        "a@b.fi,A,1,2,X,M,Q,I\n",
    )
    assert book.columns == (
        "email",
        "first_name",
        "puhelin_tyo",
        "column_1st",
        "lehti_osasto",
        "managers_name",
        "column_g",
        "items_2",
    )
    assert book.problems == ()
    assert dict(book.contacts[0].fields) == {
        "email": "a@b.fi",
        "first_name": "A",
        "puhelin_tyo": "1",
        "column_1st": "2",
        "lehti_osasto": "X",
        "managers_name": "M",
        "column_g": "Q",
        "items_2": "I",
    }


def test_header_cells_left_empty_are_ignored(tmp_path: Path) -> None:
    book = load(tmp_path, "email;;name;\na@b.fi;;A;\nb@b.fi;old note;B;\n")
    assert book.columns == ("email", "name")
    assert messages(book) == [
        "contacts.csv:3: column B has no name in the header row; its value 'old note' is ignored"
    ]
    assert [c.name for c in book.contacts] == ["A", "B"]


# --- rows ---------------------------------------------------------------------------------------


def test_cell_counts(tmp_path: Path) -> None:
    book = load(tmp_path, "email,name,outlet\na@b.fi,Virtanen, Matti,HS,x\nb@b.fi\nc@b.fi,C,,,,\n")
    assert messages(book) == [
        "contacts.csv:2: 5 cells but the header row has 3 columns "
        "(a comma inside a cell that is not quoted?)"
    ]
    assert [(c.email, c.name, c.outlet) for c in book.contacts] == [
        ("b@b.fi", "", ""),
        ("c@b.fi", "C", ""),
    ]


def test_empty_rows_are_skipped_with_a_warning(tmp_path: Path) -> None:
    book = load(tmp_path, "email;name\r\na@b.fi;A\r\n\r\n;\r\n  ; \r\nb@b.fi;B\r\n")
    assert messages(book) == [
        "contacts.csv:3: empty row skipped",
        "contacts.csv:4: empty row skipped",
        "contacts.csv:5: empty row skipped",
    ]
    assert book.errors == ()
    assert [c.line for c in book.contacts] == [2, 6]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ('"Matti\tVirtanen"', "column 'name': control character U+0009 in the cell"),
        ("Matti\x07", "column 'name': control character U+0007 in the cell"),
        ("Matti\u2028Virtanen", "column 'name': control character U+2028 in the cell"),
        (
            '"Matti\r\nBcc: x@evil.example"',
            "column 'name': line break inside the cell (cells must be a single line)",
        ),
    ],
)
def test_control_characters_are_errors(tmp_path: Path, cell: str, message: str) -> None:
    book = load(tmp_path, f"email,name\na@b.fi,{cell}\nb@b.fi,B\n")
    assert [(p.line, p.severity, p.message) for p in book.problems] == [
        (2, Severity.ERROR, message)
    ]
    assert [c.email for c in book.contacts] == ["b@b.fi"]


def test_control_characters_in_any_column_name_the_column(tmp_path: Path) -> None:
    book = load(tmp_path, 'email,notes\n"a@b.fi\x0b",ok\nb@b.fi,"x\ny"\n')
    assert [str(p) for p in book.errors] == [
        "contacts.csv:2: column 'email': control character U+000B in the cell",
        "contacts.csv:3: column 'notes': line break inside the cell (cells must be a single line)",
    ]


def test_spreadsheet_formulas_are_warnings(tmp_path: Path) -> None:
    text = (
        "email,name,phone,twitter,notes\n"
        'a@b.fi,"=HYPERLINK(""http://x"")",+358 40 123 4567,@hs_fi,-\n'
        "b@b.fi,B,\"+cmd|' /C calc'!A0\",@SUM(1+1),- tärkeä\n"
    )
    book = load(tmp_path, text)
    assert messages(book) == [
        "contacts.csv:2: column 'name': '=HYPERLINK(\"http://x\")' looks like a spreadsheet "
        "formula",
        "contacts.csv:3: column 'phone': \"+cmd|' /C calc'!A0\" looks like a spreadsheet formula",
        "contacts.csv:3: column 'twitter': '@SUM(1+1)' looks like a spreadsheet formula",
    ]
    assert len(book.contacts) == 2
    assert book.contacts[0].fields["phone"] == "+358 40 123 4567"


@pytest.mark.parametrize(
    ("cell", "language"),
    [
        ("fi", "fi"),
        ("SV", "sv"),
        ("en", "en"),
        ("", "sv"),
        ("Suomi", "fi"),
        ("finnish", "fi"),
        ("svenska", "sv"),
        ("ruotsi", "sv"),
        ("Swedish", "sv"),
        ("english", "en"),
        ("Englanti", "en"),
        ("sv-FI", "sv"),
        ("fi_FI", "fi"),
    ],
)
def test_languages(tmp_path: Path, cell: str, language: str) -> None:
    book = load(tmp_path, f"email,language\na@b.fi,{cell}\n", default_language="sv")
    assert book.problems == ()
    assert book.contacts[0].language == language
    assert book.contacts[0].fields["language"] == language


def test_unknown_language_is_an_error(tmp_path: Path) -> None:
    book = load(tmp_path, "email,Kieli\na@b.fi,de\nb@b.fi,fi/sv\nc@b.fi,sv\n")
    assert messages(book) == [
        "contacts.csv:2: column 'Kieli': unknown language 'de'; use fi, sv or en, "
        "or leave the cell empty for the default (fi)",
        "contacts.csv:3: column 'Kieli': unknown language 'fi/sv'; use fi, sv or en, "
        "or leave the cell empty for the default (fi)",
    ]
    assert [c.email for c in book.contacts] == ["c@b.fi"]
    assert count_contacts(write(tmp_path, "email,Kieli\na@b.fi,de\n"), default_language="fi") == (
        ContactCounts(valid=0, errors=1, keys=frozenset())
    )


def test_missing_optional_columns_use_defaults(tmp_path: Path) -> None:
    book = load(tmp_path, "email\na@b.fi\n", default_language="en")
    assert book.contacts == (
        Contact(
            email="a@b.fi",
            name="",
            outlet="",
            language="en",
            tags=(),
            line=2,
            fields={"email": "a@b.fi"},
        ),
    )


def test_tags_split_on_pipe_comma_and_semicolon(tmp_path: Path) -> None:
    book = load(tmp_path, 'email,tags\na@b.fi,"Local | Trusted;TV,tv, ,Press  Room"\n')
    assert book.contacts[0].tags == ("local", "trusted", "tv", "press room")
    assert book.contacts[0].fields["tags"] == "Local | Trusted;TV,tv, ,Press  Room"


def test_cells_are_trimmed_and_nfc_normalised(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Päivi Mäki")
    book = load(tmp_path, f"email,name,outlet\n  a@b.fi , {decomposed}  ,\u00a0Yle Österbotten \n")
    contact = book.contacts[0]
    assert (contact.email, contact.name, contact.outlet) == (
        "a@b.fi",
        "Päivi Mäki",
        "Yle Österbotten",
    )
    assert contact.fields["outlet"] == "Yle Österbotten"


def test_fields_hold_every_column_and_cannot_be_changed(tmp_path: Path) -> None:
    book = load(
        tmp_path, "Email,Name,Language,Tags,First Name\nA@B.FI,  Anna   Aalto ,Svenska,x|y,Anna\n"
    )
    fields = book.contacts[0].fields
    assert dict(fields) == {
        "email": "A@b.fi",
        "name": "Anna Aalto",
        "language": "sv",
        "tags": "x|y",
        "first_name": "Anna",
    }
    with pytest.raises(TypeError):
        fields["email"] = "x@y.fi"  # type: ignore[index]


def test_unclosed_quote_at_the_end(tmp_path: Path) -> None:
    book = load(tmp_path, 'email,name\na@b.fi,A\nb@b.fi,"Bertta\nc@b.fi,C\n')
    assert messages(book) == [
        'contacts.csv:3: a quoted cell has no closing quote (") and runs to the end of the file'
    ]
    assert [c.email for c in book.contacts] == ["a@b.fi"]


def test_unclosed_quote_swallowing_a_huge_file_is_one_line(tmp_path: Path) -> None:
    rows = "".join(f"user{i}@b.fi,User {i}\n" for i in range(10_000))
    text = 'email,name\na@b.fi,"A\n' + rows
    assert fatal(tmp_path, text) == (
        'contacts.csv:2: a cell is longer than 131072 characters (a quote (") without its '
        "closing quote?)"
    )


def test_header_only_is_a_warning(tmp_path: Path) -> None:
    book = load(tmp_path, "\ufeffemail,name\r\n")
    assert book.contacts == ()
    assert messages(book) == ["contacts.csv: no contacts below the header row"]


def test_problems_are_in_line_order(tmp_path: Path) -> None:
    book = load(
        tmp_path, "email,language,x y\na@b.fi,de,\nbad,fi,=1\n\nc@b.fi,,\n".encode("cp1252")
    )
    assert [p.line for p in book.problems] == sorted(p.line for p in book.problems)
    assert [p.severity for p in book.errors] == [Severity.ERROR, Severity.ERROR]
    assert {p.severity for p in book.warnings} == {Severity.WARNING}
    assert len(book.errors) + len(book.warnings) == len(book.problems)


# --- files that cannot be read at all -----------------------------------------------------------


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ContactsError, match=r"^contacts\.csv: no such file$"):
        load_contacts(tmp_path / "nope.csv", default_language="fi", label="contacts.csv")
    with pytest.raises(ContactsError) as info:
        load_contacts(tmp_path, default_language="fi")
    assert str(info.value) == f"{tmp_path}: is a directory, not a CSV file"


def test_label_defaults_to_the_path_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, "email\nbad\n", "media.csv")
    book = load_contacts(path, default_language="fi")
    assert book.path == path
    assert str(book.errors[0]).startswith(f"{path}:2: invalid e-mail address 'bad'")
    parsed = parse_contacts(b"email\nbad\n", default_language="fi", label="lista.csv")
    assert parsed.path == Path("lista.csv")
    assert str(parsed.errors[0]).startswith("lista.csv:2: ")


def test_excel_workbooks_are_refused(tmp_path: Path) -> None:
    xlsx = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(xlsx, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(ContactsError) as info:
        load_contacts(xlsx, default_language="fi", label="contacts.csv")
    assert str(info.value) == (
        "contacts.csv: an Excel workbook, not a CSV file; in Excel use File > Save As > "
        "'CSV UTF-8 (Comma delimited)'"
    )


def test_utf16_unicode_text_is_refused(tmp_path: Path) -> None:
    # Excel's "Unicode Text (*.txt)": UTF-16LE with a BOM, tab-separated.
    data = "email\tname\r\na@b.fi\tA\r\n".encode("utf-16")
    assert fatal(tmp_path, data) == (
        "contacts.csv: saved as UTF-16 ('Unicode Text'), not as CSV; in Excel use File > "
        "Save As > 'CSV UTF-8 (Comma delimited)'"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "contacts.csv: empty file"),
        (b"\xef\xbb\xbf", "contacts.csv: empty file"),
        (b" \r\n\r\n", "contacts.csv: empty file"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "contacts.csv: not a text file (it contains NUL bytes)",
        ),
        (
            bytes(range(1, 32)) * 4,
            "contacts.csv: not a text file (112 control characters); is it really a CSV file?",
        ),
        (
            b"email\na\x81@b.fi\n",
            "contacts.csv:2: neither UTF-8 nor Windows-1252 text "
            "(byte 0x81); is it really a CSV file?",
        ),
        (
            "email,name\na@b.fi,Mäki\n".encode() + "b@b.fi,Mäki\n".encode("cp1252"),
            "contacts.csv:3: mixes UTF-8 with another encoding (byte 0xe4 is not UTF-8); in Excel "
            "use File > Save As > 'CSV UTF-8 (Comma delimited)'",
        ),
        (
            b"\xef\xbb\xbfemail\nb@b.fi,M\xe4ki\n",
            "contacts.csv:2: mixes UTF-8 with another "
            "encoding (byte 0xe4 is not UTF-8); in Excel use File > Save As > "
            "'CSV UTF-8 (Comma delimited)'",
        ),
    ],
)
def test_unreadable_files(tmp_path: Path, data: bytes, message: str) -> None:
    assert fatal(tmp_path, data) == message


def test_default_language_must_be_known() -> None:
    with pytest.raises(ValueError, match="default_language"):
        parse_contacts(b"email\n", default_language="de", label="contacts.csv")


# --- selecting and requiring --------------------------------------------------------------------


@pytest.fixture
def contacts(tmp_path: Path) -> tuple[Contact, ...]:
    text = (
        "email,name,tags\n"
        "anna@hs.fi,Anna,Local|TV\n"
        "bertta@yhtiö.fi,Bertta,national\n"
        "cecilia@ot.fi,Cecilia,local;national\n"
    )
    return require_valid(load(tmp_path, text))


def test_select_by_tag_ignores_case(contacts: tuple[Contact, ...]) -> None:
    assert [c.name for c in select_contacts(contacts, tag="LOCAL")] == ["Anna", "Cecilia"]
    assert [c.name for c in select_contacts(contacts, tag=" tv ")] == ["Anna"]
    assert select_contacts(contacts, tag="radio") == ()
    assert select_contacts(contacts) == contacts


def test_select_one_address_normalised(contacts: tuple[Contact, ...]) -> None:
    assert [c.name for c in select_contacts(contacts, only="Bertta@YHTIÖ.fi")] == ["Bertta"]
    assert [c.name for c in select_contacts(contacts, only="ANNA@hs.fi ")] == ["Anna"]
    assert select_contacts(contacts, only="anna@hs.fi", tag="national") == ()
    assert select_contacts(contacts, only="nobody@hs.fi") == ()


def test_select_refuses_bad_input(contacts: tuple[Contact, ...]) -> None:
    with pytest.raises(ContactsError, match=r"^the tag to select is empty$"):
        select_contacts(contacts, tag="  ")
    with pytest.raises(ContactsError) as info:
        select_contacts(contacts, only="anna.hs.fi")
    assert str(info.value) == (
        "invalid e-mail address 'anna.hs.fi': An email address must have an @-sign."
    )


def test_require_valid_names_the_first_error_and_the_count(tmp_path: Path) -> None:
    book = load(tmp_path, "email,name\na@b.fi,=1\nbad\nc@b.fi\nc@b.fi\n")
    with pytest.raises(ContactsError) as info:
        require_valid(book)
    assert str(info.value) == (
        "contacts.csv:3: invalid e-mail address 'bad': An email address must have an @-sign. "
        "(2 errors; run 'mailer contacts check')"
    )
    one = load(tmp_path, "email\nbad\n")
    with pytest.raises(ContactsError, match=r"\(1 error; run 'mailer contacts check'\)$"):
        require_valid(one)
    warned = load(tmp_path, "email,name\na@b.fi,=1\n")
    assert require_valid(warned) == warned.contacts


# --- size ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_100k_rows(tmp_path: Path) -> None:
    rows = "".join(
        f"toimittaja{i}@lehti{i % 300}.fi;Toimittaja Mäkinen {i};Lehti {i % 300};fi;local\r\n"
        for i in range(100_000)
    )
    path = write(tmp_path, "\ufeffemail;name;outlet;language;tags\r\n" + rows)
    started = time.perf_counter()
    book = load_contacts(path, default_language="fi")
    elapsed = time.perf_counter() - started
    assert len(book.contacts) == 100_000
    assert book.problems == ()
    assert book.contacts[-1].line == 100_001
    assert elapsed < 60  # about 6 s on a slow 2-core machine; guards against quadratic work


# --- properties ---------------------------------------------------------------------------------


def line_bound(data: bytes) -> int:
    """At least as many as the physical lines of *data*, in any encoding we accept."""
    return data.count(b"\n") + data.count(b"\r") + 1


def check_book(book: ContactBook, lines: int) -> None:
    for problem in book.problems:
        assert 0 <= problem.line <= lines, problem
    for contact in book.contacts:
        assert 2 <= contact.line <= lines
    assert [p.line for p in book.problems] == sorted(p.line for p in book.problems)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        book = parse_contacts(data, default_language="fi", label="contacts.csv")
    except ContactsError as exc:
        assert str(exc).startswith("contacts.csv")
        assert "\n" not in str(exc)
        return
    check_book(book, line_bound(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200).map(lambda b: b"email,name,language,tags\r\n" + b))
def test_arbitrary_bytes_after_a_good_header_never_crash(data: bytes) -> None:
    try:
        book = parse_contacts(data, default_language="fi", label="contacts.csv")
    except ContactsError as exc:
        assert str(exc).startswith("contacts.csv")
        return
    check_book(book, line_bound(data))


CELL = st.text(
    alphabet=st.sampled_from(list('ab@.,;\t|"=+- \r\n\x07äÖ\u2028x')) | st.characters(),
    max_size=12,
)
HEADERS = st.lists(
    st.sampled_from(["email", "E-mail", "name", "outlet", "language", "tags", "notes", "", "x y"]),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=HEADERS,
    rows=st.lists(st.lists(CELL, max_size=7), max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
    terminator=st.sampled_from(["\r\n", "\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_generated_csv_never_crashes(
    header: list[str], rows: list[list[str]], delimiter: str, terminator: str, encoding: str
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    data = text.encode(encoding, errors="replace")
    try:
        book = parse_contacts(data, default_language="sv", label="contacts.csv")
    except ContactsError as exc:
        assert str(exc).startswith("contacts.csv")
        return
    check_book(book, line_bound(data))


NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"),
    max_size=20,
)
NOTES = st.text(alphabet=st.sampled_from(list('ab ,;"\r\nä')), max_size=10)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(NAME, NOTES), max_size=10),
    delimiter=st.sampled_from([",", ";", "\t"]),
    bom=st.booleans(),
)
def test_generated_rows_load_on_the_lines_they_start(
    rows: list[tuple[str, str]], delimiter: str, bom: bool
) -> None:
    """Every row is a contact or an error on the physical line where the row starts."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["email", "name", "notes"])
    expected = []
    line = 2
    for i, (name, notes) in enumerate(rows):
        before = out.tell()
        writer.writerow([f"user{i}@lehti.fi", name, notes])
        expected.append((line, f"user{i}@lehti.fi", name, notes))
        line += physical_lines(out.getvalue()[before:])
    data = out.getvalue().encode("utf-8-sig" if bom else "utf-8")

    book = parse_contacts(data, default_language="fi", label="contacts.csv")

    got = {c.line: c for c in book.contacts}
    errors = {p.line: p.message for p in book.errors}
    for start, email, name, notes in expected:
        if has_control(notes):
            assert errors.pop(start).startswith("column 'notes': line break")
        else:
            contact = got.pop(start)
            assert contact.email == email
            assert contact.name == clean_display_name(name.strip())
            assert contact.fields["notes"] == unicodedata.normalize("NFC", notes.strip())
    assert got == {}
    assert errors == {}
    for warning in book.warnings:
        assert warning.message.endswith("looks like a spreadsheet formula") or (
            not rows and warning.message == "no contacts below the header row"
        )


def test_empty_cells_after_the_last_column_are_ignored(tmp_path: Path) -> None:
    book = load(tmp_path, "email,name\na@x.example,A,\nb@x.example,B,,\n")
    assert [c.email for c in book.contacts] == ["a@x.example", "b@x.example"]
    assert book.problems == ()


def test_fields_are_a_read_only_mapping_shared_by_column(tmp_path: Path) -> None:
    book = load(tmp_path, "email,name,desk\na@x.example,A,Talous\nb@x.example,B,Talous\n")
    one, two = book.contacts
    assert one.fields == {"email": "a@x.example", "name": "A", "desk": "Talous"}
    assert dict(two.fields) == {"email": "b@x.example", "name": "B", "desk": "Talous"}
    assert one.fields["desk"] is two.fields["desk"]  # a repeated value is kept once
    with pytest.raises(TypeError):
        one.fields["desk"] = "x"  # type: ignore[index]
