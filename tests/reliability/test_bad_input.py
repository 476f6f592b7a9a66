"""The bad-input corpus (``tests/data/bad/``) through the real command line.

``expected.toml`` lists every file with the command to run, the exit code and the one line the
officer must see. For every file: that exit code, that line on stderr (``error: `` + where +
what; at most a ``hint:`` line after it), no traceback in any output, and nothing sent (no
``.eml`` in the outbox, no sent row in the journal). Large and special files (a 100,000-row
CSV, a 30 MB cell, a FIFO, a 20 GB sparse attachment, a 30 MB reply part...) are made at test
time by the generators below, named in ``[generated]``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.models import Campaign
from mailer.store import Store
from tests.helpers import contacts_text, make_project, set_keys
from tests.reliability.conftest import Figures
from tests.reliability.harness import journalists

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
EXPECTED: dict[str, dict[str, dict[str, Any]]] = tomllib.loads(
    (BAD / "expected.toml").read_text(encoding="utf-8")
)
SEND = ["invite", "send", "--yes"]
BODY = "templates/invitation/fi/body.txt"
runner = CliRunner()


def corpus() -> list[tuple[str, str]]:
    return [(kind, name) for kind, files in EXPECTED.items() for name in files]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("bad") / "pristine")


@pytest.fixture(scope="module")
def invited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter project after its invitation round (replies have something to match)."""
    project = make_project(tmp_path_factory.mktemp("bad") / "invited")
    result = runner.invoke(app, ["--config", str(project / "config.toml"), *SEND])
    assert result.exit_code == 0, result.output
    return project


# --- generators: (project) -> extra command arguments -------------------------------------------


def _csv_100000_rows_last_a_duplicate(project: Path) -> list[str]:
    rows = journalists(99_999)  # and the duplicate: [contacts] max_contacts, 100,000 rows
    rows.append(dict(rows[0], name="Again"))
    (project / "contacts.csv").write_text(contacts_text(rows), encoding="utf-8")
    return []


def _csv_100001_rows_over_max_contacts(project: Path) -> list[str]:
    (project / "contacts.csv").write_text(contacts_text(journalists(100_001)), encoding="utf-8")
    return []


def _csv_30_mb_cell_without_closing_quote(project: Path) -> list[str]:
    text = 'email,name,first_name\npaivi@lehti.example,Päivi,P\nanna@lehti.example,"'
    (project / "contacts.csv").write_text(text + "x" * 30_000_000 + "\n", encoding="utf-8")
    return []


def _attachment(make: Callable[[Path], object]) -> Callable[[Path], list[str]]:
    def generate(project: Path) -> list[str]:
        pdf = project / "programme.pdf"
        pdf.unlink()
        make(pdf)
        return []

    return generate


def _sparse(size: int) -> Callable[[Path], object]:
    def make(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(size)

    return make


def _release_attachment_missing(project: Path) -> list[str]:
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    set_keys(
        project, "release", attachments=["press-photo.jpg"], embargo=f"{tomorrow:%Y-%m-%d} 13:00"
    )
    return []


def _reply(name: str, data: bytes) -> Callable[[Path], list[str]]:
    def generate(project: Path) -> list[str]:
        path = project / "replies" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return ["rsvp", "import", str(path)]

    return generate


FROM = b"From: paivi.maki-jaakkola@keskipohjanmaa.example\r\nSubject: Re: Kutsu\r\n"


def _nested(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    tail = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return FROM + head + b"Content-Type: text/plain\r\n\r\nKyll\xc3\xa4\r\n" + tail


def _forwards(depth: int) -> bytes:
    body = b"Content-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\nSubject: Fwd\r\n" * depth
    return FROM + body + b"Content-Type: text/plain\r\n\r\nyes\r\n"


def _calendar(attendees: int) -> bytes:
    lines = [b"BEGIN:VCALENDAR", b"METHOD:REPLY", b"BEGIN:VEVENT", b"UID:x@kokkola.example"]
    lines += [b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:a%d@b.example" % i for i in range(attendees)]
    lines += [b"END:VEVENT", b"END:VCALENDAR"]
    return FROM + b"Content-Type: text/calendar; method=REPLY\r\n\r\n" + b"\r\n".join(lines)


def _parts(count: int) -> bytes:
    part = b"--x\r\nContent-Type: text/plain\r\n\r\nyes\r\n"
    return FROM + b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n' + part * count + b"--x--"


GENERATORS: dict[str, Callable[[Path], list[str]]] = {
    "csv_100000_rows_last_a_duplicate": _csv_100000_rows_last_a_duplicate,
    "csv_100001_rows_over_max_contacts": _csv_100001_rows_over_max_contacts,
    "csv_30_mb_cell_without_closing_quote": _csv_30_mb_cell_without_closing_quote,
    "attachment_missing": _attachment(lambda p: None),
    "attachment_is_a_directory": _attachment(lambda p: p.mkdir()),
    "attachment_dangling_symlink": _attachment(lambda p: p.symlink_to(p.parent / "gone.pdf")),
    "attachment_symlink_loop": _attachment(lambda p: p.symlink_to(p)),
    "attachment_fifo": _attachment(os.mkfifo),
    "attachment_dev_zero": _attachment(lambda p: p.symlink_to("/dev/zero")),
    "attachment_too_large_11_mb": _attachment(_sparse(11 * 1024 * 1024)),
    "attachment_20_gb_sparse": _attachment(_sparse(20 * 1024**3)),
    "release_attachment_missing": _release_attachment_missing,
    "reply_30_mb_text_part": _reply(
        "big_part.eml", FROM + b"Content-Type: text/plain\r\n\r\n" + b"Kylla tulen. " * 2_500_000
    ),
    "reply_calendar_100000_attendees": _reply("many_attendees.eml", _calendar(100_000)),
    "reply_3000_nested_multiparts": _reply("deep.eml", _nested(3000)),
    "reply_20000_parts": _reply("many_parts.eml", _parts(20_000)),
    "reply_2000_nested_forwards": _reply("forwards.eml", _forwards(2000)),
}


def test_every_generated_case_has_a_generator() -> None:
    assert set(EXPECTED["generated"]) == set(GENERATORS)


def test_every_corpus_file_is_listed() -> None:
    for kind in ("csv", "config", "templates", "replies"):
        assert {p.name for p in (BAD / kind).iterdir()} == set(EXPECTED[kind]), kind


def install(kind: str, name: str, spec: dict[str, Any], project: Path) -> list[str]:
    """Put the bad file in place; return the command to run."""
    if kind == "generated":
        extra = GENERATORS[name](project)
        return extra or list(spec.get("command", SEND))
    source = BAD / kind / name
    if kind == "replies":
        return ["rsvp", "import", str(source)]
    target = {"csv": "contacts.csv", "config": "config.toml"}.get(kind) or spec.get("install", BODY)
    shutil.copyfile(source, project / target)
    return list(spec.get("command", SEND))


def sent(project: Path) -> tuple[int, int]:
    """(.eml files in the outbox, sent rows in the journal)."""
    outbox = project / "outbox"
    files = len(list(outbox.iterdir())) if outbox.is_dir() else 0
    if not (project / "mailer.db").is_file():
        return files, 0
    with Store(project / "mailer.db") as store:
        return files, sum(store.journal.counts(c).sent for c in Campaign)


@pytest.mark.parametrize(("kind", "name"), corpus())
def test_bad_input(
    kind: str, name: str, pristine: Path, invited: Path, tmp_path: Path, figures: Figures
) -> None:
    spec = EXPECTED[kind][name]
    project = tmp_path / "project"
    replies = kind == "replies" or name.startswith("reply_")
    shutil.copytree(invited if replies else pristine, project, symlinks=True)
    before = sent(project)
    command = install(kind, name, spec, project)

    began = time.monotonic()
    result = runner.invoke(app, ["--config", str(project / "config.toml"), *command])
    took = time.monotonic() - began

    figures.add("bad input files tried", kind)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.exit_code == spec.get("exit_code", 0), output
    if "stderr_contains" in spec:
        lines = result.stderr.splitlines()
        assert lines, output
        assert lines[0].startswith("error: "), lines
        assert spec["stderr_contains"] in lines[0], lines[0]
        assert all(line.startswith("hint: ") for line in lines[1:]), lines
    flat = " ".join(result.stdout.split())
    for text in spec.get("stdout_contains", []):
        assert text in flat, result.stdout
    assert sent(project) == before  # nothing sent
    assert took < 60, f"{took:.1f} s"
