"""The store owns the SQLite journal: the connection, the migrations and every query.

Other modules get :class:`Store` and its area objects, and receive dataclasses, never rows.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path
from types import TracebackType

from mailer.store.db import connect, translate_error
from mailer.store.journal import Journal, Recovery, Reservation
from mailer.store.rsvp import Rsvps

__all__ = ["Journal", "Recovery", "Reservation", "Rsvps", "Store", "is_alive", "process_owner"]


class Store:
    """An open journal. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection = connect(path)
        self.journal = Journal(self._conn)
        self.rsvps = Rsvps(self._conn)

    @property
    def connection(self) -> sqlite3.Connection:
        """For the area modules of this package only."""
        return self._conn

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
