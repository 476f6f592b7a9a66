"""The SQLite connection: file permissions, WAL, migrations, and error translation.

The migrations are listed in :mod:`mailer.store.migrations` and applied here, in list order, in
one place. The table ``schema_migrations`` records which ran.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from mailer.errors import StoreError
from mailer.store.migrations import MIGRATIONS, Migration

BUSY_TIMEOUT_MS = 10_000


def timestamp(moment: dt.datetime) -> str:
    """*moment* as every table stores it: UTC, ISO 8601 with microseconds (naive times refused)."""
    if moment.tzinfo is None:
        raise ValueError("stored times must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (before SQLite opens it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _writable(path: Path) -> bool:
    """Whether the journal at *path* can be written: the file (if it exists) and its folder,
    where SQLite keeps the -wal and -shm files next to it."""
    folder = path.parent if path.parent.exists() else _existing_parent(path)
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    return not path.exists() or os.access(path, os.W_OK)


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def _not_writable(path: Path, exc: OSError | None = None) -> StoreError:
    """One line for a journal that exists (or would be made) where it cannot be written."""
    folder = path.parent if path.parent.exists() else _existing_parent(path)
    if exc is not None and exc.errno == errno.EROFS:
        why = f"its folder {folder} is on a read-only file system"
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = f"its folder {folder} is read-only (SQLite writes its -wal and -shm files there)"
    elif path.exists() and not os.access(path, os.W_OK):
        why = "the file is read-only"
    else:
        why = exc.strerror if exc is not None and exc.strerror else "permission denied"
    what = "cannot write the journal" if path.is_file() else "cannot create the journal"
    return StoreError(
        f"{path}: {what}: {why}",
        hint="this command records what it does there; 'mailer status', 'mailer release status', "
        "'mailer rsvp list' and 'mailer rsvp summary' only read it and work as they are",
    )


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the journal at *path* and bring its schema up to date."""
    label = str(path)
    if not _writable(path):
        raise _not_writable(path)
    try:
        _create_private(path)
    except OSError as exc:
        raise _not_writable(path, exc) from None
    old_umask = os.umask(0o077)  # the -wal and -shm files are private too
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise translate_error(label, exc) from None
    finally:
        os.umask(old_umask)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            with contextlib.suppress(OSError):
                os.chmod(side, 0o600)
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """The journal for a command that only reads it (``status``, ``release status``,
    ``rsvp list`` / ``summary``): as :func:`connect` opens it when it can be written; read-only
    when its folder or the file cannot be; an empty journal (in memory) when there is none and
    none can be made there.

    A journal in WAL mode needs its -shm file to be read: in a read-only folder without one,
    the file is opened as immutable, which is exact once the last writer has closed it (SQLite
    then folds the -wal file back into the journal and deletes it). A -wal file that still holds
    changes cannot be read from a read-only folder: that is refused, not shown stale.
    """
    if _writable(path):
        return connect(path)
    label = str(path)
    if not path.exists():
        conn = sqlite3.connect(":memory:", isolation_level=None)
        migrate(conn)
        return conn
    wal = Path(f"{path}-wal")
    try:
        unread_log = wal.exists() and wal.stat().st_size > 0
        uri = path.resolve().as_uri()
        try:
            conn = _read_only(f"{uri}?mode=ro")
        except sqlite3.OperationalError:
            if unread_log:
                raise StoreError(
                    f"{label}: the journal's folder is read-only and {wal.name} holds changes "
                    "not yet written into the journal; they cannot be read without write access",
                    hint=f"make {path.parent} writable once (any mailer command folds them in)",
                ) from None
            conn = _read_only(f"{uri}?immutable=1")
    except OSError as exc:
        raise StoreError(f"{label}: cannot read the journal: {exc.strerror}") from None
    except sqlite3.DatabaseError as exc:
        raise translate_error(label, exc) from None
    done = {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
    missing = [m.number for m in MIGRATIONS if m.number not in done]
    if missing:
        conn.close()
        raise StoreError(
            f"{label}: the journal is read-only and was written by an earlier mailer (it lacks "
            f"schema {', '.join(map(str, missing))})",
            hint=f"make {path.parent} writable once, so that any mailer command can upgrade it",
        )
    return conn


def _read_only(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. Changing the journal mode needs the file to itself for a moment, and
    SQLite answers "database is locked" at once instead of waiting, so wait here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def translate_error(label: str, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"{label}: the journal is locked by another mailer process; try again in a moment"
        )
    if "disk is full" in text:
        return StoreError(
            f"{label}: the disk is full, so the journal cannot be written; free space, then run "
            "the same command again (nothing is sent twice)"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"{label}: the journal is corrupt ({text}); restore it from a backup or move it away"
        )
    return StoreError(f"{label}: journal error: {text}")


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Apply the *migrations* that *conn*'s database lacks, in order, each in its own transaction.

    Refuses a database that records a migration newer than the last of *migrations*.
    """
    known = max((m.number for m in migrations), default=0)
    with transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    if done and max(done) > known:
        raise sqlite3.DatabaseError(
            f"the journal was written by a newer mailer (schema {max(done)}, "
            f"this one knows {known})"
        )
    for number, _, sql in migrations:
        if number in done:
            continue
        with transaction(conn):
            # Another process may have applied it since we looked (two first runs at once).
            if conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (number,)
            ).fetchone():
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations(version) VALUES (?)", (number,))


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: one writer at a time, all or nothing."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
