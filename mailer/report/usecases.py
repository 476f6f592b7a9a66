"""``mailer report`` and ``mailer rsvp doorlist``: read the journal, write the files (0600).

Both hold names and notes of the journalists, so every file is written readable by its owner
only, atomically (:func:`mailer.privatefile.write_private`).
"""

from __future__ import annotations

import datetime as dt
import enum
import webbrowser
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailer.config import Config
from mailer.contacts import open_store, project_for
from mailer.errors import UsageError
from mailer.privatefile import write_private
from mailer.report.collect import build_report, photographers
from mailer.report.doorlist import build_doorlist, csv_text
from mailer.report.model import DoorList, Report
from mailer.report.pdf import doorlist_pdf
from mailer.report.render import doorlist_html, report_html
from mailer.rsvp import load_rows, load_summary, speakers_of, with_speakers

REPORT_NAME = "report.html"
DOORLIST_NAME = "doorlist"


class DoorFormat(enum.StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"


@dataclass(frozen=True)
class ReportWritten:
    path: Path
    report: Report
    opened: bool  # --open: a browser was started


@dataclass(frozen=True)
class DoorListWritten:
    paths: tuple[Path, ...]  # in the order html, pdf, csv
    door: DoorList


def write_report(
    config: Config, *, output: Path | None, now: dt.datetime, open_it: bool = False
) -> ReportWritten:
    """Write the report (default ``report.html`` in the project folder); *open_it*: open it in
    the default browser (``$BROWSER`` if set)."""
    project = project_for(config)
    with open_store(config, read_only=True) as store:
        report = build_report(config, store, project.book.contacts, now=now)
    path = output if output is not None else config.path.parent / REPORT_NAME
    write_private(path, report_html(report).encode("utf-8"), what="the report")
    opened = webbrowser.open(path.resolve().as_uri()) if open_it else False
    return ReportWritten(path, report, opened)


def doorlist_paths(
    config: Config, output: Path | None, formats: Sequence[DoorFormat]
) -> tuple[tuple[DoorFormat, Path], ...]:
    """Which files to write. Without *formats*: the one format *output*'s suffix names, or all
    three next to each other (``doorlist.html``, ``.pdf``, ``.csv`` in the project folder);
    with *formats*: those, named after *output*'s stem."""
    chosen = list(dict.fromkeys(formats))
    base = output if output is not None else config.path.parent / DOORLIST_NAME
    suffix = base.suffix.lower().lstrip(".")
    if not chosen:
        if output is not None and suffix:
            if suffix not in DoorFormat.__members__.values():
                raise UsageError(
                    f"--output {output}: end the name with .html, .pdf or .csv "
                    "(or choose with --format)"
                )
            return ((DoorFormat(suffix), output),)
        chosen = list(DoorFormat)
    stem = base.with_suffix("") if suffix in DoorFormat.__members__.values() else base
    return tuple((f, stem.with_name(f"{stem.name}.{f.value}")) for f in chosen)


def write_doorlist(
    config: Config,
    *,
    output: Path | None,
    formats: Sequence[DoorFormat] = (),
    now: dt.datetime,
) -> DoorListWritten:
    """``rsvp doorlist``: the yes answers by surname (and the maybes), as HTML, PDF and CSV."""
    targets = doorlist_paths(config, output, formats)
    project = project_for(config)
    contacts = project.book.contacts
    with open_store(config, read_only=True) as store:
        rows = load_rows(store, contacts)
        summary = load_summary(store, contacts, config)
        with_photographer = photographers(store, rows)
    door = build_doorlist(
        config,
        with_speakers(rows, speakers_of(config)),
        summary,
        contacts,
        photographers=with_photographer,
        now=now,
    )
    for kind, path in targets:
        if kind is DoorFormat.HTML:
            data = doorlist_html(door).encode("utf-8")
        elif kind is DoorFormat.PDF:
            data = doorlist_pdf(door)
        else:
            data = csv_text(door).encode("utf-8")
        write_private(path, data, what="the door list")
    return DoorListWritten(tuple(p for _, p in targets), door)
