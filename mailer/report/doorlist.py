"""The door list: who is coming, by surname, with a box to tick; as rows and as CSV (pure).

The CSV is for a spreadsheet: one header line and one line per person, sorted like the printed
list, ``;``-separated UTF-8 with a BOM and Excel-safe cells as ``rsvp export`` writes them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Collection, Iterable, Sequence

from mailer.config import Config
from mailer.contacts import split_name
from mailer.models import Contact
from mailer.report.model import DoorList, DoorRow
from mailer.rsvp import RsvpRow, RsvpSummary, safe_cell

CSV_COLUMNS = (
    "surname",
    "first name",
    "outlet",
    "email",
    "answer",
    "party",
    "photographer",
    "lunch",
    "interview",
    "arrived",
)
# Finnish and Swedish alphabetical order: å, ä, ö after z (code point order puts ä before å).
_NORDIC = str.maketrans({"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}"})


def surname_key(row: DoorRow) -> tuple[str, str, str]:
    return (
        row.surname.casefold().translate(_NORDIC),
        row.first_name.casefold().translate(_NORDIC),
        row.email.casefold(),
    )


def door_row(row: RsvpRow, contact: Contact | None, *, photographer: bool) -> DoorRow:
    if contact is not None and (contact.last_name or contact.first_name):
        first, last = contact.first_name, contact.last_name
    else:
        first, last = split_name(row.name)
    if not last and not first:
        last = row.email
    return DoorRow(
        surname=last or first,
        first_name=first if last else "",
        outlet=row.outlet,
        email=row.email,
        party=row.people,
        photographer=photographer,
        lunch=row.lunch,
        interview=row.interview,
    )


def build_doorlist(
    config: Config,
    rows: Sequence[RsvpRow],
    summary: RsvpSummary,
    contacts: Iterable[Contact],
    *,
    photographers: Collection[str],
    now: dt.datetime,
) -> DoorList:
    """*rows* with interview wishes named as the summary names them (``with_speakers``)."""
    book = {c.email.lower(): c for c in contacts}

    def listed(status: str) -> tuple[DoorRow, ...]:
        found = [
            door_row(r, book.get(r.email.lower()), photographer=r.email.lower() in photographers)
            for r in rows
            if r.status.value == status
        ]
        return tuple(sorted(found, key=surname_key))

    zone = config.zone
    return DoorList(
        title=config.event.title,
        start=config.event.start.astimezone(zone),
        location=config.event.location,
        generated=now.astimezone(zone),
        rows=listed("yes"),
        maybe=listed("maybe"),
        expected=summary.expected,
        lunch=summary.lunch,
        lunch_unknown=summary.lunch_unknown,
    )


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def csv_text(door: DoorList) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for answer, rows in (("yes", door.rows), ("maybe", door.maybe)):
        for r in rows:
            text = [r.surname, r.first_name, r.outlet, r.email, answer]
            tail = ["yes" if r.photographer else "", _yes_no(r.lunch), r.interview, ""]
            writer.writerow([*map(safe_cell, text), r.party, *map(safe_cell, tail)])
    return "\ufeff" + buffer.getvalue()
