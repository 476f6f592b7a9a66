"""mailer.rsvp.export: the CSV for Excel (BOM, ';', CRLF, no formulas, mode 0600)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.errors import MailerError
from mailer.rsvp.export import COLUMNS, csv_text, safe_cell, write_export
from mailer.rsvp.summary import Delivery, RsvpRow, Status

HELSINKI = ZoneInfo("Europe/Helsinki")


def row(**changes: object) -> RsvpRow:
    values: dict[str, object] = {
        "email": "paivi@keskipohjanmaa.example",
        "name": "Päivi Mäki-Jaakkola",
        "outlet": "Keskipohjanmaa",
        "language": "fi",
        "status": Status.YES,
        "guests": 1,
        "lunch": True,
        "interview": "Vesa",
        "note": "Tulen kuvaajan kanssa; lounaalle myös.",
        "source": "text",
        "answered_from": "",
        "answered_at": dt.datetime(2027, 6, 1, 11, 5, tzinfo=dt.UTC),
        "delivery": Delivery.SENT,
        "bounce": "",
        "suppressed": False,
    }
    values.update(changes)
    return RsvpRow(**values)  # type: ignore[arg-type]


def parse(text: str, delimiter: str = ";") -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline=""), delimiter=delimiter))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+358 40 123", "'+358 40 123"),
        ("-2", "'-2"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("Tulen = kyllä", "Tulen = kyllä"),
        ("", ""),
        ("'quoted", "'quoted"),
    ],
)
def test_safe_cell(value: str, shown: str) -> None:
    assert safe_cell(value) == shown


@given(st.text())
def test_no_cell_can_start_a_formula(value: str) -> None:
    safe = safe_cell(value)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert safe in (value, "'" + value)


def test_layout() -> None:
    text = csv_text([row()], zone=HELSINKI)
    assert text.startswith(
        "\ufeffemail;name;outlet;language;status;guests;lunch;interview;"
        "note;source;answered_at;answered_from;delivery;bounce;suppressed\r\n"
    )
    assert text.count("\r\n") == 2 and "\n" not in text.replace("\r\n", "")
    (only,) = parse(text)
    assert only == {
        "email": "paivi@keskipohjanmaa.example",
        "name": "Päivi Mäki-Jaakkola",
        "outlet": "Keskipohjanmaa",
        "language": "fi",
        "status": "yes",
        "guests": "1",
        "lunch": "yes",
        "interview": "Vesa",
        "note": "Tulen kuvaajan kanssa; lounaalle myös.",
        "source": "text",
        "answered_at": "2027-06-01 14:05",
        "answered_from": "",
        "delivery": "sent",
        "bounce": "",
        "suppressed": "no",
    }
    assert '"Tulen kuvaajan kanssa; lounaalle myös."' in text  # quoted: it holds the delimiter
    assert tuple(only) == COLUMNS


def test_no_answer_row() -> None:
    (only,) = parse(
        csv_text(
            [
                row(
                    status=Status.NONE,
                    guests=0,
                    lunch=None,
                    interview="",
                    note="",
                    source="",
                    answered_at=None,
                    delivery=Delivery.BOUNCED,
                    bounce="5.1.1",
                    suppressed=True,
                )
            ],
            zone=HELSINKI,
        )
    )
    assert [
        only[k]
        for k in ("status", "guests", "lunch", "answered_at", "delivery", "bounce", "suppressed")
    ] == ["none", "0", "", "", "bounced", "5.1.1", "yes"]
    assert Delivery.IN_DOUBT.value == "in-doubt"


def test_text_from_replies_cannot_become_a_formula() -> None:
    evil = row(
        name="=cmd|' /C calc'!A0",
        outlet="@evil",
        note="-1+1",
        interview="+Vesa",
        answered_from="=x@y.example",
    )
    (only,) = parse(csv_text([evil], zone=HELSINKI))
    assert (
        only["name"],
        only["outlet"],
        only["note"],
        only["interview"],
        only["answered_from"],
    ) == ("'=cmd|' /C calc'!A0", "'@evil", "'-1+1", "'+Vesa", "'=x@y.example")


def test_line_breaks_and_quotes_stay_in_their_cell() -> None:
    text = csv_text([row(note='Hän sanoi "kyllä"\nja lähti')], zone=HELSINKI)
    assert parse(text)[0]["note"] == 'Hän sanoi "kyllä"\nja lähti'


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_other_delimiters(delimiter: str) -> None:
    text = csv_text([row()], zone=HELSINKI, delimiter=delimiter)
    assert text.startswith(f"\ufeffemail{delimiter}name{delimiter}")
    assert parse(text, delimiter)[0]["note"] == "Tulen kuvaajan kanssa; lounaalle myös."


def test_unknown_delimiter() -> None:
    with pytest.raises(MailerError, match="--delimiter: use one of"):
        csv_text([], zone=HELSINKI, delimiter="|")


def test_file_is_private_and_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "vastaukset.csv"
    target.write_text("old export")
    os.chmod(target, 0o644)
    assert write_export(target, [row(), row(email="b@x.example")], zone=HELSINKI) == 2
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_bytes().startswith(b"\xef\xbb\xbfemail;")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vastaukset.csv"]  # no temporary file
    assert len(parse(target.read_text("utf-8"))) == 2


def test_unwritable_target_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MailerError) as info:
        write_export(tmp_path / "missing" / "x.csv", [row()], zone=HELSINKI)
    assert str(info.value) == (
        f"{tmp_path / 'missing' / 'x.csv'}: cannot write the export: No such file or directory"
    )
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(MailerError, match=r"folder\.csv: cannot write the export"):
        write_export(tmp_path / "folder.csv", [row()], zone=HELSINKI)
    assert not list(tmp_path.glob(".*.tmp"))
