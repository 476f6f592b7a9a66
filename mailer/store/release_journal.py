"""The journal and the store as a release run sees them: Bcc batches move together, a
cancelled schedule stops the run, and nothing is marked transmitting before the embargo.

The batches themselves are made and read by :class:`mailer.store.release.Releases`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping, Sequence

from mailer.errors import EmbargoGuardError, ReleaseCancelled
from mailer.models import JournalEntry, ScheduleState, State
from mailer.store.db import transaction
from mailer.store.journal import Journal
from mailer.store.marks import Outcome, Submission, claim_in


class ReleaseJournal(Journal):
    """The journal as a release run sees it (``Store.release_journal``, handed to ``send_batch``).

    * Bcc batches: a batch message's Message-ID stands for the journal rows of its recipients;
      claiming it claims all of them or none (one transaction), and every later transition moves
      them together. Two runs can never both claim a row, so nobody gets two copies.
    * Cancellation: ``claim`` refuses, and ``mark_transmitting`` (called immediately before the
      data goes to the server) raises :class:`ReleaseCancelled`, once the schedule is cancelled;
      the transports then release their claims, so ``mailer release cancel`` stops a run up to
      the last message.
    * A second never-early guard: ``mark_transmitting`` refuses any time before the embargo.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        schedule_id: int | None,
        embargo: dt.datetime,
        batches: Mapping[str, tuple[str, ...]],
    ) -> None:
        super().__init__(conn)
        self._schedule_id = schedule_id
        self._embargo = embargo
        self._batches = dict(batches)

    def _cancelled(self) -> bool:
        if self._schedule_id is None:
            return False
        row = self._conn.execute(
            "SELECT state FROM release_schedules WHERE id = ?", (self._schedule_id,)
        ).fetchone()
        return row is not None and str(row[0]) == ScheduleState.CANCELLED.value

    def claim(self, message_id: str, owner: str, now: dt.datetime) -> bool:
        if self._cancelled():
            return False
        rows = self._batches.get(message_id)
        if rows is None:
            return super().claim(message_id, owner, now)
        marks = ",".join("?" * len(rows))
        with transaction(self._conn) as conn:
            pending = conn.execute(
                f"SELECT COUNT(*) FROM messages WHERE state = 'pending'"
                f" AND message_id IN ({marks})",
                rows,
            ).fetchone()[0]
            if int(pending) != len(rows):
                return False  # some row moved on since the plan: the next run re-plans it
            claim_in(conn, rows, owner, now)
            return True

    def _guard(self, now: dt.datetime) -> None:
        if now < self._embargo:
            raise EmbargoGuardError(
                f"embargo guard: a message was about to be marked transmitting at "
                f"{now.astimezone(dt.UTC):%H:%M:%S} UTC, before the embargo "
                f"{self._embargo.astimezone(dt.UTC):%H:%M:%S} UTC; it was not sent",
                now=now,
                went_back=None,
            )

    def mark_transmitting(self, message_id: str, now: dt.datetime) -> None:
        self._guard(now)
        if self._cancelled():
            raise ReleaseCancelled("the release was cancelled; nothing more is sent")
        rows = self._batches.get(message_id)
        if rows is None:
            super().mark_transmitting(message_id, now)
        else:
            self._move_rows(rows, now, State.TRANSMITTING, "", (State.CLAIMED,))

    def _outcome(
        self, message_id: str, now: dt.datetime, state: State, text: str, *, sent: bool = False
    ) -> bool:
        rows = self._batches.get(message_id)
        if rows is None:
            return False
        note = self._note(message_id, text)
        self._move_rows(rows, now, state, note, (State.CLAIMED, State.TRANSMITTING), sent)
        return True

    def mark_sent(self, message_id: str, now: dt.datetime, response: str = "") -> None:
        if not self._outcome(message_id, now, State.SENT, response, sent=True):
            super().mark_sent(message_id, now, response)

    def mark_failed(self, message_id: str, now: dt.datetime, error: str) -> None:
        if not self._outcome(message_id, now, State.FAILED, error):
            super().mark_failed(message_id, now, error)

    def mark_retry(self, message_id: str, now: dt.datetime, error: str) -> None:
        if not self._outcome(message_id, now, State.PENDING, error):
            super().mark_retry(message_id, now, error)

    def mark_in_doubt(self, message_id: str, now: dt.datetime, error: str) -> None:
        if not self._outcome(message_id, now, State.IN_DOUBT, error):
            super().mark_in_doubt(message_id, now, error)

    def claim_many(self, message_ids: Sequence[str], owner: str, now: dt.datetime) -> set[str]:
        if self._cancelled():
            return set()
        won = super().claim_many([m for m in message_ids if m not in self._batches], owner, now)
        won.update(m for m in message_ids if m in self._batches and self.claim(m, owner, now))
        return won

    def commit_marks(
        self,
        *,
        transmitting: tuple[str, dt.datetime] | None = None,
        outcomes: Sequence[Outcome] = (),
        submissions: Sequence[Submission] = (),
        relay: str = "",
    ) -> None:
        if transmitting is not None:
            self._guard(transmitting[1])
            if self._cancelled():  # nothing written: the caller keeps its queue and flushes it
                raise ReleaseCancelled("the release was cancelled; nothing more is sent")
        super().commit_marks(
            transmitting=transmitting, outcomes=outcomes, submissions=submissions, relay=relay
        )

    def _rows_of(self, message_id: str) -> tuple[str, ...]:
        return self._batches.get(message_id, (message_id,))

    def _note(self, message_id: str, text: str) -> str:
        if message_id not in self._batches:
            return text
        return f"Bcc {message_id}: {text}" if text else f"Bcc {message_id}"

    def release_claim(self, message_id: str, now: dt.datetime) -> None:
        rows = self._batches.get(message_id)
        if rows is None:
            super().release_claim(message_id, now)
        else:
            self._move_rows(rows, now, State.PENDING, "", (State.CLAIMED,))

    def by_message_id(self, message_id: str) -> JournalEntry | None:
        """For a batch: its first row (the rows of a batch always share their state)."""
        rows = self._batches.get(message_id)
        return super().by_message_id(rows[0] if rows else message_id)
