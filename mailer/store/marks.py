"""Group-committed journal transitions for a send run (``Journal.claim_many`` / ``commit_marks``).

The exactly-once protocol of :mod:`mailer.store.journal` is unchanged; only the number of
transactions shrinks:

* ``claim_rows`` moves up to a chunk of ``pending`` rows to ``claimed`` in one transaction and
  returns the ones this process won. A process that dies leaves them ``claimed``; nothing of them
  was sent, and ``recover_stale`` puts them back to ``pending``.
* ``write_marks`` commits, in one transaction, the ``transmitting`` mark of the message about to be
  handed to the server (durable before its DATA, as before) together with the outcomes
  (sent / failed / in doubt) and daily-cap log rows that earlier messages of the run have queued.
  An outcome waits at most until the next transmission or a short timer (the sending module
  flushes after 50 ms and at the end of the run). A process killed in between leaves the row
  ``transmitting``, which ``recover_stale`` turns into ``in_doubt``: never resent on its own,
  so the batching cannot cause a duplicate, only the same uncertainty that a kill right after
  the server's reply always had.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailer.models import State
from mailer.store.db import timestamp, transaction

_OUTCOMES = {State.SENT, State.FAILED, State.IN_DOUBT}
_FROM = ("claimed", "transmitting")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The server's answer for one message, waiting to be written."""

    message_id: str
    state: State  # SENT, FAILED or IN_DOUBT
    detail: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Submission:
    """A message handed to the server (or possibly), for the daily cap's log."""

    message_id: str
    recipients: int
    at: dt.datetime


Rows = Callable[[str], tuple[str, ...]]  # a message's journal rows (a Bcc batch has several)
Note = Callable[[str, str], str]  # the last_error text stored for an outcome


@functools.lru_cache(maxsize=64)
def _outcome_sql(sent: bool, rows: int) -> str:
    return (
        "UPDATE messages SET state = ?, last_error = ?, updated_at = ?"
        f"{', sent_at = ?' if sent else ''}"
        f" WHERE message_id IN ({','.join('?' * rows)}) AND state IN (?, ?)"
    )


def claim_rows(
    conn: sqlite3.Connection, message_ids: Sequence[str], owner: str, now: dt.datetime
) -> set[str]:
    """pending -> claimed for each of *message_ids* in one transaction; the ones won."""
    if not message_ids:
        return set()
    with transaction(conn) as tx:
        return claim_in(tx, message_ids, owner, now)


def claim_in(
    tx: sqlite3.Connection, message_ids: Sequence[str], owner: str, now: dt.datetime
) -> set[str]:
    """The claim of :func:`claim_rows` inside the caller's open transaction *tx*."""
    stamp = timestamp(now)
    marks = ",".join("?" * len(message_ids))
    rows = tx.execute(
        "UPDATE messages SET state = 'claimed', owner = ?, claimed_at = ?,"
        " updated_at = ?, attempts = attempts + 1"
        f" WHERE message_id IN ({marks}) AND state = 'pending' RETURNING message_id",
        (owner, stamp, stamp, *message_ids),
    ).fetchall()
    return {str(r[0]) for r in rows}


def write_marks(
    conn: sqlite3.Connection,
    *,
    transmitting: tuple[str, dt.datetime] | None,
    outcomes: Sequence[Outcome],
    submissions: Sequence[Submission],
    rows_of: Rows,
    note: Note,
    relay: str = "",
) -> None:
    """The queued outcomes and log rows, then *transmitting* (with the *relay* it is handed
    to: 'primary', 'fallback' or 'outbox'), in one transaction."""
    with transaction(conn) as tx:
        for o in outcomes:
            if o.state not in _OUTCOMES:
                raise ValueError(f"not an outcome: {o.state}")
            rows = rows_of(o.message_id)
            stamp = timestamp(o.at)
            sent = o.state is State.SENT
            tx.execute(
                _outcome_sql(sent, len(rows)),
                (
                    o.state.value,
                    note(o.message_id, o.detail),
                    stamp,
                    *((stamp,) if sent else ()),
                    *rows,
                    *_FROM,
                ),
            )
        if submissions:
            tx.executemany(
                "INSERT INTO smtp_submissions (message_id, recipients, at) VALUES (?, ?, ?)",
                [(s.message_id, s.recipients, timestamp(s.at)) for s in submissions],
            )
        if transmitting is not None:
            message_id, at = transmitting
            rows = rows_of(message_id)
            tx.execute(
                "UPDATE messages SET state = 'transmitting', last_error = '', updated_at = ?,"
                f" relay = ? WHERE message_id IN ({','.join('?' * len(rows))})"
                " AND state = 'claimed'",
                (timestamp(at), relay, *rows),
            )
