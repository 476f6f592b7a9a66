"""Queries of the smtp area: what went to the SMTP server, for the daily cap.

Every message handed to the server (sent, or in doubt because the data may have arrived) is
logged with its number of recipients, so that ``[smtp] daily_cap`` can count the recipients of the
last 24 hours across runs and campaigns. Providers count recipients (Microsoft 365: 10,000 a day)
or messages (Google Workspace: 2,000 a day); counting recipients is never less than either.

The same log tells how fast this server took the messages of the latest run
(:meth:`SmtpLog.recent_rate`), which the delivery plan uses when no rate limit decides.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from mailer.store.db import timestamp, transaction

RUN_GAP = dt.timedelta(seconds=60)  # submissions further apart belong to different runs
MIN_MEASURED = 10  # a run with fewer submissions says little about the pace
MEASURE_WITHIN = dt.timedelta(days=30)
MEASURE_LAST = 5000  # the newest submissions looked at


@dataclass(frozen=True)
class SendRate:
    """How fast the server took the messages of one recent run."""

    messages: int
    seconds: float  # from the first to the last submission of the run
    ended: dt.datetime  # the last submission

    @property
    def per_second(self) -> float:
        # n submissions are n - 1 intervals; a run quicker than the clock resolution is capped
        return (self.messages - 1) / max(self.seconds, 0.001)


class SmtpLog:
    """The ``smtp_submissions`` table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(self, message_id: str, recipients: int, now: dt.datetime) -> None:
        with transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO smtp_submissions (message_id, recipients, at) VALUES (?, ?, ?)",
                (message_id, recipients, timestamp(now)),
            )

    def recipients_since(self, since: dt.datetime) -> int:
        row = self._conn.execute(
            "SELECT COALESCE(SUM(recipients), 0) FROM smtp_submissions WHERE at > ?",
            (timestamp(since),),
        ).fetchone()
        return int(row[0])

    def frees_at(self, since: dt.datetime, needed: int, window: dt.timedelta) -> dt.datetime | None:
        """When enough of the submissions after *since* leave the window to free *needed*."""
        freed = 0
        for at, count in self._conn.execute(
            "SELECT at, recipients FROM smtp_submissions WHERE at > ? ORDER BY at",
            (timestamp(since),),
        ):
            freed += int(count)
            if freed >= needed:
                return dt.datetime.fromisoformat(str(at)) + window
        return None

    def recent_rate(self, now: dt.datetime) -> SendRate | None:
        """The pace of the newest run of at least :data:`MIN_MEASURED` submissions in the 30 days
        before *now* (a run: submissions at most a minute apart); None when there is none."""
        rows = self._conn.execute(
            "SELECT at FROM smtp_submissions WHERE at > ? AND at <= ? ORDER BY at DESC LIMIT ?",
            (timestamp(now - MEASURE_WITHIN), timestamp(now), MEASURE_LAST),
        ).fetchall()
        times = [dt.datetime.fromisoformat(str(r[0])) for r in rows]  # newest first
        start = 0
        for i in range(1, len(times) + 1):
            if i == len(times) or times[i - 1] - times[i] > RUN_GAP:
                if i - start >= MIN_MEASURED:
                    return SendRate(
                        i - start, (times[start] - times[i - 1]).total_seconds(), times[start]
                    )
                start = i
        return None
