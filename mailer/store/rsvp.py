"""Queries of the rsvp area: processed replies, answers, review items, bounces, suppressions.

Rules kept here, in one place:

- a message is recorded once per key (its Message-ID, else a hash of its bytes): re-importing
  the same mail changes nothing;
- an answer replaces the stored one only when its time stamp (a REPLY's DTSTAMP, a written
  reply's Date, the officer's clock for a manual answer) is not older, and a calendar REPLY
  whose SEQUENCE is lower than the latest applied one is ignored;
- extras the new answer does not mention (guests, lunch, interview) are kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator

from mailer.store.db import timestamp, transaction
from mailer.store.rsvp_records import (
    EPOCH,
    AnswerUpdate,
    BounceRecord,
    ImapState,
    MessageOutcome,
    ProcessedMessage,
    Recorded,
    ReviewDraft,
    ReviewItem,
    RsvpAnswer,
    Suppression,
    answer_row,
    message_row,
    review_row,
    when,
)

__all__ = [
    "AnswerUpdate",
    "BounceRecord",
    "ImapState",
    "MessageOutcome",
    "ProcessedMessage",
    "Recorded",
    "ReviewDraft",
    "ReviewItem",
    "RsvpAnswer",
    "Rsvps",
    "Suppression",
]

_ANSWER_COLS = (
    "email, status, guests, lunch, interview, note, source, stamp, sequence, from_address,"
    " message_key, updated_at"
)
_MESSAGE_COLS = (
    "key, source, kind, outcome, email, message_id, sender, subject, details, received_at,"
    " processed_at"
)
_REVIEW_COLS = (
    "id, message_key, kind, email, sender, reason, lines, created_at, resolved_at, resolution"
)


class Rsvps:
    """Every query of the rsvp tables."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # --- processed messages ----------------------------------------------------------------

    def processed(self, key: str) -> ProcessedMessage | None:
        row = self._conn.execute(
            f"SELECT {_MESSAGE_COLS} FROM rsvp_messages WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else message_row(tuple(row))

    def messages(self, kind: str | None = None, email: str | None = None) -> list[ProcessedMessage]:
        sql = f"SELECT {_MESSAGE_COLS} FROM rsvp_messages WHERE 1 = 1"
        args: list[object] = []
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        if email is not None:
            sql += " AND email = ?"
            args.append(email)
        return [message_row(tuple(r)) for r in self._conn.execute(sql + " ORDER BY id", args)]

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction around many :meth:`record` calls: all of them are written, or none.

        Inside it each message still sees the ones recorded before it (the same connection), so
        a second copy of a message in the same batch is a duplicate, as it is across batches.
        """
        with transaction(self._conn):
            yield

    def record(self, outcome: MessageOutcome, now: dt.datetime) -> Recorded:
        """Write *outcome* unless its key is already recorded (then nothing is written).

        Its own transaction, or the caller's :meth:`batch` when one is open.
        """
        stamp = timestamp(now)
        with self._writing() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO rsvp_messages (key, source, kind, outcome, email,"
                " message_id, sender, subject, details, received_at, processed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    outcome.key,
                    outcome.source,
                    outcome.kind,
                    outcome.outcome,
                    outcome.email,
                    outcome.message_id,
                    outcome.sender,
                    outcome.subject,
                    outcome.details,
                    None if outcome.received_at is None else timestamp(outcome.received_at),
                    stamp,
                ),
            )
            if cur.rowcount == 0:
                return Recorded(duplicate=True, applied=0, superseded=0)
            applied = sum(_apply(conn, a, stamp) for a in outcome.answers)
            for b in outcome.bounces:
                conn.execute(
                    "INSERT OR IGNORE INTO rsvp_bounces (message_key, email, recipient, status,"
                    " action, diagnostic, permanent, received_at, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        outcome.key,
                        b.email,
                        b.recipient,
                        b.status,
                        b.action,
                        b.diagnostic,
                        int(b.permanent),
                        None if outcome.received_at is None else timestamp(outcome.received_at),
                        stamp,
                    ),
                )
            for r in outcome.reviews:
                _insert_review(conn, r, outcome.key, stamp)
        return Recorded(False, applied, len(outcome.answers) - applied)

    def _writing(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        if self._conn.in_transaction:  # inside batch(): it commits or rolls back for all
            return contextlib.nullcontext(self._conn)
        return transaction(self._conn)

    # --- answers ---------------------------------------------------------------------------

    def answers(self, status: str | None = None) -> list[RsvpAnswer]:
        sql = f"SELECT {_ANSWER_COLS} FROM rsvp_answers"
        args: tuple[object, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        return [answer_row(tuple(r)) for r in self._conn.execute(sql + " ORDER BY email", args)]

    def answer(self, email: str) -> RsvpAnswer | None:
        row = self._conn.execute(
            f"SELECT {_ANSWER_COLS} FROM rsvp_answers WHERE email = ?", (email,)
        ).fetchone()
        return None if row is None else answer_row(tuple(row))

    def set_answer(self, update: AnswerUpdate, now: dt.datetime) -> bool:
        """Record one answer (``rsvp set`` uses source "manual" and stamp = now)."""
        with transaction(self._conn) as conn:
            return _apply(conn, update, timestamp(now))

    # --- review ----------------------------------------------------------------------------

    def reviews(self, *, open_only: bool = True) -> list[ReviewItem]:
        sql = f"SELECT {_REVIEW_COLS} FROM rsvp_review"
        if open_only:
            sql += " WHERE resolved_at IS NULL"
        return [review_row(tuple(r)) for r in self._conn.execute(sql + " ORDER BY id")]

    def add_review(self, draft: ReviewDraft, now: dt.datetime, message_key: str = "") -> int:
        with transaction(self._conn) as conn:
            return _insert_review(conn, draft, message_key, timestamp(now))

    def resolve_review(self, review_id: int, resolution: str, now: dt.datetime) -> bool:
        with transaction(self._conn) as conn:
            cur = conn.execute(
                "UPDATE rsvp_review SET resolved_at = ?, resolution = ?"
                " WHERE id = ? AND resolved_at IS NULL",
                (timestamp(now), resolution, review_id),
            )
            return cur.rowcount == 1

    # --- bounces and suppression -----------------------------------------------------------

    def bounces(self) -> list[BounceRecord]:
        rows = self._conn.execute(
            "SELECT email, recipient, status, action, diagnostic, permanent, message_key,"
            " received_at FROM rsvp_bounces ORDER BY id"
        )
        return [
            BounceRecord(str(e), str(r), str(s), str(a), str(d), bool(p), str(k), when(t))
            for e, r, s, a, d, p, k, t in rows
        ]

    def bounced(self) -> dict[str, BounceRecord]:
        """Lower-case contact email -> its latest failed delivery."""
        return {b.email.lower(): b for b in self.bounces() if b.action == "failed"}

    def suppress(self, email: str, reason: str, now: dt.datetime, source: str = "manual") -> bool:
        """Add *email* to the suppression list; False when it was there already."""
        with transaction(self._conn) as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO suppressions (email, reason, source, created_at)"
                " VALUES (?, ?, ?, ?)",
                (email.strip(), reason, source, timestamp(now)),
            )
            return cur.rowcount == 1

    def unsuppress(self, email: str) -> bool:
        with transaction(self._conn) as conn:
            return conn.execute("DELETE FROM suppressions WHERE email = ?", (email,)).rowcount == 1

    def suppressions(self) -> list[Suppression]:
        rows = self._conn.execute(
            "SELECT email, reason, source, created_at FROM suppressions ORDER BY email"
        )
        return [Suppression(str(e), str(r), str(s), when(c) or EPOCH) for e, r, s, c in rows]

    def is_suppressed(self, email: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM suppressions WHERE email = ?", (email,)).fetchone()
        return row is not None

    def suppressed_emails(self) -> frozenset[str]:
        """Lower-case addresses on the suppression list (for the send plans)."""
        return frozenset(
            str(e).lower() for (e,) in self._conn.execute("SELECT email FROM suppressions")
        )

    # --- IMAP sync state -------------------------------------------------------------------

    def imap_state(self, account: str, folder: str) -> ImapState | None:
        row = self._conn.execute(
            "SELECT uidvalidity, last_uid FROM imap_state WHERE account = ? AND folder = ?",
            (account, folder),
        ).fetchone()
        return None if row is None else ImapState(account, folder, int(row[0]), int(row[1]))

    def save_imap_state(self, state: ImapState, now: dt.datetime) -> None:
        with transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO imap_state (account, folder, uidvalidity, last_uid, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, folder) DO UPDATE SET"
                " uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
                " updated_at = excluded.updated_at",
                (state.account, state.folder, state.uidvalidity, state.last_uid, timestamp(now)),
            )


def _insert_review(conn: sqlite3.Connection, r: ReviewDraft, key: str, stamp: str) -> int:
    cur = conn.execute(
        "INSERT INTO rsvp_review (message_key, kind, email, sender, reason, lines, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            r.kind,
            r.email,
            r.sender,
            r.reason,
            json.dumps(list(r.lines), ensure_ascii=False),
            stamp,
        ),
    )
    return int(cur.lastrowid or 0)


def _apply(conn: sqlite3.Connection, u: AnswerUpdate, stamp: str) -> bool:
    """Upsert one answer by the rules in the module docstring; True when it was applied."""
    row = conn.execute(
        f"SELECT {_ANSWER_COLS} FROM rsvp_answers WHERE email = ?", (u.email,)
    ).fetchone()
    old = None if row is None else answer_row(tuple(row))
    sequence = u.sequence
    if old is not None:
        if u.source != "manual":
            both = u.sequence is not None and old.sequence is not None and old.source == "calendar"
            if both and u.sequence != old.sequence:
                if (u.sequence or 0) < (old.sequence or 0):
                    return False  # a reply to an older version of the event
            elif u.stamp < old.stamp:
                return False
        if sequence is None or (old.sequence is not None and old.sequence > sequence):
            sequence = old.sequence
    keep = old is not None and u.status != "no"
    guests = u.guests if u.guests is not None else (old.guests if keep and old else 0)
    lunch = u.lunch if u.lunch is not None else (old.lunch if keep and old else None)
    interview = u.interview or (old.interview if keep and old else "")
    note = u.note or (old.note if old else "")
    conn.execute(
        f"INSERT INTO rsvp_answers ({_ANSWER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (email) DO UPDATE SET status = excluded.status, guests = excluded.guests,"
        " lunch = excluded.lunch, interview = excluded.interview, note = excluded.note,"
        " source = excluded.source, stamp = excluded.stamp, sequence = excluded.sequence,"
        " from_address = excluded.from_address, message_key = excluded.message_key,"
        " updated_at = excluded.updated_at",
        (
            u.email,
            u.status,
            max(0, guests),
            None if lunch is None else int(lunch),
            interview,
            note,
            u.source,
            timestamp(u.stamp),
            sequence,
            u.from_address,
            u.message_key,
            stamp,
        ),
    )
    return True
