"""Queries of the release area: the schedule, the run log and the Bcc batches.

* ``release_schedules``: one row per ``mailer release schedule``; the newest row is the current
  schedule. The embargo is stored in UTC with the zone the officer gave it in.
* ``release_runs``: one row for every ``send-due`` / ``wait`` / ``send-now`` / ``prebrief`` run
  (started with outcome ``running``, finished with its decision and outcome), so the officer can
  see afterwards what cron did.
* ``release_batches`` and ``release_batch_members``: in Bcc mode one message goes to many
  journalists. Each journalist keeps their own journal row in ``messages`` (so the journal shows
  who got it when); a batch is a fixed set of those rows, created once in one transaction (a row
  belongs to at most one batch), and ``ReleaseJournal`` (``mailer/store/release_journal.py``)
  moves the rows of a batch together.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mailer.models import Campaign, Schedule, ScheduleState
from mailer.store.db import timestamp, transaction


def _parse(text: object) -> dt.datetime:
    return dt.datetime.fromisoformat(str(text))


_SCHEDULE_COLUMNS = (
    "id, embargo_utc, zone, tag, mode, grace_minutes, state, checked, fingerprint,"
    " created_at, updated_at, note"
)


def _schedule(row: Sequence[object]) -> Schedule:
    id_, embargo, zone, tag, mode, grace, state, checked, fp, created, updated, note = row
    return Schedule(
        id=int(str(id_)),
        embargo=_parse(embargo),
        zone=str(zone),
        tag=str(tag),
        mode=str(mode),
        grace_minutes=int(str(grace)),
        state=ScheduleState(str(state)),
        checked=int(str(checked)),
        fingerprint=str(fp),
        created_at=_parse(created),
        updated_at=_parse(updated),
        note=str(note),
    )


@dataclass(frozen=True)
class RunRecord:
    """One line of the run log."""

    id: int
    schedule_id: int | None
    command: str
    owner: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    decision: str
    outcome: str
    ok: bool | None


@dataclass(frozen=True)
class ReleaseCheck:
    """The last pre-flight check of a schedule (``send-due`` before the embargo)."""

    schedule_id: int
    at: dt.datetime
    command: str
    ok: bool
    result: str  # "ok", or the problems found, one line
    failing_since: dt.datetime | None  # when this failure was first seen (None when ok)


@dataclass(frozen=True)
class BatchMember:
    email: str
    row_message_id: str  # the contact's journal row


@dataclass(frozen=True)
class Batch:
    """One Bcc message: its own Message-ID and the journal rows it carries."""

    message_id: str
    language: str
    number: int
    members: tuple[BatchMember, ...]


@dataclass(frozen=True)
class BatchRequest:
    """A journal row that should travel in a Bcc batch of *language*."""

    email: str
    row_message_id: str
    language: str


class Releases:
    """Every query of the release area."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # --- the schedule --------------------------------------------------------------------------

    def current(self) -> Schedule | None:
        row = self._conn.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM release_schedules ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _schedule(tuple(row))

    def get(self, schedule_id: int) -> Schedule | None:
        row = self._conn.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM release_schedules WHERE id = ?", (schedule_id,)
        ).fetchone()
        return None if row is None else _schedule(tuple(row))

    def add(
        self,
        *,
        embargo: dt.datetime,
        zone: str,
        tag: str,
        mode: str,
        grace_minutes: int,
        checked: int,
        fingerprint: str,
        now: dt.datetime,
    ) -> Schedule:
        """A new current schedule; a still scheduled earlier one is marked as replaced."""
        with transaction(self._conn) as conn:
            cur = conn.execute(
                "INSERT INTO release_schedules (embargo_utc, zone, tag, mode, grace_minutes,"
                " state, checked, fingerprint, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)",
                (
                    timestamp(embargo),
                    zone,
                    tag,
                    mode,
                    grace_minutes,
                    checked,
                    fingerprint,
                    timestamp(now),
                    timestamp(now),
                ),
            )
            new_id = int(cur.lastrowid or 0)
            conn.execute(
                "UPDATE release_schedules SET state = 'cancelled', note = ?, updated_at = ?"
                " WHERE id != ? AND state = 'scheduled'",
                (f"replaced by schedule {new_id}", timestamp(now), new_id),
            )
        found = self.get(new_id)
        assert found is not None
        return found

    def set_state(
        self,
        schedule_id: int,
        state: ScheduleState,
        now: dt.datetime,
        *,
        note: str = "",
        from_states: Iterable[ScheduleState],
    ) -> bool:
        """Move the schedule to *state* if it is in one of *from_states* (atomic)."""
        froms = tuple(s.value for s in from_states)
        marks = ",".join("?" * len(froms))
        with transaction(self._conn) as conn:
            cur = conn.execute(
                f"UPDATE release_schedules SET state = ?, note = ?, updated_at = ?"
                f" WHERE id = ? AND state IN ({marks})",
                (state.value, note, timestamp(now), schedule_id, *froms),
            )
            return cur.rowcount == 1

    def state_of(self, schedule_id: int) -> ScheduleState | None:
        row = self._conn.execute(
            "SELECT state FROM release_schedules WHERE id = ?", (schedule_id,)
        ).fetchone()
        return None if row is None else ScheduleState(str(row[0]))

    # --- the run log ---------------------------------------------------------------------------

    def start_run(
        self, *, schedule_id: int | None, command: str, owner: str, now: dt.datetime
    ) -> int:
        with transaction(self._conn) as conn:
            cur = conn.execute(
                "INSERT INTO release_runs (schedule_id, command, owner, started_at)"
                " VALUES (?, ?, ?, ?)",
                (schedule_id, command, owner, timestamp(now)),
            )
            return int(cur.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        now: dt.datetime,
        decision: str,
        outcome: str,
        ok: bool,
        schedule_id: int | None = None,
    ) -> None:
        with transaction(self._conn) as conn:
            conn.execute(
                "UPDATE release_runs SET finished_at = ?, decision = ?, outcome = ?, ok = ?,"
                " schedule_id = COALESCE(?, schedule_id) WHERE id = ?",
                (timestamp(now), decision, outcome, int(ok), schedule_id, run_id),
            )

    def runs(self, limit: int = 20) -> list[RunRecord]:
        rows = self._conn.execute(
            "SELECT id, schedule_id, command, owner, started_at, finished_at, decision, outcome,"
            " ok FROM release_runs ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        out = [
            RunRecord(
                id=int(r[0]),
                schedule_id=None if r[1] is None else int(r[1]),
                command=str(r[2]),
                owner=str(r[3]),
                started_at=_parse(r[4]),
                finished_at=None if r[5] is None else _parse(r[5]),
                decision=str(r[6]),
                outcome=str(r[7]),
                ok=None if r[8] is None else bool(r[8]),
            )
            for r in rows
        ]
        return list(reversed(out))

    # --- the pre-flight checks ----------------------------------------------------------------

    def record_check(
        self, schedule_id: int, *, now: dt.datetime, command: str, ok: bool, result: str
    ) -> ReleaseCheck | None:
        """Keep *result* as the schedule's last check; return the check it replaces.

        A failure that goes on keeps the time it was first seen (``failing_since``).
        """
        with transaction(self._conn) as conn:
            before = self._check(conn, schedule_id)
            since = None
            if not ok:
                since = (
                    before.failing_since
                    if before is not None and not before.ok and before.failing_since is not None
                    else now
                )
            conn.execute(
                "INSERT INTO release_checks (schedule_id, checked_at, command, ok, result,"
                " failing_since) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (schedule_id) DO UPDATE"
                " SET checked_at = excluded.checked_at, command = excluded.command,"
                " ok = excluded.ok, result = excluded.result,"
                " failing_since = excluded.failing_since",
                (
                    schedule_id,
                    timestamp(now),
                    command,
                    int(ok),
                    result,
                    None if since is None else timestamp(since),
                ),
            )
        return before

    def last_check(self, schedule_id: int) -> ReleaseCheck | None:
        return self._check(self._conn, schedule_id)

    @staticmethod
    def _check(conn: sqlite3.Connection, schedule_id: int) -> ReleaseCheck | None:
        row = conn.execute(
            "SELECT schedule_id, checked_at, command, ok, result, failing_since"
            " FROM release_checks WHERE schedule_id = ?",
            (schedule_id,),
        ).fetchone()
        if row is None:
            return None
        return ReleaseCheck(
            schedule_id=int(row[0]),
            at=_parse(row[1]),
            command=str(row[2]),
            ok=bool(row[3]),
            result=str(row[4]),
            failing_since=None if row[5] is None else _parse(row[5]),
        )

    # --- Bcc batches ---------------------------------------------------------------------------

    def assign_batches(
        self,
        wanted: Sequence[BatchRequest],
        *,
        size: int,
        new_message_id: Callable[[], str],
        now: dt.datetime,
    ) -> list[Batch]:
        """Put every row of *wanted* that is in no batch yet into new batches of at most *size*
        rows of one language (in one transaction, so two processes cannot both batch a row);
        return every batch that holds a row of *wanted*, with all its members."""
        if size < 1:
            raise ValueError("a batch holds at least one recipient")
        mids = [w.row_message_id for w in wanted]
        with transaction(self._conn) as conn:
            taken = self._batch_of(conn, mids)
            number = int(
                conn.execute("SELECT COALESCE(MAX(number), 0) FROM release_batches").fetchone()[0]
            )
            by_language: dict[str, list[BatchRequest]] = {}
            for w in wanted:
                if w.row_message_id not in taken:
                    by_language.setdefault(w.language, []).append(w)
            for language, rows in by_language.items():
                for start in range(0, len(rows), size):
                    number += 1
                    batch_id = new_message_id()
                    conn.execute(
                        "INSERT INTO release_batches (message_id, language, number, created_at)"
                        " VALUES (?, ?, ?, ?)",
                        (batch_id, language, number, timestamp(now)),
                    )
                    conn.executemany(
                        "INSERT INTO release_batch_members (batch, row_message_id, email)"
                        " VALUES (?, ?, ?)",
                        [(batch_id, r.row_message_id, r.email) for r in rows[start : start + size]],
                    )
            owners = set(self._batch_of(conn, mids).values())
        return [b for b in self.batches() if b.message_id in owners]

    @staticmethod
    def _batch_of(conn: sqlite3.Connection, row_mids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(row_mids), 500):
            chunk = row_mids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for mid, batch in conn.execute(
                "SELECT row_message_id, batch FROM release_batch_members"
                f" WHERE row_message_id IN ({marks})",
                tuple(chunk),
            ):
                out[str(mid)] = str(batch)
        return out

    def batches(self) -> list[Batch]:
        members: dict[str, list[BatchMember]] = {}
        for batch, mid, email in self._conn.execute(
            "SELECT batch, row_message_id, email FROM release_batch_members ORDER BY rowid"
        ):
            members.setdefault(str(batch), []).append(BatchMember(str(email), str(mid)))
        return [
            Batch(str(mid), str(lang), int(num), tuple(members.get(str(mid), ())))
            for mid, lang, num in self._conn.execute(
                "SELECT message_id, language, number FROM release_batches ORDER BY number"
            )
        ]

    def batch_by_row(self) -> dict[str, Batch]:
        """Journal row Message-ID -> its batch."""
        return {m.row_message_id: b for b in self.batches() for m in b.members}

    # --- journal rows of the release -------------------------------------------------------

    def release_claims(self, owner: str, now: dt.datetime) -> int:
        """claimed -> pending for the release rows *owner* still holds (after Ctrl-C)."""
        with transaction(self._conn) as conn:
            cur = conn.execute(
                "UPDATE messages SET state = 'pending', updated_at = ?"
                " WHERE state = 'claimed' AND owner = ? AND campaign IN (?, ?)",
                (timestamp(now), owner, Campaign.RELEASE.value, Campaign.PREBRIEF.value),
            )
            return cur.rowcount

    def in_doubt_mine(self, owner: str, now: dt.datetime, reason: str) -> int:
        """transmitting -> in_doubt for *owner*'s rows (a run interrupted mid-transmission)."""
        with transaction(self._conn) as conn:
            cur = conn.execute(
                "UPDATE messages SET state = 'in_doubt', last_error = ?, updated_at = ?"
                " WHERE state = 'transmitting' AND owner = ? AND campaign IN (?, ?)",
                (reason, timestamp(now), owner, Campaign.RELEASE.value, Campaign.PREBRIEF.value),
            )
            return cur.rowcount
