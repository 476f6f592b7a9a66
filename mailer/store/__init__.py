"""The store owns the SQLite journal: the connection, the migrations and every query.

Other modules get :class:`Store` and its area objects, and receive dataclasses, never rows.
The connection stays inside this package: :class:`Store` has no public connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType

from mailer.store.clock_checks import ClockChecks, ClockRecord
from mailer.store.db import connect, connect_reader, translate_error
from mailer.store.journal import Journal, Recovery, Reservation
from mailer.store.marks import Outcome, Submission
from mailer.store.release import BatchRequest, ReleaseCheck, Releases, RunRecord
from mailer.store.release_journal import ReleaseJournal
from mailer.store.rsvp import (
    AnswerUpdate,
    BounceRecord,
    ImapState,
    MessageOutcome,
    ReviewDraft,
    ReviewItem,
    RsvpAnswer,
    Rsvps,
    Suppression,
)
from mailer.store.smtp import SendRate, SmtpLog

__all__ = [
    "AnswerUpdate",
    "BatchRequest",
    "BounceRecord",
    "ClockChecks",
    "ClockRecord",
    "ImapState",
    "Journal",
    "MessageOutcome",
    "Outcome",
    "Recovery",
    "ReleaseCheck",
    "ReleaseJournal",
    "Releases",
    "Reservation",
    "ReviewDraft",
    "ReviewItem",
    "RsvpAnswer",
    "Rsvps",
    "RunRecord",
    "SendRate",
    "SmtpLog",
    "Store",
    "Submission",
    "Suppression",
    "is_alive",
    "process_owner",
]


class Store:
    """An open journal. Use as a context manager, or call :meth:`close`.

    Its areas, all on the one connection: :attr:`journal` (the messages and their states),
    :attr:`rsvps` (replies, answers, bounces, suppressions), :attr:`releases` (schedules, the
    run log, Bcc batches), :attr:`smtp_log` (submissions, for the daily cap) and
    :attr:`clock_checks` (what each release run found about the clock); and, for a
    release run, :meth:`release_journal`.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """*read_only*: the command only reads (``status`` and the like): a journal that cannot
        be written is opened read-only instead of refused (:func:`~.db.connect_reader`)."""
        self.path = path
        self._conn: sqlite3.Connection = connect_reader(path) if read_only else connect(path)
        self.journal = Journal(self._conn)
        self.rsvps = Rsvps(self._conn)
        self.releases = Releases(self._conn)
        self.smtp_log = SmtpLog(self._conn)
        self.clock_checks = ClockChecks(self._conn)

    def release_journal(
        self,
        *,
        schedule_id: int | None,
        embargo: dt.datetime,
        batches: Mapping[str, tuple[str, ...]],
    ) -> ReleaseJournal:
        """The journal as the release run of *schedule_id* sees it (see :class:`ReleaseJournal`):
        *batches* maps a Bcc message's Message-ID to the journal rows it carries."""
        return ReleaseJournal(self._conn, schedule_id=schedule_id, embargo=embargo, batches=batches)

    @contextlib.contextmanager
    def traced(self) -> Iterator[list[str]]:
        """The SQL statements this store runs inside the ``with`` block, in order (the tests and
        benchmarks count transactions and claims with it)."""
        statements: list[str] = []
        self._conn.set_trace_callback(statements.append)
        try:
            yield statements
        finally:
            self._conn.set_trace_callback(None)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sqlite3.Error):
            self.close()
            raise translate_error(str(self.path), exc) from None
        self.close()


def _start_time(pid: int) -> str:
    """The kernel's start time of *pid* (Linux), so that a reused pid is not mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]


def process_owner() -> str:
    """An identifier of this process: host, pid and start time."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def is_alive(owner: str) -> bool:
    """True when *owner* (from :func:`process_owner`) is a process still running on this host."""
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine's process: never steal its rows
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not started or _start_time(pid) == started
