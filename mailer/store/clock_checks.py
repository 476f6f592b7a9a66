"""Queries of the clock-check area: what each release run found about the clock before sending.

Every check is kept (``release_clock_checks``), with its verdict, the offset from the second
source and its uncertainty, which source answered, what the machine said about its
synchronisation, whether ``--trust-clock`` overrode it, and the one line the officer reads.
``mailer release status`` and ``mailer status`` show the latest one of the current schedule.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from mailer.store.db import timestamp, transaction


@dataclass(frozen=True)
class ClockRecord:
    schedule_id: int | None
    at: dt.datetime
    command: str
    verdict: str  # "trusted", "skewed", "unverified"
    refused: bool  # the release was (a check ahead of time: would be) not sent because of it
    overridden: bool  # --trust-clock was given
    offset: float | None  # seconds the machine's clock was ahead (+) or behind (-)
    uncertainty: float | None
    source: str  # what answered: a server's greeting, a Date header, or the machine's own tool
    sync: str  # what the machine said about its synchronisation
    line: str  # the one line the officer reads


_COLUMNS = (
    "schedule_id, checked_at, command, verdict, refused, overridden, offset_s, uncertainty_s,"
    " source, sync, line"
)


class ClockChecks:
    """The ``release_clock_checks`` table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(self, check: ClockRecord) -> None:
        with transaction(self._conn) as conn:
            conn.execute(
                f"INSERT INTO release_clock_checks ({_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    check.schedule_id,
                    timestamp(check.at),
                    check.command,
                    check.verdict,
                    int(check.refused),
                    int(check.overridden),
                    check.offset,
                    check.uncertainty,
                    check.source,
                    check.sync,
                    check.line,
                ),
            )

    def last(self, schedule_id: int) -> ClockRecord | None:
        """The latest check of the schedule *schedule_id*."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM release_clock_checks"
            " WHERE schedule_id = ? ORDER BY id DESC LIMIT 1",
            (schedule_id,),
        ).fetchone()
        if row is None:
            return None
        return ClockRecord(
            schedule_id=None if row[0] is None else int(row[0]),
            at=dt.datetime.fromisoformat(str(row[1])),
            command=str(row[2]),
            verdict=str(row[3]),
            refused=bool(row[4]),
            overridden=bool(row[5]),
            offset=None if row[6] is None else float(row[6]),
            uncertainty=None if row[7] is None else float(row[7]),
            source=str(row[8]),
            sync=str(row[9]),
            line=str(row[10]),
        )
