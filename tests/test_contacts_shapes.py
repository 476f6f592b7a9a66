"""contacts.csv in the shapes officers have: only addresses, the documented columns, Finnish and
Swedish headers, Outlook's and Google's exports. For each: what ``mailer contacts check`` says
(the exact mapping lines), the contacts it reads, and an invitation round through the outbox
that renders for every contact. The files are made here, in the encodings and line endings the
programs write."""

from __future__ import annotations

import csv
import email
import io
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.contacts import load_project
from tests.helpers import make_project

runner = CliRunner()


def mailer(*args: str) -> Any:
    return runner.invoke(app, list(args))


def csv_bytes(
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    terminator: str = "\r\n",
    quote_all: bool = False,
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=delimiter,
        lineterminator=terminator,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def export(header: list[str], rows: list[dict[str, str]]) -> list[list[str]]:
    """An export's rows: every column of *header*, most of them empty, as the programs write."""
    unknown = {key for row in rows for key in row} - set(header)
    assert not unknown, unknown
    return [header, *[[row.get(column, "") for column in header] for row in rows]]


def columns(header_line: str) -> list[str]:
    return header_line.split(",")


# Outlook (classic, File > Open & Export > Export to a file > Comma Separated Values): every
# field quoted, Windows-1252, CRLF.
OUTLOOK_HEADER = columns(
    "Title,First Name,Middle Name,Last Name,Suffix,Company,Department,Job Title,Business Street,"
    "Business Street 2,Business Street 3,Business City,Business State,Business Postal Code,"
    "Business Country/Region,Home Street,Home Street 2,Home Street 3,Home City,Home State,"
    "Home Postal Code,Home Country/Region,Other Street,Other Street 2,Other Street 3,Other City,"
    "Other State,Other Postal Code,Other Country/Region,Assistant's Phone,Business Fax,"
    "Business Phone,Business Phone 2,Callback,Car Phone,Company Main Phone,Home Fax,Home Phone,"
    "Home Phone 2,ISDN,Mobile Phone,Other Fax,Other Phone,Pager,Primary Phone,Radio Phone,"
    "TTY/TDD Phone,Telex,Account,Anniversary,Assistant's Name,Billing Information,Birthday,"
    "Business Address PO Box,Categories,Children,Directory Server,E-mail Address,E-mail Type,"
    "E-mail Display Name,E-mail 2 Address,E-mail 2 Type,E-mail 2 Display Name,E-mail 3 Address,"
    "E-mail 3 Type,E-mail 3 Display Name,Gender,Government ID Number,Hobby,"
    "Home Address PO Box,Initials,Internet Free Busy,Keywords,Language,Location,Manager's Name,"
    "Mileage,Notes,Office Location,Organizational ID Number,Other Address PO Box,Priority,"
    "Private,Profession,Referred By,Sensitivity,Spouse,User 1,User 2,User 3,User 4,Web Page"
)

# Google Contacts, "Google CSV" as exported since 2023 (UTF-8, CRLF).
GOOGLE_HEADER = columns(
    "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,"
    "Phonetic Last Name,Name Prefix,Name Suffix,Nickname,File As,Organization Name,"
    "Organization Title,Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,"
    "E-mail 1 - Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,"
    "Address 1 - Label,Address 1 - Formatted,Address 1 - Street,Address 1 - City,"
    "Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,"
    "Address 1 - Extended Address,Website 1 - Label,Website 1 - Value"
)

# Google Contacts' older "Google CSV" (before 2023), still found in saved lists.
GOOGLE_OLD_HEADER = columns(
    "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,"
    "Additional Name Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,"
    "Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,Directory Server,"
    "Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,"
    "Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,"
    "Phone 1 - Type,Phone 1 - Value,Organization 1 - Type,Organization 1 - Name,"
    "Organization 1 - Yomi Name,Organization 1 - Title,Organization 1 - Department,"
    "Organization 1 - Symbol,Organization 1 - Location,Organization 1 - Job Description"
)


@dataclass(frozen=True)
class Shape:
    data: bytes
    mapping: list[str]  # the lines of `contacts check` from "Columns of ..." to the problems
    # (email, name, first_name, last_name, outlet, language, tags) of each contact
    contacts: list[tuple[str, str, str, str, str, str, tuple[str, ...]]]
    summary: str  # the last line of `contacts check`


SHAPES: dict[str, Shape] = {
    "only email": Shape(
        b"email\nmatti.virtanen@hs.example\nasa@vbl.example\n",
        [
            "Columns of contacts.csv:",
            "  email -> email",
            "  language: not in the file; every contact gets 'fi'",
            "  name, first_name, last_name, outlet, tags: not in the file; empty",
            "Other columns: none",
        ],
        [
            ("matti.virtanen@hs.example", "", "", "", "", "fi", ()),
            ("asa@vbl.example", "", "", "", "", "fi", ()),
        ],
        "contacts.csv: 2 valid contacts, 0 errors, 0 warnings (delimiter ',', encoding utf-8)",
    ),
    "documented columns": Shape(
        csv_bytes(
            [
                ["email", "name", "outlet", "language"],
                ["matti.virtanen@hs.example", "Virtanen, Matti", "Helsingin Sanomat", "fi"],
                ["anna-liisa@kp.example", "Anna-Liisa Mäki-Jaakkola", "Keskipohjanmaa", ""],
                ["asa@vbl.example", "Åsa Sjöholm", "Vasabladet", "sv"],
                ["sarah@bi.example", "Sarah", "Battery Insider", "en"],
                ["desk@ot.example", "", "Österbottens Tidning", "sv-FI"],
            ],
            delimiter=";",
        ),
        [
            "Columns of contacts.csv:",
            "  email -> email",
            "  name -> name",
            "  outlet -> outlet",
            "  language -> language",
            "  first_name, last_name: made from name",
            "  tags: not in the file; empty",
            "Other columns: none",
        ],
        [
            (
                "matti.virtanen@hs.example",
                "Virtanen, Matti",
                "Matti",
                "Virtanen",
                "Helsingin Sanomat",
                "fi",
                (),
            ),
            (
                "anna-liisa@kp.example",
                "Anna-Liisa Mäki-Jaakkola",
                "Anna-Liisa",
                "Mäki-Jaakkola",
                "Keskipohjanmaa",
                "fi",
                (),
            ),
            ("asa@vbl.example", "Åsa Sjöholm", "Åsa", "Sjöholm", "Vasabladet", "sv", ()),
            ("sarah@bi.example", "Sarah", "Sarah", "", "Battery Insider", "en", ()),
            ("desk@ot.example", "", "", "", "Österbottens Tidning", "sv", ()),
        ],
        "contacts.csv: 5 valid contacts, 0 errors, 0 warnings (delimiter ';', encoding utf-8)",
    ),
    "Finnish headers, Excel's plain CSV": Shape(
        csv_bytes(
            [
                ["Sähköposti", "Nimi", "Media", "Kieli", "Puhelin"],
                ["matti.virtanen@hs.example", "Virtanen, Matti", "Helsingin Sanomat", "suomi", ""],
                ["asa@vbl.example", "Åsa Sjöholm", "Vasabladet", "ruotsi", "+358 40 123"],
                ["sarah@bi.example", "Sarah Okafor", "Battery Insider", "englanti", ""],
            ],
            delimiter=";",
            encoding="cp1252",
        ),
        [
            "Columns of contacts.csv:",
            "  Sähköposti -> email",
            "  Nimi -> name",
            "  Media -> outlet",
            "  Kieli -> language",
            "  first_name, last_name: made from name",
            "  tags: not in the file; empty",
            "Other columns, in templates as contact.<name>:",
            "  Puhelin -> contact.puhelin",
        ],
        [
            (
                "matti.virtanen@hs.example",
                "Virtanen, Matti",
                "Matti",
                "Virtanen",
                "Helsingin Sanomat",
                "fi",
                (),
            ),
            ("asa@vbl.example", "Åsa Sjöholm", "Åsa", "Sjöholm", "Vasabladet", "sv", ()),
            ("sarah@bi.example", "Sarah Okafor", "Sarah", "Okafor", "Battery Insider", "en", ()),
        ],
        "contacts.csv: 3 valid contacts, 0 errors, 1 warning (delimiter ';', encoding cp1252)",
    ),
    "Finnish first and last names": Shape(
        csv_bytes(
            [
                [
                    "Sähköpostiosoite",
                    "Etunimi",
                    "Sukunimi",
                    "Tiedotusväline",
                    "Kieli",
                    "Tunnisteet",
                ],
                ["matti.virtanen@hs.example", "Matti", "Virtanen", "HS", "FI", "valtakunnallinen"],
                ["asa@vbl.example", "Åsa", "Sjöholm", "Vasabladet", "Svenska", "paikallinen|sv"],
                ["toimitus@kp.example", "", "", "Keskipohjanmaa", "", "paikallinen"],
            ],
            delimiter=";",
            encoding="cp1252",
        ),
        [
            "Columns of contacts.csv:",
            "  Sähköpostiosoite -> email",
            "  Etunimi -> first_name",
            "  Sukunimi -> last_name",
            "  Tiedotusväline -> outlet",
            "  Kieli -> language",
            "  Tunnisteet -> tags",
            "  name: made from first_name and last_name",
            "Other columns: none",
        ],
        [
            (
                "matti.virtanen@hs.example",
                "Matti Virtanen",
                "Matti",
                "Virtanen",
                "HS",
                "fi",
                ("valtakunnallinen",),
            ),
            (
                "asa@vbl.example",
                "Åsa Sjöholm",
                "Åsa",
                "Sjöholm",
                "Vasabladet",
                "sv",
                ("paikallinen", "sv"),
            ),
            ("toimitus@kp.example", "", "", "", "Keskipohjanmaa", "fi", ("paikallinen",)),
        ],
        "contacts.csv: 3 valid contacts, 0 errors, 1 warning (delimiter ';', encoding cp1252)",
    ),
    "Swedish headers": Shape(
        csv_bytes(
            [
                ["E-post", "Förnamn", "Efternamn", "Medium", "Språk", "Taggar"],
                ["asa@vbl.example", "Åsa", "Sjöholm", "Vasabladet", "svenska", "lokal"],
                ["jorgen@yle.example", "Jörgen", "Byström", "Yle Österbotten", "sv-FI", ""],
                ["matti@hs.example", "Matti", "Virtanen", "HS", "finska", "riks"],
            ],
            delimiter=";",
            encoding="utf-8-sig",
        ),
        [
            "Columns of contacts.csv:",
            "  E-post -> email",
            "  Förnamn -> first_name",
            "  Efternamn -> last_name",
            "  Medium -> outlet",
            "  Språk -> language",
            "  Taggar -> tags",
            "  name: made from first_name and last_name",
            "Other columns: none",
        ],
        [
            ("asa@vbl.example", "Åsa Sjöholm", "Åsa", "Sjöholm", "Vasabladet", "sv", ("lokal",)),
            (
                "jorgen@yle.example",
                "Jörgen Byström",
                "Jörgen",
                "Byström",
                "Yle Österbotten",
                "sv",
                (),
            ),
            ("matti@hs.example", "Matti Virtanen", "Matti", "Virtanen", "HS", "fi", ("riks",)),
        ],
        "contacts.csv: 3 valid contacts, 0 errors, 0 warnings (delimiter ';', encoding utf-8-sig)",
    ),
    "Outlook export": Shape(
        csv_bytes(
            export(
                OUTLOOK_HEADER,
                [
                    {
                        "First Name": "Matti",
                        "Last Name": "Virtanen",
                        "Company": "Helsingin Sanomat",
                        "Job Title": "Toimittaja",
                        "Mobile Phone": "+358 40 123 4567",
                        "Categories": "Media;Valtakunnallinen",
                        "E-mail Address": "matti.virtanen@hs.example",
                        "E-mail Type": "SMTP",
                        "E-mail Display Name": "Matti Virtanen (matti.virtanen@hs.example)",
                        "Manager's Name": "Kaisa",
                    },
                    {
                        "Title": "Dr.",
                        "First Name": "Sarah",
                        "Last Name": "Okafor",
                        "Company": "Battery Insider",
                        "E-mail Address": "sarah@bi.example",
                        "Language": "English",
                    },
                    {
                        "First Name": "Åsa",
                        "Middle Name": "Maria",
                        "Last Name": "Sjöholm",
                        "Company": "Vasabladet",
                        "Categories": "Media",
                        "E-mail Address": "asa@vbl.example",
                        "Language": "Svenska (Finland)",
                    },
                ],
            ),
            encoding="cp1252",
            quote_all=True,
        ),
        [
            "Columns of contacts.csv:",
            "  First Name -> first_name",
            "  Last Name -> last_name",
            "  Company -> outlet",
            "  Categories -> tags",
            "  E-mail Address -> email",
            "  Language -> language",
            "  name: made from first_name and last_name",
            "Other columns, in templates as contact.<name>:",
            "  Title -> contact.title",
            "  Middle Name -> contact.middle_name",
        ],
        [
            (
                "matti.virtanen@hs.example",
                "Matti Virtanen",
                "Matti",
                "Virtanen",
                "Helsingin Sanomat",
                "fi",
                ("media", "valtakunnallinen"),
            ),
            ("sarah@bi.example", "Sarah Okafor", "Sarah", "Okafor", "Battery Insider", "en", ()),
            ("asa@vbl.example", "Åsa Sjöholm", "Åsa", "Sjöholm", "Vasabladet", "sv", ("media",)),
        ],
        "contacts.csv: 3 valid contacts, 0 errors, 1 warning (delimiter ',', encoding cp1252)",
    ),
    "Google export": Shape(
        csv_bytes(
            export(
                GOOGLE_HEADER,
                [
                    {
                        "First Name": "Matti",
                        "Last Name": "Virtanen",
                        "Organization Name": "Helsingin Sanomat",
                        "Labels": "* myContacts ::: Toimittajat",
                        "E-mail 1 - Label": "* Work",
                        "E-mail 1 - Value": "matti.virtanen@hs.example",
                        "Phone 1 - Value": "+358 40 123 4567",
                    },
                    {
                        "First Name": "Jörgen",
                        "Last Name": "Byström",
                        "Organization Name": "Yle Österbotten",
                        "Labels": "Toimittajat ::: Svenska",
                        "E-mail 1 - Value": "jorgen@yle.example",
                    },
                ],
            )
        ),
        [
            "Columns of contacts.csv:",
            "  First Name -> first_name",
            "  Last Name -> last_name",
            "  Organization Name -> outlet",
            "  Labels -> tags",
            "  E-mail 1 - Value -> email",
            "  name: made from first_name and last_name",
            "  language: not in the file; every contact gets 'fi'",
            "Other columns, in templates as contact.<name>:",
            "  Middle Name -> contact.middle_name",
            "  Phonetic First Name -> contact.phonetic_first_name",
        ],
        [
            (
                "matti.virtanen@hs.example",
                "Matti Virtanen",
                "Matti",
                "Virtanen",
                "Helsingin Sanomat",
                "fi",
                ("* mycontacts", "toimittajat"),
            ),
            (
                "jorgen@yle.example",
                "Jörgen Byström",
                "Jörgen",
                "Byström",
                "Yle Österbotten",
                "fi",
                ("toimittajat", "svenska"),
            ),
        ],
        "contacts.csv: 2 valid contacts, 0 errors, 0 warnings (delimiter ',', encoding utf-8)",
    ),
    "Google's older export": Shape(
        csv_bytes(
            export(
                GOOGLE_OLD_HEADER,
                [
                    {
                        "Name": "Matti Virtanen",
                        "Given Name": "Matti",
                        "Family Name": "Virtanen",
                        "Group Membership": "* myContacts ::: Media",
                        "E-mail 1 - Type": "* Work",
                        "E-mail 1 - Value": "matti.virtanen@hs.example",
                        "Organization 1 - Name": "Helsingin Sanomat",
                    },
                    {
                        "Name": "Sarah Okafor",
                        "E-mail 1 - Value": "sarah@bi.example",
                        "Language": "en-GB",
                        "Organization 1 - Name": "Battery Insider",
                    },
                ],
            )
        ),
        [
            "Columns of contacts.csv:",
            "  Name -> name",
            "  Given Name -> first_name",
            "  Family Name -> last_name",
            "  Language -> language",
            "  Group Membership -> tags",
            "  E-mail 1 - Value -> email",
            "  Organization 1 - Name -> outlet",
            "Other columns, in templates as contact.<name>:",
            "  Additional Name -> contact.additional_name",
            "  Yomi Name -> contact.yomi_name",
        ],
        [
            (
                "matti.virtanen@hs.example",
                "Matti Virtanen",
                "Matti",
                "Virtanen",
                "Helsingin Sanomat",
                "fi",
                ("* mycontacts", "media"),
            ),
            ("sarah@bi.example", "Sarah Okafor", "Sarah", "Okafor", "Battery Insider", "en", ()),
        ],
        "contacts.csv: 2 valid contacts, 0 errors, 0 warnings (delimiter ',', encoding utf-8)",
    ),
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


def mapping_lines(output: str) -> list[str]:
    """The lines of `contacts check` before the problems table (or the summary)."""
    out = []
    for line in output.splitlines():
        if line in ("Problems", "") or line.startswith("contacts.csv:"):
            break
        out.append(line)
    return out


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_contacts_check_prints_the_mapping(project: Path, shape: str) -> None:
    expected = SHAPES[shape]
    (project / "contacts.csv").write_bytes(expected.data)

    result = mailer("contacts", "check")

    assert result.exit_code == 0, result.output
    got = mapping_lines(result.stdout)
    if shape.startswith(("Outlook", "Google")):  # every other column, one line each
        others = got.index("Other columns, in templates as contact.<name>:")
        header = {
            "Outlook export": OUTLOOK_HEADER,
            "Google export": GOOGLE_HEADER,
            "Google's older export": GOOGLE_OLD_HEADER,
        }[shape]
        fields = len([line for line in got[1:others] if " -> " in line])
        assert len(got) - others - 1 == len(header) - fields
        got = got[: others + 3]
    assert got == expected.mapping
    assert result.stdout.splitlines()[-1] == expected.summary


def test_outlook_columns_get_names_templates_can_use(project: Path) -> None:
    (project / "contacts.csv").write_bytes(SHAPES["Outlook export"].data)
    lines = mailer("contacts", "check").stdout.splitlines()
    for line in (
        "  Manager's Name -> contact.managers_name",
        "  Business Country/Region -> contact.business_country_region",
        "  TTY/TDD Phone -> contact.tty_tdd_phone",
        "  E-mail 2 Address -> contact.e_mail_2_address",
        "  E-mail Display Name -> contact.e_mail_display_name",
        "  User 1 -> contact.user_1",
    ):
        assert line in lines
    contact = load_project(project / "config.toml").book.contacts[0]
    assert contact.fields["managers_name"] == "Kaisa"
    assert contact.fields["mobile_phone"] == "+358 40 123 4567"


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_the_contacts_read(project: Path, shape: str) -> None:
    (project / "contacts.csv").write_bytes(SHAPES[shape].data)
    book = load_project(project / "config.toml").book
    assert book.errors == ()
    assert [
        (c.email, c.name, c.first_name, c.last_name, c.outlet, c.language, c.tags)
        for c in book.contacts
    ] == SHAPES[shape].contacts


def messages(project: Path) -> dict[str, EmailMessage]:
    out = {}
    for path in sorted((project / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        out[message["To"].addresses[0].addr_spec] = message
    return out


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_invitations_render_for_every_contact(project: Path, shape: str) -> None:
    """The starter's templates with the officer's own file: one message per contact, in the
    contact's language, to the contact's name, both parts rendered."""
    (project / "contacts.csv").write_bytes(SHAPES[shape].data)

    result = mailer("invite", "send", "--yes")

    assert result.exit_code == 0, result.output
    sent = messages(project)
    expected = SHAPES[shape].contacts
    assert sorted(sent) == sorted(c[0] for c in expected)
    for address, name, first, _, _, language, _ in expected:
        message = sent[address]
        assert message["To"].addresses[0].display_name == name
        assert message["Content-Language"] == language
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        body = text.get_content()
        assert "Virtanen, Matti" not in body  # the comma form never reaches a greeting
        if first:
            assert first in body.splitlines()[0]


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_every_round_renders_in_every_language_for_the_shape(project: Path, shape: str) -> None:
    """The starter with the officer's own file: `mailer check` renders the invitation, the
    reminder, the update, the cancellation, the release and the pre-brief for every contact."""
    (project / "contacts.csv").write_bytes(SHAPES[shape].data)

    result = mailer("check", "--no-connect")

    assert result.exit_code == 0, result.output
    rounds = [line.split()[1] for line in result.output.splitlines()[2:]]
    assert rounds == ["invitation", "reminder", "update", "cancel", "release", "pre-brief"]
    assert all(line.startswith("ok ") for line in result.output.splitlines())
