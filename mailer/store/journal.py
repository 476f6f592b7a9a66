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
from typing import Any

from mailer.models import Campaign, Invited, JournalEntry, State, StateCounts
from mailer.store.db import transaction
from mailer.store.marks import Outcome, Submission, claim_rows, write_marks

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        campaign TEXT NOT NULL,
        round INTEGER NOT NULL DEFAULT 0,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL UNIQUE,
        ics_uid TEXT,
        sequence INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        owner TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        claimed_at TEXT,
        sent_at TEXT,
        UNIQUE (campaign, round, email)
    );
    CREATE INDEX messages_state ON messages (campaign, round, state);
    CREATE INDEX messages_uid ON messages (ics_uid);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
}

_COLUMNS = (
    "id, campaign, round, email, name, message_id, ics_uid, sequence, state, attempts,"
    " last_error, created_at, updated_at, sent_at"
)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Identifiers planned for one message before it is rendered."""

    email: str
    name: str
    message_id: str
    ics_uid: str | None
    sequence: int


@dataclass(frozen=True)
class Recovery:
    requeued: int
    in_doubt: int


def _ts(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("journal times must be aware")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


_CAMPAIGNS = {c.value: c for c in Campaign}
_STATES = {s.value: s for s in State}


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    """A row of ``_COLUMNS`` as a :class:`JournalEntry` (the columns' SQLite types are known:
    INTEGER columns come back as int, TEXT as str)."""
    (
        id_,
        campaign,
        _round,
        email,
        name,
        mid,
        uid,
        seq,
        state,
        attempts,
        err,
        created,
        updated,
        sent,
    ) = row
    return JournalEntry(
        id=id_,
        campaign=_CAMPAIGNS[campaign],
        email=email,
        name=name,
        message_id=mid,
        ics_uid=uid,
        sequence=seq,
        state=_STATES[state],
        attempts=attempts,
        last_error=err,
        created_at=_FROM_ISO(created),
        updated_at=_FROM_ISO(updated),
        sent_at=None if sent is None else _FROM_ISO(sent),
    )


_FROM_ISO = dt.datetime.fromisoformat


class Journal:
    """Every query on the ``messages`` table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # --- planning ------------------------------------------------------------------------

    def reserve(
        self, campaign: Campaign, round_: int, rows: Sequence[Reservation], now: dt.datetime
    ) -> dict[str, Reservation]:
        """Insert missing rows as pending; return the identifiers actually stored, by email."""
        stamp = _ts(now)
        out: dict[str, Reservation] = {}
        with transaction(self._conn) as conn:
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
                    for r in rows
                ],
            )
            for chunk in _chunks([r.email for r in rows], 500):
                marks = ",".join("?" * len(chunk))
                for email, name, mid, uid, seq in conn.execute(
                    "SELECT email, name, message_id, ics_uid, sequence FROM messages"
                    f" WHERE campaign = ? AND round = ? AND email IN ({marks})",
                    (campaign.value, round_, *chunk),
                ):
                    out[email] = Reservation(email, name, mid, uid, seq)
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
        stamp = _ts(now)
        differ: dict[str, Reservation] = {}
        with transaction(self._conn) as conn:
            for chunk in _batched(rows, 500):
                conn.executemany(
                    "INSERT OR IGNORE INTO messages (campaign, round, email, name, message_id,"
                    " ics_uid, sequence, state, created_at, updated_at)"
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
                asked = {r.email: r for r in chunk}
                marks = ",".join("?" * len(chunk))
                for email, name, mid, uid, seq in conn.execute(
                    "SELECT email, name, message_id, ics_uid, sequence FROM messages"
                    f" WHERE campaign = ? AND round = ? AND email IN ({marks})",
                    (campaign.value, round_, *asked),
                ):
                    want = asked[email]
                    if (want.message_id, want.ics_uid, want.sequence) != (mid, uid, seq):
                        differ[email] = Reservation(email, name, mid, uid, seq)
        return differ

    def states(self, campaign: Campaign, round_: int) -> dict[str, State]:
        """email -> state of every row of the round (what planning needs of 100,000 rows)."""
        by_value = {s.value: s for s in State}
        return {
            str(email): by_value[str(state)]
            for email, state in self._conn.execute(
                "SELECT email, state FROM messages WHERE campaign = ? AND round = ?",
                (campaign.value, round_),
            )
        }

    def pending(self, campaign: Campaign, round_: int) -> dict[str, Reservation]:
        """The identifiers of the round's pending rows (reserved by a run that did not send)."""
        return {
            str(email): Reservation(str(email), str(name), str(mid), uid, int(seq))
            for email, name, mid, uid, seq in self._conn.execute(
                "SELECT email, name, message_id, ics_uid, sequence FROM messages"
                " WHERE campaign = ? AND round = ? AND state = 'pending'",
                (campaign.value, round_),
            )
        }

    def entries(self, campaign: Campaign, round_: int | None = None) -> list[JournalEntry]:
        sql = f"SELECT {_COLUMNS} FROM messages WHERE campaign = ?"
        args: tuple[object, ...] = (campaign.value,)
        if round_ is not None:
            sql += " AND round = ?"
            args += (round_,)
        return [_entry(r) for r in self._conn.execute(sql + " ORDER BY id", args)]

    def existing(self, campaign: Campaign, round_: int) -> dict[str, JournalEntry]:
        return {e.email: e for e in self.entries(campaign, round_)}

    def invited(self, campaign: Campaign) -> list[Invited]:
        """Address, name and state of every row of *campaign* (no times parsed), oldest first."""
        by_value = {s.value: s for s in State}
        return [
            Invited(str(email), str(name), by_value[str(state)])
            for email, name, state in self._conn.execute(
                "SELECT email, name, state FROM messages WHERE campaign = ? ORDER BY id",
                (campaign.value,),
            )
        ]

    def has_rows(self, campaign: Campaign) -> bool:
        """True when *campaign* has any row (without reading them)."""
        row = self._conn.execute(
            "SELECT 1 FROM messages WHERE campaign = ? LIMIT 1", (campaign.value,)
        ).fetchone()
        return row is not None

    def count_in_states(self, campaign: Campaign, states: Iterable[State]) -> int:
        values = tuple(s.value for s in states)
        marks = ",".join("?" * len(values))
        row = self._conn.execute(
            f"SELECT COUNT(*) FROM messages WHERE campaign = ? AND state IN ({marks})",
            (campaign.value, *values),
        ).fetchone()
        return int(row[0])

    def in_states(
        self, campaign: Campaign, states: Iterable[State], limit: int = -1
    ) -> list[JournalEntry]:
        """Rows of *campaign* in *states*, oldest first (all of them unless *limit* is given)."""
        values = tuple(s.value for s in states)
        marks = ",".join("?" * len(values))
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE campaign = ? AND state IN ({marks})"
            " ORDER BY id LIMIT ?",
            (campaign.value, *values, limit),
        )
        return [_entry(r) for r in rows]

    def journaled(self, campaign: Campaign, emails: Iterable[str]) -> set[str]:
        """The addresses among *emails* (lower case) that have a row in *campaign*."""
        wanted = sorted({e.lower() for e in emails})
        found: set[str] = set()
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT DISTINCT lower(email) FROM messages"
                f" WHERE campaign = ? AND lower(email) IN ({marks})",
                (campaign.value, *chunk),
            )
            found.update(str(r[0]) for r in rows)
        return found

    def by_message_id(self, message_id: str) -> JournalEntry | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE message_id = ?",
            (message_id,),
        ).fetchone()
        return None if row is None else _entry(row)

    def by_uid(self, ics_uid: str) -> list[JournalEntry]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE ics_uid = ? ORDER BY id",
            (ics_uid,),
        )
        return [_entry(r) for r in rows]

    def invitation_uids(self) -> dict[str, tuple[str, int]]:
        """email -> (calendar UID, highest SEQUENCE sent or planned) of each invited contact."""
        rows = self._conn.execute(
            "SELECT email, ics_uid, MAX(sequence) FROM messages WHERE ics_uid IS NOT NULL"
            " GROUP BY email, ics_uid ORDER BY MIN(id)"
        )
        return {str(e): (str(u), int(s)) for e, u, s in rows}

    def max_round(self, campaign: Campaign) -> int:
        row = self._conn.execute(
            "SELECT COALESCE(MAX(round), 0) FROM messages WHERE campaign = ?", (campaign.value,)
        ).fetchone()
        return int(row[0])

    # --- the exactly-once state machine --------------------------------------------------------

    def claim(self, message_id: str, owner: str, now: dt.datetime) -> bool:
        """pending -> claimed. True only for the one process that won the row."""
        with transaction(self._conn) as conn:
            cur = conn.execute(
                "UPDATE messages SET state = 'claimed', owner = ?, claimed_at = ?, updated_at = ?,"
                " attempts = attempts + 1 WHERE message_id = ? AND state = 'pending'",
                (owner, _ts(now), _ts(now), message_id),
            )
            return cur.rowcount == 1

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
                    _ts(now),
                    *((_ts(now),) if sent else ()),
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
    ) -> None:
        """Queued outcomes and daily-cap rows, then ``mark_transmitting``, in one transaction."""
        write_marks(
            self._conn, transmitting=transmitting, outcomes=outcomes, submissions=submissions,
            rows_of=self._rows_of, note=self._note,
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
                (_ts(now), campaign.value, round_, *values),
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
                        (_ts(now), mid),
                    )
                    requeued += 1
                else:
                    conn.execute(
                        "UPDATE messages SET state = 'in_doubt', updated_at = ?, last_error = ?"
                        " WHERE message_id = ?",
                        (_ts(now), "the sending process stopped while transmitting", mid),
                    )
                    doubtful += 1
        return Recovery(requeued, doubtful)

    # --- reporting -------------------------------------------------------------------------------

    def counts(self, campaign: Campaign, round_: int | None = None) -> StateCounts:
        sql = "SELECT state, COUNT(*) FROM messages WHERE campaign = ?"
        args: tuple[object, ...] = (campaign.value,)
        if round_ is not None:
            sql += " AND round = ?"
            args += (round_,)
        tally = {str(s): int(n) for s, n in self._conn.execute(sql + " GROUP BY state", args)}
        return StateCounts(
            sent=tally.get("sent", 0),
            failed=tally.get("failed", 0),
            in_doubt=tally.get("in_doubt", 0),
            pending=sum(tally.get(s, 0) for s in ("pending", "claimed", "transmitting")),
            skipped=tally.get("skipped", 0),
        )

    # --- meta ------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

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


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
