"""Issue 15, finding 6: a million contacts. Rounds refuse more than ``[contacts] max_contacts``
with one line, ``contacts check`` reads any length without keeping the contacts, and a large
round shows its progress while it is rendered. The time and memory of a million rows are
measured by ``bench/contacts_scale.py``, not here: these tests use small files and low limits."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailer.cli import app
from mailer.console.invitations import RenderProgress
from mailer.contacts import check_contacts, csvfile, load_contacts
from mailer.errors import ContactsError
from tests.helpers import contact, make_project, set_keys, write_contacts
from tests.test_contacts import CELL, HEADERS

runner = CliRunner()
LIMIT_LINE = (
    "error: contacts.csv:{line}: more than {limit} contacts, the limit of [contacts] max_contacts "
    "in config.toml (a press list is hundreds; raise the limit if this file is right)"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "project")
    rows = [contact(f"toimittaja{i}@lehti.example", f"Toimittaja {i}") for i in range(6)]
    write_contacts(path, rows)
    monkeypatch.chdir(path)
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["invite", "send", "--dry-run"],
        ["invite", "send", "--yes"],
        ["invite", "preview"],
        ["contacts", "list"],
        ["check", "--no-connect"],
    ],
)
def test_rounds_refuse_more_contacts_than_the_limit(project: Path, command: list[str]) -> None:
    set_keys(project, "contacts", max_contacts=4)
    result = runner.invoke(app, command, env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert result.stderr == LIMIT_LINE.format(line=6, limit=4) + "\n"
    assert not (project / "outbox").exists()


def test_the_limit_counts_rows_and_allows_exactly_its_number(project: Path) -> None:
    set_keys(project, "contacts", max_contacts=6)
    result = runner.invoke(app, ["invite", "send", "--dry-run"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "To send now:  6 " in result.stdout


def test_contacts_check_reads_the_whole_file_and_warns_of_the_limit(project: Path) -> None:
    set_keys(project, "contacts", max_contacts=4)
    result = runner.invoke(app, ["contacts", "check"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "contacts.csv: 6 valid contacts, 0 errors, 1 warning (delimiter ',', encoding utf-8)"
    )
    report = check_contacts(
        project / "contacts.csv", default_language="fi", label="contacts.csv", max_rows=4
    )
    assert report.valid == 6
    assert [(p.line, p.message) for p in report.problems] == [
        (
            0,
            "6 rows, more than [contacts] max_contacts (4) in config.toml allows: the rounds "
            "refuse this file",
        )
    ]


def test_a_bad_limit_is_one_line(project: Path) -> None:
    set_keys(project, "contacts", max_contacts=0)
    result = runner.invoke(app, ["contacts", "check"], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: config.toml: [contacts] max_contacts: ")
    assert len(result.stderr.splitlines()) == 1


def test_a_large_round_shows_its_progress_while_it_renders(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RenderProgress, "SHOW_FROM", 5)
    monkeypatch.setattr("mailer.messages.plan.PROGRESS_EVERY", 2)
    monkeypatch.setattr(RenderProgress, "HEARTBEAT_SECONDS", 0.0)
    result = runner.invoke(app, ["invite", "send", "--dry-run"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = [line.split(" (")[0] for line in result.stderr.splitlines()]
    assert lines == [
        "Rendering and checking: 6 messages",
        "Rendering and checking: 2 of 6",
        "Rendering and checking: 4 of 6",
        "Rendering and checking: 6 of 6, done",
    ]
    assert result.stdout.splitlines()[-1] == (
        "Dry run: every message was rendered and checked; nothing was sent."
    )


def test_a_small_round_renders_without_progress_lines(project: Path) -> None:
    result = runner.invoke(app, ["invite", "send", "--dry-run"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_load_contacts_stops_at_the_first_row_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(
        "email\n" + "".join(f"a{i}@x.example\n" for i in range(10)) + "broken\n",
        encoding="utf-8",
    )
    with pytest.raises(ContactsError) as info:
        load_contacts(path, default_language="fi", label="contacts.csv", max_rows=3)
    assert str(info.value) == LIMIT_LINE.format(line=5, limit=3).removeprefix("error: ")
    book = load_contacts(path, default_language="fi", label="contacts.csv", max_rows=11)
    assert len(book.contacts) == 10
    assert [p.line for p in book.errors] == [12]


def _same(data: bytes, tmp_path: Path) -> None:
    """check_contacts finds what load_contacts finds, and splitting the text into lines one at
    a time (large files) reads the same records as splitting it at once."""
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    try:
        book = load_contacts(path, default_language="sv", label="contacts.csv")
    except ContactsError as exc:
        with pytest.raises(ContactsError) as info:
            check_contacts(path, default_language="sv", label="contacts.csv")
        assert str(info.value) == str(exc)
        return
    report = check_contacts(path, default_language="sv", label="contacts.csv")
    assert report.valid == len(book.contacts)
    assert report.problems == book.problems
    assert (report.delimiter, report.encoding, report.mapping, report.notes) == (
        book.delimiter,
        book.encoding,
        book.mapping,
        book.notes,
    )
    with mock.patch.object(csvfile, "_SPLIT_AT_ONCE", 0):
        streamed = load_contacts(path, default_language="sv", label="contacts.csv")
    assert streamed.contacts == book.contacts
    assert streamed.problems == book.problems


@settings(
    max_examples=200,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    header=HEADERS,
    rows=st.lists(st.lists(CELL, max_size=7), max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
    terminator=st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_checking_and_streaming_read_what_loading_reads(
    tmp_path: Path, header: list[str], rows: list[list[str]], delimiter: str, terminator: str
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator)
    writer.writerow(header)
    writer.writerows(rows)
    _same(out.getvalue().encode("utf-8", errors="replace"), tmp_path)


@pytest.mark.parametrize(
    "csv_file", sorted((Path(__file__).parent / "data" / "bad" / "csv").iterdir()), ids=str
)
def test_checking_the_bad_corpus_finds_what_loading_finds(csv_file: Path, tmp_path: Path) -> None:
    _same(csv_file.read_bytes(), tmp_path)
