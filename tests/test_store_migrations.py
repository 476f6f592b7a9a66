"""The migrations (mailer/store/migrations.py): one ordered list, and whichever earlier mailer
created a journal, opening it with :class:`Store` ends with the schema of a fresh journal."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from mailer.models import Campaign
from mailer.store import Store
from mailer.store.db import _statements, migrate
from mailer.store.migrations import MIGRATIONS, Migration
from tests.conftest import FIXED_NOW

STAMP = "2027-06-01T09:00:00.000000+00:00"

# What earlier mailers knew: every prefix of the list (the empty one is a fresh file), and the
# first version, which had only the journal (1) and the SMTP log (30).
EARLIER: dict[str, tuple[Migration, ...]] = {
    **{
        "none" if k == 0 else f"up to {MIGRATIONS[k - 1].number}": MIGRATIONS[:k]
        for k in range(len(MIGRATIONS) + 1)
    },
    "1 and 30 (the first version)": tuple(m for m in MIGRATIONS if m.number in (1, 30)),
}


def _own(path: Path) -> contextlib.closing[sqlite3.Connection]:
    """The test's own connection, in autocommit mode like the store's."""
    return contextlib.closing(sqlite3.connect(path, isolation_level=None))


def schema(path: Path) -> dict[str, object]:
    """Everything that makes up the schema of *path*, whitespace in the SQL normalised."""
    with _own(path) as conn:
        objects = sorted(
            (str(kind), str(name), str(table), " ".join(str(sql).split()))
            for kind, name, table, sql in conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
                " WHERE type IN ('table', 'index', 'trigger', 'view')"
            )
        )
        tables = [name for kind, name, _, _ in objects if kind == "table"]
        columns = {t: conn.execute(f"PRAGMA table_info('{t}')").fetchall() for t in tables}
        foreign = {t: conn.execute(f"PRAGMA foreign_key_list('{t}')").fetchall() for t in tables}
        indexes = {
            t: sorted(tuple(row[1:]) for row in conn.execute(f"PRAGMA index_list('{t}')"))
            for t in tables
        }
        index_columns = {
            str(name): conn.execute(f"PRAGMA index_xinfo('{name}')").fetchall()
            for _, rows in indexes.items()
            for (name, *_) in rows
        }
    return {
        "objects": objects,
        "columns": columns,
        "foreign keys": foreign,
        "indexes": indexes,
        "index columns": index_columns,
    }


def versions(path: Path) -> list[int]:
    with _own(path) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]


def as_an_older_mailer_left_it(path: Path, known: Sequence[Migration]) -> None:
    """A journal written by a mailer that knew only *known*, with a row in each of its areas."""
    with _own(path) as conn:
        migrate(conn, known)
        numbers = {m.number for m in known}
        if 1 in numbers:
            conn.execute(
                "INSERT INTO messages (campaign, round, email, name, message_id, ics_uid,"
                " state, created_at, updated_at, sent_at)"
                " VALUES ('invitation', 0, 'anna@hs.example', 'Anna', '<old@x.example>', 'u1',"
                " 'sent', ?, ?, ?)",
                (STAMP, STAMP, STAMP),
            )
            conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        if 10 in numbers:
            conn.execute(
                "INSERT INTO release_schedules (embargo_utc, zone, mode, grace_minutes, state,"
                " created_at, updated_at)"
                " VALUES (?, 'Europe/Helsinki', 'personal', 15, 'scheduled', ?, ?)",
                (STAMP, STAMP, STAMP),
            )
        if 20 in numbers:
            conn.execute(
                "INSERT INTO suppressions (email, reason, created_at)"
                " VALUES ('bo@ot.example', 'opted out', ?)",
                (STAMP,),
            )
        if 30 in numbers:
            conn.execute(
                "INSERT INTO smtp_submissions (message_id, recipients, at)"
                " VALUES ('<old@x.example>', 3, ?)",
                (STAMP,),
            )


def test_the_list_is_ordered_and_each_script_splits_into_whole_statements() -> None:
    numbers = [m.number for m in MIGRATIONS]
    assert numbers[0] == 1
    assert all(a < b for a, b in itertools.pairwise(numbers)), numbers
    # the numbers journals in use record: a released migration keeps its number
    assert numbers[:4] == [1, 10, 20, 30]
    for m in MIGRATIONS:
        assert m.description.strip(), m.number
        statements = _statements(m.sql)
        assert statements, m.number
        assert all(sqlite3.complete_statement(f"{s};") for s in statements), m.number


@pytest.mark.parametrize("earlier", list(EARLIER), ids=list(EARLIER))
def test_an_upgraded_journal_has_the_schema_of_a_fresh_one(tmp_path: Path, earlier: str) -> None:
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    old = tmp_path / "old.db"
    known = EARLIER[earlier]
    as_an_older_mailer_left_it(old, known)
    assert versions(old) == sorted(m.number for m in known)

    with Store(old) as store:  # applies the rest
        numbers = {m.number for m in known}
        if 1 in numbers:
            entry = store.journal.by_message_id("<old@x.example>")
            assert entry is not None and entry.email == "anna@hs.example"
            assert store.journal.get_meta("k") == "v"
        if 10 in numbers:
            current = store.releases.current()
            assert current is not None and current.zone == "Europe/Helsinki"
        if 20 in numbers:
            assert store.rsvps.suppressed_emails() == {"bo@ot.example"}
        if 30 in numbers:
            since = dt.datetime.fromisoformat(STAMP) - dt.timedelta(hours=1)
            assert store.smtp_log.recipients_since(since) == 3
        # and the areas it lacked work
        store.releases.start_run(schedule_id=None, command="send-due", owner="t", now=FIXED_NOW)
        assert store.journal.counts(Campaign.RELEASE).total == 0

    assert versions(old) == versions(fresh) == [m.number for m in MIGRATIONS]
    assert schema(old) == schema(fresh)


def test_opening_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    before = schema(path), versions(path)
    Store(path).close()
    assert (schema(path), versions(path)) == before


def test_a_mailer_that_knows_fewer_migrations_refuses_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Store(path).close()
    last = MIGRATIONS[-1].number
    with _own(path) as conn, pytest.raises(sqlite3.DatabaseError) as info:
        migrate(conn, MIGRATIONS[:-1])
    assert str(info.value) == (
        f"the journal was written by a newer mailer (schema {last}, "
        f"this one knows {MIGRATIONS[-2].number})"
    )
    assert versions(path) == [m.number for m in MIGRATIONS]  # and it was left as it was
