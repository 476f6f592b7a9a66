"""What ``mailer rsvp ...`` and the suppression list commands do, one function per command.

Each takes the loaded config and plain values, opens the journal itself, and returns what the
console shows. The review loop, which asks the officer item by item, is :mod:`.review`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mailer.clock import SystemClock
from mailer.config import Config, imap_password_for
from mailer.contacts import open_store, project_for
from mailer.errors import ConfigError
from mailer.oauth import token_source
from mailer.rsvp.apply import IngestReport, Progress
from mailer.rsvp.budget import ReadLimits
from mailer.rsvp.decisions import ManualAnswer, set_answer, suppress, unsuppress
from mailer.rsvp.export import write_export
from mailer.rsvp.fetch import FetchReport, fetch_and_ingest, import_paths
from mailer.rsvp.summary import (
    RsvpRow,
    RsvpSummary,
    Status,
    load_rows,
    load_summary,
    select_rows,
    speakers_of,
    with_speakers,
)
from mailer.store import Suppression


@dataclass(frozen=True)
class MailboxRead:
    """``rsvp fetch``: what was read, and from which mailbox (``user@host FOLDER``)."""

    report: FetchReport
    mailbox: str


def fetch_replies(
    config: Config, *, now: dt.datetime, progress: Progress | None, interactive: bool
) -> MailboxRead:
    """Read what is new in the [imap] mailbox and record it (*interactive*: the password may
    be asked for on the terminal)."""
    imap = config.imap
    if imap is None:
        raise ConfigError(
            f"{config.path.name}: no [imap] section, so there is no mailbox to read",
            hint="add [imap] host, username and password_env (README: 'Reading the "
            "answers'), or save the replies as files and use 'mailer rsvp import'",
        )
    if imap.auth == "oauth2":
        if not imap.username:
            raise ConfigError(f"{config.path.name}: [imap] username is empty")
        password: str | None = token_source(config, SystemClock()).access_token()
    else:
        password = imap_password_for(config, interactive=interactive)
    if password is None:
        raise ConfigError(f"{config.path.name}: [imap] username is empty")
    with open_store(config) as store:
        report = fetch_and_ingest(
            imap,
            password=password,
            store=store,
            now=now,
            progress=progress,
            speakers=speakers_of(config),
            limits=read_limits(config),
        )
    return MailboxRead(report, f"{imap.username}@{imap.host} {imap.folder}")


def import_replies(
    config: Config, paths: Iterable[Path], *, now: dt.datetime, progress: Progress | None
) -> IngestReport:
    """``rsvp import``: .eml files, folders of them, mbox files and Maildir folders."""
    with open_store(config) as store:
        return import_paths(
            paths,
            store=store,
            now=now,
            progress=progress,
            speakers=speakers_of(config),
            limits=read_limits(config),
        )


def read_limits(config: Config) -> ReadLimits:
    """[rsvp] parse_budget_seconds and max_message_bytes."""
    return ReadLimits(config.rsvp.parse_budget_seconds, config.rsvp.max_message_bytes)


def list_answers(config: Config, *, status: str | None = None) -> tuple[RsvpRow, ...]:
    """A row per invited contact (and per contact answered for), only *status* if given."""
    rows = _rows(config)
    return select_rows(rows, Status(status) if status else None)


def answer_summary(config: Config) -> RsvpSummary:
    project = project_for(config)
    with open_store(config, read_only=True) as store:
        return load_summary(store, project.book.contacts, config)


def record_answer(
    config: Config,
    *,
    email: str,
    status: str,
    now: dt.datetime,
    guests: int | None = None,
    lunch: bool | None = None,
    interview: str = "",
    note: str = "",
) -> ManualAnswer:
    """``rsvp set``: an answer given by phone or in person."""
    project = project_for(config)
    with open_store(config) as store:
        return set_answer(
            store,
            contacts=project.book.contacts,
            email=email,
            status=status,
            now=now,
            guests=guests,
            lunch=lunch,
            interview=interview,
            note=note,
        )


@dataclass(frozen=True)
class Exported:
    path: Path
    rows: int
    delimiter: str


def export_answers(config: Config, path: Path, *, delimiter: str = ";") -> Exported:
    """``rsvp export``: the list as CSV for Excel, written to *path* (mode 0600)."""
    rows = _rows(config)
    count = write_export(path, rows, zone=config.zone, delimiter=delimiter)
    return Exported(path, count, delimiter)


def _rows(config: Config) -> tuple[RsvpRow, ...]:
    """The rows of the list and the export, interview wishes named as the summary names them."""
    project = project_for(config)
    with open_store(config, read_only=True) as store:
        return with_speakers(load_rows(store, project.book.contacts), speakers_of(config))


# --- the suppression list ------------------------------------------------------------------------


@dataclass(frozen=True)
class Suppressed:
    address: str  # as normalised
    added: bool  # False: it was on the list already


def suppress_address(config: Config, email: str, *, reason: str, now: dt.datetime) -> Suppressed:
    """``contacts suppress``: no round sends to *email* any more."""
    with open_store(config) as store:
        address, added = suppress(store, email, reason=reason or "manual", now=now)
    return Suppressed(address, added)


def unsuppress_address(config: Config, email: str) -> str:
    """``contacts unsuppress``: the address as normalised; an error if it was not listed."""
    with open_store(config) as store:
        return unsuppress(store, email)


def suppression_list(config: Config) -> tuple[Suppression, ...]:
    with open_store(config, read_only=True) as store:
        return tuple(store.rsvps.suppressions())
