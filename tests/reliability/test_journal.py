"""The journal under kills, from an older version, corrupt, and locked.

* A worker process moves rows through the exactly-once states as fast as it can and is killed
  with SIGKILL at seeded random moments (also while it creates a new journal and runs the
  migrations). After every kill the journal passes SQLite's integrity check, holds every
  transition the worker reported as done (at most one more: the kill can fall between the
  commit and the report), every reserved batch is whole, and recovery leaves nothing claimed or
  transmitting.
* A journal written by the first version (only migration 1) is brought up to date by any
  command, and a round continues on it.
* A corrupt, truncated or foreign file, a journal from a newer mailer, and a journal locked by
  another process: one line naming the file, exit 1, no traceback, nothing sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mailer.store.db
from mailer.cli import app
from mailer.models import Campaign, State
from mailer.store import Store, is_alive
from mailer.store.migrations import MIGRATIONS
from tests.helpers import make_project
from tests.reliability.conftest import Figures
from tests.reliability.harness import no_traceback, run

ROOT = Path(__file__).resolve().parents[2]
SEED = 4242
NEXT = {
    "pending": {"claimed"},
    "claimed": {"transmitting"},
    "transmitting": {"sent", "failed", "in_doubt", "pending"},
}
runner = CliRunner()


def worker(db: Path, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.journal_worker", str(db), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(
    process: subprocess.Popen[str], seconds: float, *, after_open: bool = False
) -> tuple[str, str]:
    """SIGKILL *seconds* after the start, or after the worker said it opened the journal."""
    first = ""
    if after_open:  # a loaded machine can take longer than the whole delay to start Python
        assert process.stdout is not None
        first = process.stdout.readline()
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=30)
    return first + out, err


def check_after_kill(db: Path, reported: str) -> dict[str, int]:
    """Integrity, durability of reported transitions, whole batches; then recovery."""
    last: dict[str, str] = {}
    batches: set[tuple[str, str]] = set()
    for line in reported.splitlines():
        parts = line.split()
        if parts[:1] == ["reserved"]:
            batches.add((parts[1], parts[2]))
        elif len(parts) == 2:
            last[parts[0]] = parts[1]
    with Store(db) as store, contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        assert versions == {m.number for m in MIGRATIONS}
        rows = {e.message_id: e.state.value for e in store.journal.entries(Campaign.INVITATION)}
        for mid, state in last.items():
            assert rows[mid] == state or rows[mid] in NEXT.get(state, ()), (mid, state, rows[mid])
        per_batch: dict[tuple[str, str], int] = {}
        for mid in rows:
            seed, batch, _ = mid.strip("<>").split("@")[0].split(".")
            per_batch[(seed, batch)] = per_batch.get((seed, batch), 0) + 1
        assert set(per_batch.values()) <= {10}, per_batch  # a batch is reserved whole or not
        assert batches <= set(per_batch)
        held = sum(1 for s in rows.values() if s in ("claimed", "transmitting"))
        recovery = store.journal.recover_stale(dt.datetime.now(dt.UTC), is_alive)
        assert recovery.requeued + recovery.in_doubt == held
        after = {e.state for e in store.journal.entries(Campaign.INVITATION)}
        assert not after & {State.CLAIMED, State.TRANSMITTING}
    return {"transitions reported": len(reported.splitlines()), "rows": len(rows)}


def kills(tmp_path: Path, figures: Figures, *, working: int, creating: int) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "mailer.db"
    seen_rows = 0
    for n in range(working):
        process = worker(db, 1000 + n)
        # after the start-up, anywhere in the work
        out, err = kill_after(process, rng.uniform(0.05, 0.4), after_open=True)
        assert process.returncode == -signal.SIGKILL, err
        seen_rows = check_after_kill(db, out)["rows"]
        figures.add("journal kills", "while working")
    for n in range(creating):
        fresh = tmp_path / f"fresh-{n}.db"
        process = worker(fresh, 5000 + n)
        out, err = kill_after(process, rng.uniform(0.05, 0.35))  # imports, connect, migrations
        no_traceback(err)
        if fresh.exists():
            check_after_kill(fresh, out)
        figures.add("journal kills", "while creating and migrating a new journal")
    figures.note("journal rows written by the killed workers", seen_rows)


def test_the_journal_survives_kills(tmp_path: Path, figures: Figures) -> None:
    kills(tmp_path, figures, working=6, creating=4)


@pytest.mark.slow
def test_the_journal_survives_many_kills(tmp_path: Path, figures: Figures) -> None:
    kills(tmp_path, figures, working=30, creating=15)


# --- an older journal -------------------------------------------------------------------------


def old_journal(path: Path) -> None:
    """A journal as the first version wrote it: only migration 1, a round half sent."""
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0].sql)  # the journal's messages and meta
    conn.execute(
        "CREATE TABLE schema_migrations ("
        " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    conn.execute("INSERT INTO schema_migrations(version) VALUES (1)")
    stamp = "2026-11-28T09:00:00.000000+00:00"
    rows = [
        ("paivi.maki-jaakkola@keskipohjanmaa.example", "sent"),
        ("asa.sjoholm@ot.example", "failed"),
        ("jyrki.hyvonen@yle.example", "in_doubt"),
    ]
    for i, (email, state) in enumerate(rows):
        conn.execute(
            "INSERT INTO messages (campaign, round, email, name, message_id, ics_uid, sequence,"
            " state, attempts, last_error, created_at, updated_at, sent_at)"
            " VALUES ('invitation', 0, ?, '', ?, ?, 0, ?, 1, ?, ?, ?, ?)",
            (
                email,
                f"<old-{i}@kokkola.example>",
                f"old-uid-{i}@kokkola.example",
                state,
                "550 5.1.1 No such user" if state == "failed" else "",
                stamp,
                stamp,
                stamp if state == "sent" else None,
            ),
        )
    conn.commit()
    conn.close()
    os.chmod(path, 0o644)  # as an old version may have left it


def test_an_old_journal_is_migrated_and_the_round_goes_on(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    old_journal(project / "mailer.db")

    shown = run(project, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    no_traceback(shown.stdout, shown.stderr)
    assert '"sent": 1' in shown.stdout and '"failed": 1' in shown.stdout
    sent = run(project, "invite", "send", "--yes")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "Skipped:      3 already handled by an earlier run" in sent.stdout
    assert len(list((project / "outbox").glob("*.eml"))) == 4  # the 7 contacts less the 3
    with (
        Store(project / "mailer.db") as store,
        contextlib.closing(sqlite3.connect(project / "mailer.db")) as conn,
    ):
        versions = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        assert versions == {m.number for m in MIGRATIONS}
        old = {e.email: e for e in store.journal.entries(Campaign.INVITATION)}
        assert old["asa.sjoholm@ot.example"].last_error == "550 5.1.1 No such user"
        assert old["jyrki.hyvonen@yle.example"].state is State.IN_DOUBT
    assert (project / "mailer.db").stat().st_mode & 0o777 == 0o600


# --- corrupt, foreign, newer, locked ----------------------------------------------------------


def corrupt_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(SEED)
    for page in range(1, len(data) // 4096):
        data[page * 4096 : page * 4096 + 4096] = rng.randbytes(4096)
    path.write_bytes(bytes(data))


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])


def newer(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations(version) VALUES (999)")


BREAKERS = {
    "garbage": lambda p: p.write_bytes(b"this is not a journal\n" * 100),
    "random bytes": lambda p: p.write_bytes(random.Random(SEED).randbytes(64 * 1024)),
    "pages overwritten": corrupt_pages,
    "truncated": truncated,
    "a directory": lambda p: (p.unlink(), p.mkdir()),
    "from a newer mailer": newer,
}
COMMANDS = [
    ("status",),
    ("invite", "send", "--yes"),
    ("rsvp", "list"),
    ("release", "status"),
    ("release", "send-due"),
]


@pytest.fixture(scope="module")
def sent_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose journal holds a full round (built once)."""
    project = make_project(tmp_path_factory.mktemp("journal") / "project")
    assert run(project, "invite", "send", "--yes").returncode == 0
    for side in ("mailer.db-wal", "mailer.db-shm"):
        assert not (project / side).exists()
    return project


# Each breaker costs five runs of the real CLI (about 3.5 s): the everyday pytest tries two of
# them (a file that is no database, a database from a newer mailer), --all tries every one.
EVERYDAY_BREAKERS = ("garbage", "from a newer mailer")


@pytest.mark.parametrize(
    "breaker",
    [
        pytest.param(name, marks=() if name in EVERYDAY_BREAKERS else pytest.mark.slow)
        for name in BREAKERS
    ],
)
def test_a_broken_journal_is_one_line_through_every_command(
    breaker: str, sent_project: Path, tmp_path: Path, figures: Figures
) -> None:
    project = tmp_path / "project"
    subprocess.run(["cp", "-a", str(sent_project), str(project)], check=True)
    for eml in (project / "outbox").glob("*.eml"):
        eml.unlink()
    BREAKERS[breaker](project / "mailer.db")
    expected = {
        "from a newer mailer": "the journal was written by a newer mailer",
        "a directory": "cannot create the journal: Is a directory",
    }.get(breaker, "the journal is corrupt")
    for command in COMMANDS:
        done = run(project, *command)
        figures.add("broken journals tried", f"{breaker}")
        no_traceback(done.stdout, done.stderr)
        if done.returncode == 0 and breaker in ("pages overwritten", "truncated"):
            continue  # the pages this command reads may be intact: it works, and says nothing
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        lines = done.stderr.splitlines()
        if command == ("release", "send-due"):  # cron's line: its time stamp and command first
            stamp, _, lines[0] = lines[0].partition(" mailer release send-due: ")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), lines
        assert lines[0].startswith(f"error: {project / 'mailer.db'}: "), lines
        assert expected in lines[0], lines
        assert not list((project / "outbox").glob("*.eml"))


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """A project whose journal another process holds in a write transaction."""
    project = make_project(tmp_path / "project")
    with Store(project / "mailer.db"):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(60)\n",
            str(project / "mailer.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    try:
        yield project
    finally:
        holder.kill()
        holder.wait()


LOCKED = "the journal is locked by another mailer process; try again in a moment"


def test_a_locked_journal_is_one_line(
    locked: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    monkeypatch.setattr(mailer.store.db, "BUSY_TIMEOUT_MS", 300)
    monkeypatch.chdir(locked)
    for command in COMMANDS:
        result = runner.invoke(app, list(command))
        figures.add("broken journals tried", "locked by another process")
        assert result.exit_code == 1, (command, result.output)
        lines = result.stderr.splitlines()
        if command == ("release", "send-due"):  # cron's line: its time stamp and command first
            stamp, _, lines[0] = lines[0].partition(" mailer release send-due: ")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), lines
        assert lines == [f"error: {locked / 'mailer.db'}: {LOCKED}"]
        assert not (locked / "outbox").exists()


@pytest.mark.slow
def test_a_locked_journal_through_the_real_cli_waits_10_s_then_says_so(locked: Path) -> None:
    busy = mailer.store.db.BUSY_TIMEOUT_MS / 1000  # 10 s
    began = time.monotonic()
    done = run(locked, "invite", "send", "--yes")
    waited = time.monotonic() - began
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"error: {locked / 'mailer.db'}: {LOCKED}"]
    # Never less than the busy timeout (the start-up only adds to it). At most 1.8 times it:
    # room for a start-up slowed down to 8 s by a loaded machine (it takes under 1 s), yet a
    # second wait of the full timeout (20 s and more) fails.
    assert busy - 0.5 < waited < 1.8 * busy, waited
    assert not (locked / "outbox").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("both_modes")
def test_a_journal_locked_in_the_middle_of_a_send(tmp_path: Path, figures: Figures) -> None:
    """Another process takes the journal for 11 s while a send runs: the send stops with one
    line (exit 1); the rerun lists what was in flight as in doubt; nobody gets two copies."""
    from tests.reliability.harness import audit, big_project, fault_server, start, status_json

    with fault_server(rate=0.0, seed=SEED) as server:
        server.slow_data(0.05, times=None)
        project = big_project(
            tmp_path / "project", 200, server=server, connections=2, timeout_seconds=5.0
        )
        process = start(project, "invite", "send", "--yes", log=tmp_path / "run")
        deadline = time.monotonic() + 60
        while len(server.messages) < 20:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.01)
        holder = sqlite3.connect(project / "mailer.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(11)
        holder.execute("ROLLBACK")
        holder.close()
        process.wait(timeout=120)
        err = (tmp_path / "run.err").read_text()
        no_traceback(err, (tmp_path / "run.out").read_text())
        assert process.returncode == 1, err
        assert err.splitlines()[-1] == f"error: {project / 'mailer.db'}: {LOCKED}"
        again = run(project, "invite", "send", "--yes")
        assert again.returncode in (0, 3), again.stdout + again.stderr
        with Store(project / "mailer.db") as store:
            rows = store.journal.entries(Campaign.INVITATION)
        result = audit(server.messages, rows)
        assert result.ok(), result.problems
        assert not result.duplicated
        in_doubt = {r.email for r in rows if r.state is State.IN_DOUBT}
        assert {p["email"] for p in status_json(project)["problems"]} == in_doubt
        assert all(result.copies[r.email] == 1 for r in rows if r.state is State.SENT)
    figures.add("broken journals tried", "locked for 11 s in the middle of a send")
