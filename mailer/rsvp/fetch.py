"""The two entry points of ``rsvp fetch`` and ``rsvp import``: read, ingest, remember."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailer.config import ImapConfig
from mailer.rsvp.apply import IngestReport, Progress, ingest
from mailer.rsvp.budget import ReadLimits
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
    limits: ReadLimits | None = None,
) -> FetchReport:
    """Fetch what is new in ``cfg.folder``, record it, save the sync state, then move if asked.

    The sync state moves past each group of messages as soon as the group is recorded, so a
    run that is stopped half-way never downloads and reads those messages again; a message
    that cannot be read in time is recorded too (for review), so nothing holds up later runs.
    """
    limits = limits or ReadLimits()
    rsvps = store.rsvps
    state = rsvps.imap_state(account_label(cfg), cfg.folder)
    result = fetch_new(
        cfg, password=password, state=state, progress=progress, max_bytes=limits.max_message_bytes
    )
    uid_of = {m.source: m.uid for m in result.messages}
    base = state.last_uid if state is not None and not result.reset else 0

    def written(sources: Sequence[str]) -> None:
        last = max([base, *(uid_of[s] for s in sources if s in uid_of)])
        rsvps.save_imap_state(dataclasses.replace(result.state, last_uid=last), now)

    report = ingest(
        [(m.source, m.raw) for m in result.messages],
        store=store,
        now=now,
        speakers=speakers,
        limits=limits,
        sizes={m.source: m.size for m in result.messages if m.headers_only},
        written=written,
    )
    rsvps.save_imap_state(result.state, now)  # every message was recorded
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
    limits: ReadLimits | None = None,
) -> IngestReport:
    """``rsvp import``: .eml files, folders of them, mbox files and Maildir folders.

    A message over ``[rsvp] max_message_bytes`` is never read whole: only its start, for its
    header block, and it goes to review as "too large to read" (as in ``rsvp fetch``).
    """
    limits = limits or ReadLimits()
    sizes: dict[str, int] = {}  # the real sizes of the messages read only in part
    return ingest(
        read_sources(paths, max_message_bytes=limits.max_message_bytes, sizes=sizes),
        store=store,
        now=now,
        progress=progress,
        speakers=speakers,
        limits=limits,
        sizes=sizes,
    )
