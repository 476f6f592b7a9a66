"""Queries of the smtp area: what went to the SMTP server, for the daily cap.

Every message handed to the server (sent, or in doubt because the data may have arrived) is
logged with its number of recipients, so that ``[smtp] daily_cap`` can count the recipients of the
last 24 hours across runs and campaigns. Providers count recipients (Microsoft 365: 10,000 a day)
or messages (Google Workspace: 2,000 a day); counting recipients is never less than either.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from mailer.store.db import timestamp, transaction


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
