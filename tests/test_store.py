"""The journal: private files, migrations, reservations, the exactly-once state machine."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.errors import StoreError
from mailer.models import Campaign, State, StateCounts
from mailer.store import Reservation, Store, is_alive, process_owner
from mailer.store.migrations import MIGRATIONS
from tests.conftest import FIXED_NOW

NOW = FIXED_NOW
LATER = NOW + dt.timedelta(minutes=5)
INV = Campaign.INVITATION


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "mailer.db"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store(path) as opened:
        yield opened


def reservations(n: int, prefix: str = "m") -> list[Reservation]:
    return [
        Reservation(f"c{i}@x.example", f"Contact {i}", f"<{prefix}{i}@x.example>", f"uid{i}", 0)
        for i in range(n)
    ]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def state_of(store: Store, message_id: str) -> State:
    entry = store.journal.by_message_id(message_id)
    assert entry is not None
    return entry.state


# --- the file ------------------------------------------------------------------------------------


def test_files_are_private(path: Path) -> None:
    old = os.umask(0o022)
    try:
        with Store(path) as store:
            store.journal.reserve(INV, 0, reservations(1), NOW)
            sides = [Path(f"{path}{s}") for s in ("-wal", "-shm")]
            assert all(p.exists() for p in sides)
            assert mode(path) == 0o600
            assert [mode(p) for p in sides] == [0o600, 0o600]
    finally:
        os.umask(old)


def test_existing_file_is_made_private(path: Path) -> None:
    Store(path).close()
    path.chmod(0o644)
    Store(path).close()
    assert mode(path) == 0o600


def versions(path: Path) -> list[int]:
    """The migrations *path* records, read with the test's own connection."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [
            r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")
        ]


def test_migrations_are_recorded_once(path: Path) -> None:
    Store(path).close()
    assert versions(path) == [m.number for m in MIGRATIONS]
    assert 1 in versions(path)
    Store(path).close()  # opening again applies nothing twice
    assert versions(path) == [m.number for m in MIGRATIONS]


def test_corrupt_file(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path}: the journal is corrupt (file is not a database); restore it from a backup or "
        "move it away"
    )


def test_journal_from_a_newer_version(path: Path) -> None:
    Store(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO schema_migrations(version) VALUES (9999)")
    known = MIGRATIONS[-1].number
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path}: journal error: the journal was written by a newer mailer (schema 9999, this "
        f"one knows {known})"
    )


def test_journal_in_a_place_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as info:
        Store(blocker / "mailer.db")
    assert str(info.value).startswith(f"{blocker / 'mailer.db'}: cannot create the journal: ")


def _open_at_once(path: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    Store(Path(path)).close()


def test_first_runs_at_the_same_time_both_work(tmp_path: Path) -> None:
    """Two processes creating a fresh journal: WAL switch and migrations do not collide."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(8):
        path = tmp_path / f"j{attempt}.db"
        barrier = ctx.Barrier(3)
        procs = [ctx.Process(target=_open_at_once, args=(str(path), barrier)) for _ in range(3)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(30)
        assert [proc.exitcode for proc in procs] == [0, 0, 0]


# --- reserve -------------------------------------------------------------------------------------


def test_reserve_inserts_pending_rows(store: Store) -> None:
    stored = store.journal.reserve(INV, 0, reservations(3), NOW)
    assert sorted(stored) == ["c0@x.example", "c1@x.example", "c2@x.example"]
    assert stored["c1@x.example"] == Reservation(
        "c1@x.example", "Contact 1", "<m1@x.example>", "uid1", 0
    )
    entries = store.journal.entries(INV)
    assert [e.state for e in entries] == [State.PENDING] * 3
    assert entries[0].created_at == NOW and entries[0].updated_at == NOW
    assert entries[0].sent_at is None and entries[0].attempts == 0


def test_reserve_is_idempotent(store: Store) -> None:
    first = store.journal.reserve(INV, 0, reservations(3), NOW)
    again = store.journal.reserve(INV, 0, reservations(4, prefix="other"), LATER)
    for email, reservation in first.items():
        assert again[email] == reservation  # same Message-ID and UID as before
    assert again["c3@x.example"].message_id == "<other3@x.example>"
    assert len(store.journal.entries(INV)) == 4
    assert store.journal.counts(INV) == StateCounts(pending=4)


def test_rounds_and_campaigns_are_separate(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(2), NOW)
    store.journal.reserve(Campaign.RELEASE, 0, reservations(2, prefix="r"), NOW)
    store.journal.reserve(INV, 1, reservations(1, prefix="i1-"), NOW)
    assert len(store.journal.entries(INV)) == 3
    assert len(store.journal.entries(INV, 0)) == 2
    assert store.journal.max_round(INV) == 1
    assert store.journal.counts(Campaign.RELEASE).pending == 2


def test_lookups(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(2), NOW)
    entry = store.journal.by_message_id("<m1@x.example>")
    assert entry is not None and entry.email == "c1@x.example" and entry.ics_uid == "uid1"
    assert store.journal.by_message_id("<nope@x.example>") is None
    assert [e.email for e in store.journal.by_uid("uid0")] == ["c0@x.example"]
    assert store.journal.invitation_uids() == {
        "c0@x.example": ("uid0", 0),
        "c1@x.example": ("uid1", 0),
    }
    assert set(store.journal.existing(INV, 0)) == {"c0@x.example", "c1@x.example"}


def test_many_rows_in_chunks(store: Store) -> None:
    stored = store.journal.reserve(INV, 0, reservations(1234), NOW)
    assert len(stored) == 1234
    assert store.journal.counts(INV).pending == 1234


# --- claim ---------------------------------------------------------------------------------------


def test_claim_is_exclusive_between_two_stores(path: Path) -> None:
    with Store(path) as one, Store(path) as two:
        one.journal.reserve(INV, 0, reservations(1), NOW)
        assert one.journal.claim("<m0@x.example>", "host:1:a", NOW) is True
        assert two.journal.claim("<m0@x.example>", "host:2:b", NOW) is False
        assert one.journal.claim("<m0@x.example>", "host:1:a", NOW) is False
        entry = two.journal.by_message_id("<m0@x.example>")
        assert entry is not None and entry.state is State.CLAIMED and entry.attempts == 1


def _claim_all(path: str, ids: list[str], owner: str, barrier: object, queue: object) -> None:
    with Store(Path(path)) as store:
        barrier.wait()  # type: ignore[attr-defined]
        won = [mid for mid in ids if store.journal.claim(mid, owner, NOW)]
    queue.put(won)  # type: ignore[attr-defined]


def test_claim_is_exclusive_between_processes(path: Path) -> None:
    rows = reservations(300)
    with Store(path) as store:
        store.journal.reserve(INV, 0, rows, NOW)
    ids = [r.message_id for r in rows]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_all, args=(str(path), ids, f"h:{n}:x", barrier, queue))
        for n in range(3)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    claimed = [mid for won in results for mid in won]
    assert sorted(claimed) == sorted(ids)  # every row exactly once
    assert len(set(claimed)) == len(claimed)
    with Store(path) as store:
        assert store.journal.counts(INV) == StateCounts(pending=300)  # claimed counts as pending
        assert {e.state for e in store.journal.entries(INV)} == {State.CLAIMED}


# --- transitions ---------------------------------------------------------------------------------


def test_happy_path(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(1), NOW)
    mid = "<m0@x.example>"
    assert store.journal.claim(mid, "me", NOW)
    store.journal.mark_transmitting(mid, NOW)
    assert state_of(store, mid) is State.TRANSMITTING
    store.journal.mark_sent(mid, LATER, "250 2.0.0 OK queued")
    entry = store.journal.by_message_id(mid)
    assert entry is not None
    assert entry.state is State.SENT
    assert entry.sent_at == LATER and entry.updated_at == LATER
    assert entry.last_error == "250 2.0.0 OK queued"
    assert store.journal.counts(INV) == StateCounts(sent=1)


def test_failure_retry_and_in_doubt(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(3), NOW)
    for mid in ("<m0@x.example>", "<m1@x.example>", "<m2@x.example>"):
        assert store.journal.claim(mid, "me", NOW)
    store.journal.mark_failed("<m0@x.example>", NOW, "550 5.1.1 no such user")
    store.journal.mark_retry("<m1@x.example>", NOW, "421 try later")
    store.journal.mark_transmitting("<m2@x.example>", NOW)
    store.journal.mark_in_doubt("<m2@x.example>", NOW, "connection lost after DATA")
    assert state_of(store, "<m0@x.example>") is State.FAILED
    assert state_of(store, "<m1@x.example>") is State.PENDING
    assert state_of(store, "<m2@x.example>") is State.IN_DOUBT
    entry = store.journal.by_message_id("<m0@x.example>")
    assert entry is not None and entry.last_error == "550 5.1.1 no such user"
    assert store.journal.counts(INV) == StateCounts(failed=1, pending=1, in_doubt=1)
    # a retried row can be claimed again, and counts its attempts
    assert store.journal.claim("<m1@x.example>", "me", LATER)
    entry = store.journal.by_message_id("<m1@x.example>")
    assert entry is not None and entry.attempts == 2


def test_transitions_from_the_wrong_state_do_nothing(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(2), NOW)
    store.journal.mark_sent("<m0@x.example>", NOW)  # never claimed
    store.journal.mark_transmitting("<m0@x.example>", NOW)
    assert state_of(store, "<m0@x.example>") is State.PENDING
    assert store.journal.claim("<m1@x.example>", "me", NOW)
    store.journal.mark_sent("<m1@x.example>", NOW)
    store.journal.mark_failed("<m1@x.example>", NOW, "late error")
    store.journal.mark_skipped("<m1@x.example>", NOW, "x")
    store.journal.release_claim("<m1@x.example>", NOW)
    assert state_of(store, "<m1@x.example>") is State.SENT


def test_skip_and_release_claim(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(2), NOW)
    store.journal.mark_skipped("<m0@x.example>", NOW, "opted out")
    assert store.journal.claim("<m1@x.example>", "me", NOW)
    store.journal.release_claim("<m1@x.example>", NOW)
    assert state_of(store, "<m0@x.example>") is State.SKIPPED
    assert state_of(store, "<m1@x.example>") is State.PENDING
    assert store.journal.claim("<m0@x.example>", "me", NOW) is False
    assert store.journal.counts(INV) == StateCounts(skipped=1, pending=1)


def test_requeue(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(3), NOW)
    for mid in ("<m0@x.example>", "<m1@x.example>", "<m2@x.example>"):
        store.journal.claim(mid, "me", NOW)
    store.journal.mark_failed("<m0@x.example>", NOW, "550")
    store.journal.mark_in_doubt("<m1@x.example>", NOW, "lost")
    store.journal.mark_sent("<m2@x.example>", NOW)
    assert store.journal.requeue(INV, 0, [], NOW) == 0
    assert store.journal.requeue(INV, 0, [State.FAILED], LATER) == 1
    assert store.journal.counts(INV) == StateCounts(sent=1, in_doubt=1, pending=1)
    assert store.journal.requeue(INV, 0, [State.IN_DOUBT, State.FAILED], LATER) == 1
    assert store.journal.counts(INV) == StateCounts(sent=1, pending=2)
    assert store.journal.requeue(Campaign.RELEASE, 0, [State.SENT], LATER) == 0


def test_recover_stale(store: Store) -> None:
    store.journal.reserve(INV, 0, reservations(5), NOW)
    store.journal.claim("<m0@x.example>", "dead", NOW)
    store.journal.claim("<m1@x.example>", "dead", NOW)
    store.journal.mark_transmitting("<m1@x.example>", NOW)
    store.journal.claim("<m2@x.example>", "alive", NOW)
    store.journal.claim("<m3@x.example>", "alive", NOW)
    store.journal.mark_transmitting("<m3@x.example>", NOW)
    recovery = store.journal.recover_stale(LATER, lambda owner: owner == "alive")
    assert (recovery.requeued, recovery.in_doubt) == (1, 1)
    assert state_of(store, "<m0@x.example>") is State.PENDING
    assert state_of(store, "<m1@x.example>") is State.IN_DOUBT
    assert state_of(store, "<m2@x.example>") is State.CLAIMED
    assert state_of(store, "<m3@x.example>") is State.TRANSMITTING
    assert state_of(store, "<m4@x.example>") is State.PENDING
    entry = store.journal.by_message_id("<m1@x.example>")
    assert entry is not None
    assert entry.last_error == "the sending process stopped while transmitting"
    again = store.journal.recover_stale(LATER, lambda owner: owner == "alive")
    assert (again.requeued, again.in_doubt) == (0, 0)


def test_process_owner_and_is_alive() -> None:
    me = process_owner()
    host, pid, started = me.split(":")
    assert host == socket.gethostname() and int(pid) == os.getpid() and started
    assert is_alive(me)
    assert is_alive(f"{host}:{pid}:") is True
    assert is_alive(f"{host}:{pid}:1") is False  # same pid, another start time: reused pid
    assert is_alive("another-host.example:1:1") is True  # never steal another machine's rows
    assert is_alive(f"{host}:notapid:1") is False
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=int)
    proc.start()
    proc.join()
    assert proc.pid is not None
    assert is_alive(f"{host}:{proc.pid}:") is False


def test_store_turns_sqlite_errors_into_store_errors(path: Path) -> None:
    with pytest.raises(StoreError) as info, Store(path) as store:
        with contextlib.closing(sqlite3.connect(path)) as conn:  # the test's own connection
            conn.execute("DROP TABLE meta")
        store.journal.get_meta("k")
    assert str(info.value) == f"{path}: journal error: no such table: meta"


def test_meta(store: Store) -> None:
    assert store.journal.get_meta("k") is None
    store.journal.set_meta("k", "1")
    store.journal.set_meta("k", "2")
    assert store.journal.get_meta("k") == "2"


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="aware"):
        store.journal.reserve(INV, 0, reservations(1), dt.datetime(2027, 1, 1))


def test_a_row_is_a_real_sqlite_row(path: Path) -> None:
    with Store(path) as store:
        store.journal.reserve(INV, 0, reservations(1), NOW)
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT campaign, email, state FROM messages").fetchone()
    finally:
        conn.close()
    assert row == ("invitation", "c0@x.example", "pending")


def test_a_full_disk_under_the_journal_is_one_line_saying_so() -> None:
    from mailer.store.db import translate_error

    error = translate_error("/p/mailer.db", sqlite3.OperationalError("database or disk is full"))
    assert error.message == (
        "/p/mailer.db: the disk is full, so the journal cannot be written; free space, then run "
        "the same command again (nothing is sent twice)"
    )
