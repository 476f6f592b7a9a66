"""What the officer is told while a round sends and after it (issue 13, findings 1, 2, 3, 11).

Through the real CLI (``CliRunner``) with the real SMTP test server and real files: the result
table adds up to the round and equals ``mailer status --json``; a stop says why above the table,
with the command to run next; retries and back-off are shown while they happen, with a
timestamp when there is no terminal; the plan's times carry a zone and rest on a measured pace;
a full disk leaves the messages queued, the temporary files removed, and a rerun finishes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import io
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console, Group
from typer.testing import CliRunner

from mailer import console
from mailer.cli import app
from mailer.clock import FakeClock
from mailer.console import output as console_output
from mailer.models import State
from mailer.sending import Delivery, Notice
from tests.conftest import FIXED_NOW
from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import contact, make_project, set_keys, write_contacts

runner = CliRunner()
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[23]:00"  # ISO 8601 in Helsinki (EET or EEST)
ROWS = ("sent", "failed", "in doubt", "left queued", "skipped (done earlier or by another run)")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


def mailer(*args: str) -> Any:
    return runner.invoke(app, list(args))


def use_server(project: Path, server: SmtpTestServer, **smtp: Any) -> None:
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section(**smtp))


def result_table(stdout: str) -> dict[str, int]:
    """The rows of the Result table: ``{"sent": 2, ..., "planned": 7}``."""
    found: dict[str, int] = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[1].isdigit():
            found[cells[0]] = int(cells[1])
    return found


def status_counts() -> dict[str, int]:
    result = mailer("status", "--json")
    assert result.exit_code == 0, result.output
    counts: dict[str, int] = json.loads(result.stdout)["invitations"]
    return counts


def kill_after(server: SmtpTestServer, messages: int) -> threading.Thread:
    """Stop *server* (every connection cut, the port closed) once it has *messages*."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while len(server.messages) < messages and time.monotonic() < deadline:
            time.sleep(0.005)
        server.stop()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# --- finding 1: the counts add up, and the stop stands above the table ---------------------------


def test_a_server_that_dies_mid_send_leaves_counts_that_add_up(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_server(project, server)
    server.slow_data(0.3, times=None)  # the third message is in DATA when the server dies
    watcher = kill_after(server, 3)
    result = mailer("invite", "send", "--yes")
    watcher.join(10)
    assert result.exit_code == 3, result.output
    stop = (
        f"stopped: 127.0.0.1:{server.port}: cannot connect: Connection refused (gave up after 3 "
        "attempts): 4 messages left queued; run 'mailer invite send' again"
    )
    assert result.stderr.splitlines()[-1] == stop
    output = result.output.splitlines()
    assert output.index(stop) < output.index("Result")  # the reason first, then the table
    table = result_table(result.stdout)
    assert table == {
        "sent": 2,
        "failed": 0,
        "in doubt": 1,
        "left queued": 4,
        "skipped (done earlier or by another run)": 0,
        "planned": 7,
    }
    assert sum(table[row] for row in ROWS) == table["planned"]
    # The server offers PIPELINING: the fourth message's MAIL / RCPT / DATA followed the third
    # one's data, so it was tried (left queued with its reason, not in doubt); three were not.
    assert "Not reached: 3 messages not tried before the run stopped; still queued." in (
        result.stdout.splitlines()
    )
    assert status_counts() == {"sent": 2, "failed": 0, "in_doubt": 1, "pending": 4, "skipped": 0}

    # The same command on a live server sends the four, and the whole round is shown as status
    # counts it (the table is this run: three were handled by the first one).
    again_server = smtp_server()
    use_server(project, again_server)
    again = mailer("invite", "send", "--yes")
    assert again.exit_code == 0, again.output
    table = result_table(again.stdout)
    assert table == {
        "sent": 4,
        "failed": 0,
        "in doubt": 0,
        "left queued": 0,
        "skipped (done earlier or by another run)": 3,
        "planned": 7,
    }
    assert (
        "Whole round:  sent 6  failed 0  in doubt 1  pending 0  skipped 0 "
        "(as 'mailer status' counts it)"
    ) in again.stdout.splitlines()
    assert status_counts() == {"sent": 6, "failed": 0, "in_doubt": 1, "pending": 0, "skipped": 0}
    assert len(again_server.messages) == 4


def test_suppressed_contacts_are_counted_as_skipped_like_status_does(project: Path) -> None:
    assert mailer("contacts", "suppress", "sarah.okafor@batteryinsider.example").exit_code == 0
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 0, result.output
    table = result_table(result.stdout)
    assert table["sent"] == 6
    assert table["skipped (opted out, bounced or not invited)"] == 1
    assert table["planned"] == 7
    assert status_counts() == {"sent": 6, "failed": 0, "in_doubt": 0, "pending": 0, "skipped": 1}


def test_over_the_limit_is_said_apart(project: Path) -> None:
    result = mailer("invite", "send", "--yes", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert result_table(result.stdout)["planned"] == 3
    assert (
        "Not in this run: 4 contacts over --limit; 'mailer invite send --limit 3' again sends "
        "the next ones."
    ) in result.stdout.splitlines()


# --- finding 2: progress through retries and back-off --------------------------------------------


def test_back_off_is_logged_with_a_timestamp_without_a_terminal(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_server(project, server, retry_initial_seconds=1.0, retry_max_seconds=2.0)
    server.fail_connect("421 4.7.0 Try again later, closing connection", times=2)
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 0, result.output
    where = f"127.0.0.1:{server.port}"
    refused = f"server unreachable: {where}: 421 4.7.0 Try again later, closing connection"
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    eta = r"about [0-9. a-z]+ left, until \d\d:\d\d:\d\d EES?T; "
    assert re.fullmatch(
        rf"{STAMP} Sending invitations: 0/7; {eta}{re.escape(refused)}, attempt 2 of 3 in 1 s",
        lines[0],
    ), lines[0]
    assert re.fullmatch(
        rf"{STAMP} Sending invitations: 0/7; {eta}{re.escape(refused)}, attempt 3 of 3 in 2 s",
        lines[1],
    ), lines[1]
    assert re.fullmatch(
        rf"{STAMP} Sending invitations: 0/7; {eta}connected again to {where} after 3 attempts",
        lines[2],
    ), lines[2]
    assert len(server.messages) == 7


def render(progress: console.SendProgress) -> list[str]:
    screen = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    screen.print(Group(*progress._bar.get_renderables()))
    return [line.rstrip() for line in screen.export_text().splitlines()]


def test_the_bar_says_what_happens_and_counts_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal: the line under the bar names the outage and counts down to the next
    attempt, and the time left grows with the wait instead of standing still."""
    terminal = Console(width=80, force_terminal=True, file=io.StringIO(), color_system=None)
    monkeypatch.setattr(console_output, "out", terminal)
    clock = FakeClock(FIXED_NOW)
    progress = console.SendProgress("Sending invitations", clock=clock, zone=dt.UTC)
    progress.started(2000)
    try:
        for _ in range(496):
            clock.advance(0.05)
            progress.advance(Delivery("<m>", "a@b.example", State.SENT, "250 OK", clock.now()))
        before = render(progress)
        assert "496/2000" in before[0]
        assert before[0].endswith(" 496/2000 1 min 15 s left")
        assert len(before) == 1  # nothing to say while messages move
        progress.notice(
            Notice(
                "server unreachable: mail.example.org:587: cannot connect: Connection refused",
                clock.now(),
                attempt=3,
                attempts=5,
                wait_seconds=40,
            )
        )
        during = render(progress)
        assert during[1] == (
            "  server unreachable: mail.example.org:587: cannot connect: Connection refused,"
        )
        assert during[2] == "  attempt 3 of 5 in 40 s"
        assert during[0].endswith(" 496/2000 1 min 55 s left")
        clock.advance(10)
        later = render(progress)
        assert later[2] == "  attempt 3 of 5 in 30 s"
        assert later[0].endswith(" 496/2000 1 min 45 s left")
        clock.advance(31)
        progress.advance(Delivery("<m>", "a@b.example", State.SENT, "250 OK", clock.now()))
        assert len(render(progress)) == 1  # moving again: the notice is gone
    finally:
        progress.stop()


# --- finding 3: plans with a zone, from a measured pace, against the actual time -----------------


def test_the_plan_has_a_zone_uses_the_measured_pace_and_is_compared_with_the_actual(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    write_contacts(
        project, [contact(f"journalist{i:02d}@news.example", f"Journalist {i}") for i in range(30)]
    )
    server = smtp_server()
    use_server(project, server)
    first = mailer("invite", "send", "--yes", "--limit", "15")
    assert first.exit_code == 0, first.output
    out = first.stdout.splitlines()
    plan = next(line for line in out if line.startswith("Plan:"))
    assert re.fullmatch(
        r"Plan:         15 messages over 1 connection: \d\d:\d\d:\d\d to about \d\d:\d\d:\d\d "
        r"EES?T \(no rate limit; estimated at 0\.02 s a message on each connection; nothing "
        r"measured yet\)",
        plan,
    ), plan
    took = next(line for line in out if line.startswith("Time:"))
    assert re.fullmatch(
        r"Time:         planned about 0\.3 s, took [0-9.]+ s "
        r"\(\d\d:\d\d:\d\d to \d\d:\d\d:\d\d EES?T\)",
        took,
    ), took
    again = mailer("invite", "send", "--dry-run")
    plan = next(line for line in again.stdout.splitlines() if line.startswith("Plan:"))
    assert re.fullmatch(
        r"Plan:         15 messages over 1 connection: \d\d:\d\d:\d\d to about \d\d:\d\d:\d\d "
        r"EES?T \(no rate limit; this server's pace in its last run: (\d+ a second|\d+/min)\)",
        plan,
    ), plan


# --- finding 11: disk full in the outbox -------------------------------------------------------

FULL = re.compile(
    r"stopped: disk full writing outbox/invitation-[^ ]+\.eml: 5 messages left queued; "
    r"free space and run 'mailer invite send' again"
)


def check_disk_full_run(project: Path, outbox: Path, result: Any) -> None:
    assert result.exit_code == 3, result.output
    assert FULL.fullmatch(result.stderr.strip()), result.stderr
    table = result_table(result.stdout)
    assert (table["sent"], table["failed"], table["in doubt"], table["left queued"]) == (2, 0, 0, 5)
    assert sorted(p.name for p in outbox.iterdir() if not p.name.endswith(".eml")) == []
    assert len(list(outbox.glob("*.eml"))) == 2
    assert status_counts() == {"sent": 2, "failed": 0, "in_doubt": 0, "pending": 5, "skipped": 0}
    status = json.loads(mailer("status", "--json").stdout)
    assert status["problems"] == []  # nothing failed and nothing is in doubt


def test_disk_full_leaves_the_messages_queued_and_a_rerun_finishes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC injected in the outbox's writes: the third message finds the disk full halfway."""
    real_write = os.write
    calls = {"n": 0}

    def write(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] >= 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr("mailer.privatefile.os.write", write)
    result = mailer("invite", "send", "--yes")
    monkeypatch.setattr("mailer.privatefile.os.write", real_write)
    check_disk_full_run(project, project / "outbox", result)
    rerun = mailer("invite", "send", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert result_table(rerun.stdout)["sent"] == 5
    assert status_counts() == {"sent": 7, "failed": 0, "in_doubt": 0, "pending": 0, "skipped": 0}
    assert len(list((project / "outbox").glob("*.eml"))) == 7


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cannot mount a small tmpfs here (needs root); the injected ENOSPC covers it")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def test_a_real_full_disk(project: Path, tmp_path: Path) -> None:
    """The outbox on a 24 KB tmpfs: two invitations fit, the third does not; with more space
    the same command sends the other five."""
    with small_disk(tmp_path / "small", "24k") as disk:
        set_keys(project, "transport", outbox_dir=str(disk / "outbox"))
        result = mailer("invite", "send", "--yes")
        assert result.exit_code == 3, result.output
        line = result.stderr.strip()
        assert line.startswith(f"stopped: disk full writing {disk}/outbox/invitation-"), line
        assert line.endswith(
            ": 5 messages left queued; free space and run 'mailer invite send' again"
        )
        assert (
            sorted(p.name for p in (disk / "outbox").iterdir() if not p.name.endswith(".eml")) == []
        )
        assert status_counts() == {
            "sent": 2,
            "failed": 0,
            "in_doubt": 0,
            "pending": 5,
            "skipped": 0,
        }
        subprocess.run(["mount", "-o", "remount,size=400k", str(disk)], check=True)  # space
        rerun = mailer("invite", "send", "--yes")
        assert rerun.exit_code == 0, rerun.output
        assert status_counts()["sent"] == 7


# --- finding 13: tables at 80 columns ----------------------------------------------------------


def test_at_80_columns_no_address_is_split(
    project: Path, smtp_server: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.out, "width", 80)
    riikka = "riikka.lansimaki@teollisuusuutiset.example"  # the longest address, 42 characters
    server = smtp_server()
    use_server(project, server)
    server.fail_rcpt(riikka, "550 5.1.1 No such user here")
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 3, result.output
    out = result.stdout.splitlines()
    assert max(len(line) for line in out if "│" in line) <= 80
    (row,) = [line for line in out if riikka in line]
    assert row.startswith(f"│ {riikka} │ failed │ 550 5.1.1 No such user")
    listed = mailer("contacts", "list").stdout.splitlines()
    assert max(len(line.rstrip()) for line in listed) <= 80
    assert riikka in [line.strip() for line in listed]
    assert listed[-1] == "7 contacts"


def test_one_of_a_kind_is_singular(project: Path) -> None:
    result = mailer("invite", "send", "--yes", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert (
        "Not in this run: 6 contacts over --limit; 'mailer invite send --limit 1' again sends the "
        "next ones."
    ) in result.stdout.splitlines()
    listed = mailer("contacts", "list", "--tag", "international").stdout.splitlines()
    assert listed[-1] == "1 contact"


def test_without_a_terminal_a_long_run_logs_at_least_every_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = io.StringIO()
    monkeypatch.setattr(console_output, "out", Console(file=io.StringIO(), width=120))
    monkeypatch.setattr(console_output, "err", Console(file=log, width=200))
    clock = FakeClock(FIXED_NOW)  # 29 November 2026 10:00 UTC = 12:00 in Helsinki
    progress = console.SendProgress(
        "Sending invitations", clock=clock, zone=ZoneInfo("Europe/Helsinki"), per_second=0.5
    )
    progress.started(10)
    for _ in range(4):
        clock.advance(25)
        progress.advance(Delivery("<m>", "a@b.example", State.SENT, "250 OK", clock.now()))
    progress.stop()
    assert log.getvalue().splitlines() == [
        "2026-11-29T12:01:15+02:00 Sending invitations: 3/10; about 2 min 55 s left, "
        "until 12:04:10 EET",
    ]


def test_a_journal_that_cannot_be_written_leaves_no_temporary_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk under the journal is full when the second message is to be marked: one line,
    no traceback, no temporary file, and the message's claim given back (pending)."""
    from mailer.errors import StoreError
    from mailer.sending.context import RunContext

    real = RunContext.transmitting
    calls = {"n": 0}

    def transmitting(self: RunContext, item: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreError("mailer.db: the disk is full, so the journal cannot be written")
        real(self, item)

    monkeypatch.setattr(RunContext, "transmitting", transmitting)
    result = mailer("invite", "send", "--yes")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "error: mailer.db: the disk is full, so the journal cannot be written"
    ]
    outbox = project / "outbox"
    assert [p.name for p in outbox.iterdir() if not p.name.endswith(".eml")] == []
    assert len(list(outbox.glob("*.eml"))) == 1
    assert status_counts() == {"sent": 1, "failed": 0, "in_doubt": 0, "pending": 6, "skipped": 0}
