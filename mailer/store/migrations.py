"""Every schema change of the journal, in the one order in which they are applied.

:func:`mailer.store.db.migrate` applies the ones a journal lacks, in list order, and records each
number in ``schema_migrations``. A migration is never edited once released: a change is a new
entry at the end of the list, numbered after the last one (the next is 32).

The numbers are those the journals in use already record. They were given per area (journal 1-9,
release 10-19, rsvp 20-29, smtp 30-39) when the four areas kept their own migrations; the list
keeps them so that no journal is migrated twice, and keeps them in ascending order, which is the
order a fresh journal has always been created in. A journal created before migrations 10 and 20
existed has 1 and 30; it gets 10 and 20 after 30, which is safe because each of the four creates
only its own tables (``tests/test_store_migrations.py`` checks that every upgrade path ends with
the schema of a fresh journal).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["MIGRATIONS", "Migration"]


class Migration(NamedTuple):
    number: int
    description: str
    sql: str  # statements separated by ";" (no triggers or string literals holding one)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the journal: messages (one row per campaign, round and contact) and meta",
        """
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
    ),
    Migration(
        10,
        "the release: schedules, the run log, Bcc batches and their members",
        """
    CREATE TABLE release_schedules (
        id INTEGER PRIMARY KEY,
        embargo_utc TEXT NOT NULL,
        zone TEXT NOT NULL,
        tag TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL,
        grace_minutes INTEGER NOT NULL,
        state TEXT NOT NULL,
        checked INTEGER NOT NULL DEFAULT 0,
        fingerprint TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE release_runs (
        id INTEGER PRIMARY KEY,
        schedule_id INTEGER,
        command TEXT NOT NULL,
        owner TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        decision TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL DEFAULT 'running',
        ok INTEGER
    );
    CREATE TABLE release_batches (
        message_id TEXT PRIMARY KEY,
        language TEXT NOT NULL,
        number INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE release_batch_members (
        batch TEXT NOT NULL REFERENCES release_batches (message_id),
        row_message_id TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL
    );
    CREATE INDEX release_batch_members_batch ON release_batch_members (batch);
    """,
    ),
    Migration(
        20,
        "RSVPs: processed messages, IMAP state, answers, review items, bounces, suppressions",
        """
    CREATE TABLE rsvp_messages (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
        kind TEXT NOT NULL, outcome TEXT NOT NULL DEFAULT '', email TEXT COLLATE NOCASE,
        message_id TEXT NOT NULL DEFAULT '', sender TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '', details TEXT NOT NULL DEFAULT '{}',
        received_at TEXT, processed_at TEXT NOT NULL
    );
    CREATE INDEX rsvp_messages_email ON rsvp_messages (email, kind);
    CREATE TABLE imap_state (
        account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (account, folder)
    );
    CREATE TABLE rsvp_answers (
        email TEXT PRIMARY KEY COLLATE NOCASE,
        status TEXT NOT NULL CHECK (status IN ('yes', 'no', 'maybe')),
        guests INTEGER NOT NULL DEFAULT 0, lunch INTEGER, interview TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL CHECK (source IN ('calendar', 'text', 'manual')),
        stamp TEXT NOT NULL, sequence INTEGER, from_address TEXT NOT NULL DEFAULT '',
        message_key TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL
    );
    CREATE TABLE rsvp_review (
        id INTEGER PRIMARY KEY, message_key TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL,
        email TEXT NOT NULL DEFAULT '' COLLATE NOCASE, sender TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL, lines TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL,
        resolved_at TEXT, resolution TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX rsvp_review_open ON rsvp_review (resolved_at);
    CREATE TABLE rsvp_bounces (
        id INTEGER PRIMARY KEY, message_key TEXT NOT NULL, email TEXT NOT NULL COLLATE NOCASE,
        recipient TEXT NOT NULL, status TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL DEFAULT '', diagnostic TEXT NOT NULL DEFAULT '',
        permanent INTEGER NOT NULL, received_at TEXT, created_at TEXT NOT NULL,
        UNIQUE (message_key, recipient)
    );
    CREATE INDEX rsvp_bounces_email ON rsvp_bounces (email);
    CREATE TABLE suppressions (
        email TEXT PRIMARY KEY COLLATE NOCASE, reason TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'manual', created_at TEXT NOT NULL
    )
    """,
    ),
    Migration(
        30,
        "the SMTP log of submissions, for the daily cap",
        """
    CREATE TABLE smtp_submissions (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL,
        recipients INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX smtp_submissions_at ON smtp_submissions (at);
    """,
    ),
    Migration(
        31,
        "the release's pre-flight: each schedule's last check (send-due before the embargo)",
        """
    CREATE TABLE release_checks (
        schedule_id INTEGER PRIMARY KEY,
        checked_at TEXT NOT NULL,
        command TEXT NOT NULL,
        ok INTEGER NOT NULL,
        result TEXT NOT NULL,
        failing_since TEXT
    );
    """,
    ),
    Migration(
        42,
        "the release's clock checks: what the machine and a second source said before sending",
        """
    CREATE TABLE release_clock_checks (
        id INTEGER PRIMARY KEY,
        schedule_id INTEGER,
        checked_at TEXT NOT NULL,
        command TEXT NOT NULL,
        verdict TEXT NOT NULL,
        refused INTEGER NOT NULL,
        overridden INTEGER NOT NULL,
        offset_s REAL,
        uncertainty_s REAL,
        source TEXT NOT NULL,
        sync TEXT NOT NULL,
        line TEXT NOT NULL
    );
    CREATE INDEX release_clock_checks_schedule ON release_clock_checks (schedule_id, id);
    """,
    ),
    Migration(
        45,
        "the relay that took each message (primary or fallback; outbox), for [smtp.fallback]",
        """
    ALTER TABLE messages ADD COLUMN relay TEXT NOT NULL DEFAULT ''
    """,
    ),
)
