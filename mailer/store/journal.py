"""The message journal: one row per (campaign, round, contact), with its state.

Exactly-once protocol (see README, "The journal"):

1. ``reserve`` inserts a ``pending`` row with the Message-ID and calendar UID before anything is
   rendered for sending; an existing row is kept and its identifiers are reused.
2. ``claim`` moves ``pending`` to ``claimed`` atomically; only the process whose claim succeeded
   may transmit. Two processes can never both claim one row.
3. ``mark_transmitting`` is written just before the message data goes to the server;
   ``mark_sent`` / ``mark_failed`` / ``mark_retry`` / ``mark_in_doubt`` after the server answered.
4. ``recover_stale`` finds rows left by a process that died: ``claimed`` (nothing was sent) goes
   back to ``pending``; ``transmitting`` (the data may have arrived) becomes ``in_doubt``, resent
   only on request.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from mailer.models import Campaign, State
from mailer.store.db import timestamp, transaction
from mailer.store.journal_reads import JournalReads, Reservation
from mailer.store.marks import Outcome, Submission, claim_rows, write_marks

__all__ = ["Journal", "Recovery", "Reservation"]


@dataclass(frozen=True)
class Recovery:
    requeued: int
    in_doubt: int


class Journal(JournalReads):
    """The journal's reads (:class:`JournalReads`) and every write to the ``messages`` table."""

    # --- planning ------------------------------------------------------------------------

    def reserve(
        self, campaign: Campaign, round_: int, rows: Sequence[Reservation], now: dt.datetime
    ) -> dict[str, Reservation]:
        """Insert missing rows as pending; return the identifiers actually stored, by email."""
        stamp = timestamp(now)
        out: dict[str, Reservation] = {}
        with transaction(self._conn) as conn:
            for chunk in _batched(rows, 500):
                stored = _insert_pending(conn, campaign, round_, chunk, stamp)
                out.update((r.email, r) for r in stored)
        return out

    def reserve_planned(
        self,
        campaign: Campaign,
        round_: int,
        rows: Iterable[Reservation],
        now: dt.datetime,
    ) -> dict[str, Reservation]:
        """:meth:`reserve` for a planned batch: insert missing rows as pending, in one transaction,
        and return only the rows stored with other identifiers than *rows* asked for (another
        run reserved them first), by email. Rows are read 500 at a time, never all at once."""
        stamp = timestamp(now)
        differ: dict[str, Reservation] = {}
        with transaction(self._conn) as conn:
            for chunk in _batched(rows, 500):
                asked = {r.email: r for r in chunk}
                for got in _insert_pending(conn, campaign, round_, chunk, stamp):
                    want = asked[got.email]
                    if (want.message_id, want.ics_uid, want.sequence) != (
                        got.message_id,
                        got.ics_uid,
                        got.sequence,
                    ):
                        differ[got.email] = got
        return differ

    # --- the exactly-once state machine --------------------------------------------------------

    def claim(self, message_id: str, owner: str, now: dt.datetime) -> bool:
        """pending -> claimed. True only for the one process that won the row."""
        return bool(claim_rows(self._conn, (message_id,), owner, now))

    def _move(
        self,
        message_id: str,
        now: dt.datetime,
        state: State,
        error: str,
        *,
        from_states: Iterable[State],
        sent: bool = False,
    ) -> bool:
        return self._move_rows((message_id,), now, state, error, from_states, sent) == 1

    def _move_rows(
        self,
        message_ids: Sequence[str],
        now: dt.datetime,
        state: State,
        error: str,
        from_states: Iterable[State],
        sent: bool = False,
    ) -> int:
        """Move the rows among *message_ids* that are in *from_states*; return how many moved."""
        froms = tuple(s.value for s in from_states)
        marks = ",".join("?" * len(message_ids))
        fmarks = ",".join("?" * len(froms))
        with transaction(self._conn) as conn:
            cur = conn.execute(
                f"UPDATE messages SET state = ?, last_error = ?, updated_at = ?"
                f"{', sent_at = ?' if sent else ''}"
                f" WHERE message_id IN ({marks}) AND state IN ({fmarks})",
                (
                    state.value,
                    error,
                    timestamp(now),
                    *((timestamp(now),) if sent else ()),
                    *message_ids,
                    *froms,
                ),
            )
            return cur.rowcount

    def mark_transmitting(self, message_id: str, now: dt.datetime) -> None:
        self._move(message_id, now, State.TRANSMITTING, "", from_states=(State.CLAIMED,))

    def mark_sent(self, message_id: str, now: dt.datetime, response: str = "") -> None:
        self._move(
            message_id,
            now,
            State.SENT,
            response,
            from_states=(State.CLAIMED, State.TRANSMITTING),
            sent=True,
        )

    def mark_failed(self, message_id: str, now: dt.datetime, error: str) -> None:
        self._move(
            message_id, now, State.FAILED, error, from_states=(State.CLAIMED, State.TRANSMITTING)
        )

    def mark_retry(self, message_id: str, now: dt.datetime, error: str) -> None:
        """A temporary failure before the data was accepted: back to pending."""
        self._move(
            message_id, now, State.PENDING, error, from_states=(State.CLAIMED, State.TRANSMITTING)
        )

    def mark_in_doubt(self, message_id: str, now: dt.datetime, error: str) -> None:
        self._move(
            message_id,
            now,
            State.IN_DOUBT,
            error,
            from_states=(State.CLAIMED, State.TRANSMITTING),
        )

    def mark_skipped(self, message_id: str, now: dt.datetime, reason: str) -> None:
        self._move(message_id, now, State.SKIPPED, reason, from_states=(State.PENDING,))

    def release_claim(self, message_id: str, now: dt.datetime) -> None:
        """claimed -> pending, when a run stops before transmitting (Ctrl-C, account error)."""
        self._move(message_id, now, State.PENDING, "", from_states=(State.CLAIMED,))

    # --- the same protocol, group-committed for a send run (mailer/store/marks.py) ------------

    def claim_many(self, message_ids: Sequence[str], owner: str, now: dt.datetime) -> set[str]:
        """``claim`` for several rows in one transaction; the message ids this process won."""
        return claim_rows(self._conn, message_ids, owner, now)

    def commit_marks(
        self,
        *,
        transmitting: tuple[str, dt.datetime] | None = None,
        outcomes: Sequence[Outcome] = (),
        submissions: Sequence[Submission] = (),
        relay: str = "",
    ) -> None:
        """Queued outcomes and daily-cap rows, then ``mark_transmitting`` (recording the *relay*
        the message is handed to), in one transaction."""
        write_marks(
            self._conn,
            transmitting=transmitting,
            outcomes=outcomes,
            submissions=submissions,
            rows_of=self._rows_of,
            note=self._note,
            relay=relay,
        )

    def _rows_of(self, message_id: str) -> tuple[str, ...]:
        return (message_id,)

    def _note(self, message_id: str, text: str) -> str:
        return text

    def requeue(
        self, campaign: Campaign, round_: int, states: Iterable[State], now: dt.datetime
    ) -> int:
        """--retry-failed / --resend-in-doubt: put those rows back to pending."""
        values = tuple(s.value for s in states)
        if not values:
            return 0
        marks = ",".join("?" * len(values))
        with transaction(self._conn) as conn:
            cur = conn.execute(
                f"UPDATE messages SET state = 'pending', updated_at = ?"
                f" WHERE campaign = ? AND round = ? AND state IN ({marks})",
                (timestamp(now), campaign.value, round_, *values),
            )
            return cur.rowcount

    def recover_stale(self, now: dt.datetime, is_alive: Callable[[str], bool]) -> Recovery:
        """Rows of processes that died: claimed -> pending, transmitting -> in_doubt."""
        requeued = doubtful = 0
        with transaction(self._conn) as conn:
            held = conn.execute(
                "SELECT message_id, state, owner FROM messages"
                " WHERE state IN ('claimed', 'transmitting')"
            ).fetchall()
            for mid, state, owner in held:
                if is_alive(str(owner)):
                    continue
                if state == State.CLAIMED.value:
                    conn.execute(
                        "UPDATE messages SET state = 'pending', updated_at = ?"
                        " WHERE message_id = ?",
                        (timestamp(now), mid),
                    )
                    requeued += 1
                else:
                    conn.execute(
                        "UPDATE messages SET state = 'in_doubt', updated_at = ?, last_error = ?"
                        " WHERE message_id = ?",
                        (timestamp(now), "the sending process stopped while transmitting", mid),
                    )
                    doubtful += 1
        return Recovery(requeued, doubtful)

    # --- meta ------------------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def _batched(items: Iterable[Reservation], size: int) -> Iterator[list[Reservation]]:
    """*items* *size* at a time, taken from the iterable as they are needed."""
    source = iter(items)
    while chunk := list(itertools.islice(source, size)):
        yield chunk


def _insert_pending(
    conn: sqlite3.Connection,
    campaign: Campaign,
    round_: int,
    chunk: Sequence[Reservation],
    stamp: str,
) -> list[Reservation]:
    """Insert the rows of *chunk* that are missing as pending; return what is stored for them."""
    conn.executemany(
        "INSERT OR IGNORE INTO messages (campaign, round, email, name, message_id, ics_uid,"
        " sequence, state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        [
            (
                campaign.value,
                round_,
                r.email,
                r.name,
                r.message_id,
                r.ics_uid,
                r.sequence,
                stamp,
                stamp,
            )
            for r in chunk
        ],
    )
    marks = ",".join("?" * len(chunk))
    return [
        Reservation(email, name, mid, uid, seq)
        for email, name, mid, uid, seq in conn.execute(
            "SELECT email, name, message_id, ics_uid, sequence FROM messages"
            f" WHERE campaign = ? AND round = ? AND email IN ({marks})",
            (campaign.value, round_, *(r.email for r in chunk)),
        )
    ]
