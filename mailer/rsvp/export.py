"""``rsvp export FILE.csv``: the answers for the caterer and the reception desk, for Excel.

Format, chosen so that a double-click opens it correctly in Finnish (and Swedish) Excel:

- UTF-8 with a byte-order mark: without the BOM Excel reads the file as the ANSI code page and
  "Mäki-Jaakkola" turns into "MÃ¤ki-Jaakkola";
- ``;`` between columns: Excel splits a double-clicked CSV at the list separator of the Windows
  regional settings, which is ``;`` wherever the decimal separator is a comma (fi-FI, sv-FI,
  sv-SE, de-DE...). A ``sep=;`` first line would force it, but Excel then ignores the BOM, so
  it is not written. For English-locale Excel (list separator ``,``) export with
  ``--delimiter ,``, or open the file with Data > From Text/CSV;
- CRLF line ends, every field quoted when needed (a note may contain ``;``, quotes or line
  breaks);
- safe against formula injection (CSV injection, OWASP): a text cell that starts with ``=``,
  ``+``, ``-``, ``@``, a TAB or a CR gets a leading ``'``, so Excel shows it as text instead of
  running it. Reply text is written by outsiders, so every text column is treated this way;
  the numbers (guests) are written by us and left as numbers;
- the file is created readable by its owner only (0600): it holds names, addresses and notes.
  It is written to a temporary file next to it and renamed, so a failed export never leaves
  half a file, and an older export is replaced only when the new one is complete.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from mailer.errors import MailerError
from mailer.privatefile import write_private
from mailer.rsvp.summary import RsvpRow

COLUMNS = (
    "email",
    "name",
    "outlet",
    "language",
    "status",
    "guests",
    "lunch",
    "interview",
    "note",
    "source",
    "answered_at",
    "answered_from",
    "delivery",
    "bounce",
    "suppressed",
)
DELIMITERS = (";", ",", "\t")
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """*value* as Excel must show it: text, never a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _when(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    """Local time that Excel reads as a date ("2027-06-01 14:05")."""
    return "" if moment is None else f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def export_cells(row: RsvpRow, zone: ZoneInfo) -> list[str | int]:
    text = [
        row.email,
        row.name,
        row.outlet,
        row.language,
        row.status.value,
    ]
    rest = [
        _yes_no(row.lunch),
        row.interview,
        row.note,
        row.source,
        _when(row.answered_at, zone),
        row.answered_from,
        row.delivery.value,
        row.bounce,
        _yes_no(row.suppressed),
    ]
    return [*(safe_cell(v) for v in text), row.guests, *(safe_cell(v) for v in rest)]


def csv_text(rows: Sequence[RsvpRow], *, zone: ZoneInfo, delimiter: str = ";") -> str:
    """The whole file as text, BOM included."""
    if delimiter not in DELIMITERS:
        raise MailerError(f"--delimiter: use one of {', '.join(map(repr, DELIMITERS))}")
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
    )
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(export_cells(row, zone))
    return BOM + buffer.getvalue()


def write_export(
    path: Path, rows: Sequence[RsvpRow], *, zone: ZoneInfo, delimiter: str = ";"
) -> int:
    """Write the export to *path* (mode 0600, atomically); return the number of rows."""
    write_private(
        path, csv_text(rows, zone=zone, delimiter=delimiter).encode("utf-8"), what="the export"
    )
    return len(rows)
