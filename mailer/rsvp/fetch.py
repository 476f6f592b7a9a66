"""The two entry points of ``rsvp fetch`` and ``rsvp import``: read, ingest, remember."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailer.config import ImapConfig
from mailer.rsvp.apply import IngestReport, Progress, ingest
from mailer.rsvp.imap import MoveResult, account_label, fetch_new, move_processed
from mailer.rsvp.sources import read_sources
from mailer.store import ImapState, Store


@dataclass(frozen=True)
class FetchReport:
    fetched: int  # messages read from the server in this run
    reset: bool  # first run, or UIDVALIDITY changed: the whole folder was read again
    state: ImapState  # saved after the messages were recorded
    ingest: IngestReport
    moved: MoveResult | None  # None when no processed_folder is configured
    headers_only: tuple[str, ...]  # messages over the size limit: only their headers were read


def fetch_and_ingest(
    cfg: ImapConfig,
    *,
    password: str,
    store: Store,
    now: dt.datetime,
    progress: Progress | None = None,
    speakers: Sequence[str] = (),
) -> FetchReport:
    """Fetch what is new in ``cfg.folder``, record it, save the sync state, then move if asked."""
    rsvps = store.rsvps
    state = rsvps.imap_state(account_label(cfg), cfg.folder)
    result = fetch_new(cfg, password=password, state=state, progress=progress)
    report = ingest(
        [(m.source, m.raw) for m in result.messages], store=store, now=now, speakers=speakers
    )
    rsvps.save_imap_state(result.state, now)  # only after every message was recorded
    moved = None
    if cfg.processed_folder:
        handled = set(report.handled_sources)
        uids = [m.uid for m in result.messages if m.source in handled]
        moved = move_processed(
            cfg, password=password, uidvalidity=result.state.uidvalidity, uids=uids
        )
    return FetchReport(
        fetched=len(result.messages),
        reset=result.reset,
        state=result.state,
        ingest=report,
        moved=moved,
        headers_only=tuple(m.source for m in result.messages if m.headers_only),
    )


def import_paths(
    paths: Iterable[Path],
    *,
    store: Store,
    now: dt.datetime,
    progress: Progress | None = None,
    speakers: Sequence[str] = (),
) -> IngestReport:
    """``rsvp import``: .eml files, folders of them, mbox files and Maildir folders."""
    return ingest(read_sources(paths), store=store, now=now, progress=progress, speakers=speakers)
