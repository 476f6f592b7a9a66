"""Reading the message journal: lookups, lists and counts of ``messages`` rows (no writes).

:class:`mailer.store.journal.Journal` adds the writes (reservations and the exactly-once state
machine) on top of these reads.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mailer.models import Campaign, Invited, JournalEntry, State, StateCounts

_COLUMNS = (
    "id, campaign, round, email, name, message_id, ics_uid, sequence, state, attempts,"
    " last_error, created_at, updated_at, sent_at, relay"
)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Identifiers planned for one message before it is rendered."""

    email: str
    name: str
    message_id: str
    ics_uid: str | None
    sequence: int


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
        relay,
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
        relay=relay,
    )


_FROM_ISO = dt.datetime.fromisoformat


class JournalReads:
    """Every read of the ``messages`` and ``meta`` tables."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def states(self, campaign: Campaign, round_: int) -> dict[str, State]:
        """email -> state of every row of the round (what planning needs of 100,000 rows)."""
        return {
            str(email): _STATES[str(state)]
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
        return [
            Invited(str(email), str(name), _STATES[str(state)])
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

    def round_counts(self, campaign: Campaign) -> dict[int, StateCounts]:
        """Every round of *campaign* that has rows, with its rows by state, in round order."""
        tally: dict[int, dict[str, int]] = {}
        for round_, state, n in self._conn.execute(
            "SELECT round, state, COUNT(*) FROM messages WHERE campaign = ?"
            " GROUP BY round, state ORDER BY round",
            (campaign.value,),
        ):
            tally.setdefault(int(round_), {})[str(state)] = int(n)
        return {
            r: StateCounts(
                sent=t.get("sent", 0),
                failed=t.get("failed", 0),
                in_doubt=t.get("in_doubt", 0),
                pending=sum(t.get(s, 0) for s in ("pending", "claimed", "transmitting")),
                skipped=t.get("skipped", 0),
            )
            for r, t in tally.items()
        }

    def relay_counts(self, campaign: Campaign, round_: int) -> dict[str, int]:
        """The messages of a round that went out (sent or in doubt) by the relay that took
        them ('primary', 'fallback', 'outbox'; '' for those sent before the relay was
        recorded), largest first."""
        rows = self._conn.execute(
            "SELECT relay, COUNT(*) FROM messages WHERE campaign = ? AND round = ?"
            " AND state IN ('sent', 'in_doubt') GROUP BY relay ORDER BY COUNT(*) DESC, relay",
            (campaign.value, round_),
        )
        return {str(relay): int(n) for relay, n in rows}

    # --- meta ------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
