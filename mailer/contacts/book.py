"""contacts.csv: the media list, read into :class:`~mailer.models.Contact` values.

The file
--------
* Line 1 is the header row; every following row is one journalist. Which column holds which
  field is decided by :mod:`mailer.contacts.headers` (``Sähköposti``, ``E-mail Address``,
  ``Förnamn``, ... and ``[contacts.columns]`` in config.toml).
* ``email`` is the only required field.
* ``name`` goes into the To: header, so control characters in it are an error. ``first_name``
  and ``last_name`` come from their own cells, or else from ``name``
  (:mod:`mailer.contacts.names`); ``name`` is made from them when it is missing.
* ``outlet``: the journalist's paper, channel or agency.
* ``language``: ``fi``, ``sv`` or ``en``. ``suomi``/``finnish``, ``svenska``/``ruotsi``/``swedish``,
  ``english``/``englanti`` and tags such as ``sv-FI`` are understood. An empty cell means the
  default language; anything else is an error.
* ``tags``: several tags in one cell, separated by ``|``, ``,``, ``;`` or ``:::``
  (``local|trusted``, ``"local, trusted"``). Tags are trimmed and lower-cased; selecting by tag
  ignores case. A cell containing the file's own delimiter must be quoted (Excel does that);
  ``|`` never needs it.
* Every other column is available to templates as text (``contact.<name>``, the name made from
  the header by :func:`mailer.contacts.headers.identifier`).

Header cells left empty are ignored. Cells are trimmed and NFC-normalised.

The delimiter is the most frequent of ``,``, ``;`` and tab on the header line (``,`` on a tie).
The file is read as UTF-8, with or without a byte-order mark; if it is not UTF-8 it is read as
Windows-1252 (what Excel's plain "CSV" writes) with a warning. UTF-16, Excel workbooks, files that
mix encodings and other binary files are refused.

Problems name the physical line where the row starts (``contacts.csv:14: ...``, the header is
line 1); a quoted cell with a line break makes its row span several lines. Rows with errors are
left out; rows with warnings are kept. Problems with the file as a whole raise
:class:`~mailer.errors.ContactsError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mailer.addresses import AddressError, normalize_address
from mailer.config import LANGUAGES
from mailer.contacts.csvfile import STRAY_QUOTE, UNCLOSED, Record, decode, detect_delimiter, records
from mailer.contacts.headers import Header, MappedColumn, field_notes
from mailer.contacts.rows import Rows, clean_tag
from mailer.errors import ContactsError
from mailer.models import Contact, Problem, Severity

Mode = Literal["keep", "check", "count"]

__all__ = [
    "NO_CHOICE",
    "ColumnChoice",
    "ContactBook",
    "ContactCounts",
    "ContactsReport",
    "check_contacts",
    "count_contacts",
    "load_contacts",
    "parse_contacts",
    "require_valid",
    "select_contacts",
]

_CP1252_WARNING = "not UTF-8; read as Windows-1252 (Excel). Save as 'CSV UTF-8' to avoid this"


@dataclass(frozen=True)
class ContactBook:
    """contacts.csv as read: the valid contacts and everything found wrong with the rest."""

    path: Path
    contacts: tuple[Contact, ...]  # only valid rows, in file order
    problems: tuple[Problem, ...]  # errors and warnings, in line order
    delimiter: str
    encoding: str  # "utf-8", "utf-8-sig" or "cp1252"
    columns: tuple[str, ...]  # the names of the columns in templates: fields and the others
    mapping: tuple[MappedColumn, ...] = ()  # each named column: its header cell and its name
    notes: tuple[str, ...] = ()  # what the fields without a column hold ("outlet: ... empty")

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)


@dataclass(frozen=True)
class ColumnChoice:
    """``[contacts.columns]`` of config.toml: field -> header cell (``""``: no column)."""

    columns: Mapping[str, str]
    label: str  # the config file, as messages name it


NO_CHOICE = ColumnChoice({}, "config.toml")


def load_contacts(
    path: Path,
    *,
    default_language: str,
    label: str | None = None,
    choice: ColumnChoice = NO_CHOICE,
    max_rows: int | None = None,
) -> ContactBook:
    """Read *path*; *label* names the file in messages (default: the path as given). A file of
    more than *max_rows* data rows is refused at the first row over ([contacts] max_contacts)."""
    name = str(path) if label is None else label
    text, encoding = _read_text(path, name)
    book = _book(text, encoding, default_language, name, choice, max_rows)
    return dataclasses.replace(book, path=path)


def parse_contacts(
    data: bytes, *, default_language: str, label: str, choice: ColumnChoice = NO_CHOICE
) -> ContactBook:
    """Parse the bytes of a contacts file (``path`` of the result is ``Path(label)``)."""
    text, encoding = decode(data, label)
    return _book(text, encoding, default_language, label, choice, None)


def _book(
    text: str,
    encoding: str,
    default_language: str,
    label: str,
    choice: ColumnChoice,
    max_rows: int | None,
) -> ContactBook:
    rows, header, delimiter = _parse(
        text, encoding, default_language, label, choice, mode="keep", max_rows=max_rows
    )
    return ContactBook(
        path=Path(label),
        contacts=tuple(rows.contacts),
        problems=tuple(sorted(rows.problems, key=lambda p: p.line)),
        delimiter=delimiter,
        encoding=encoding,
        columns=header.columns,
        mapping=header.mapping,
        notes=field_notes(header, default_language),
    )


@dataclass(frozen=True)
class ContactsReport:
    """``mailer contacts check``: every problem of the file, and how many rows are valid, read
    without keeping a contact in memory (a file of a million rows is checked in one pass)."""

    path: Path
    valid: int
    problems: tuple[Problem, ...]
    delimiter: str
    encoding: str
    mapping: tuple[MappedColumn, ...]
    notes: tuple[str, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)


def check_contacts(
    path: Path,
    *,
    default_language: str,
    label: str | None = None,
    choice: ColumnChoice = NO_CHOICE,
    max_rows: int | None = None,
) -> ContactsReport:
    """Every problem of *path* as :func:`load_contacts` finds them; a file of more than
    *max_rows* rows is read to its end, with a warning that rounds refuse it."""
    name = str(path) if label is None else label
    text, encoding = _read_text(path, name)
    rows, header, delimiter = _parse(text, encoding, default_language, name, choice, mode="check")
    del text
    if max_rows is not None and rows.seen > max_rows:
        rows.warn(
            0,
            f"{rows.seen:,} rows, more than [contacts] max_contacts ({max_rows:,}) in "
            f"{choice.label} allows: the rounds refuse this file",
        )
    return ContactsReport(
        path=path,
        valid=rows.valid,
        problems=tuple(sorted(rows.problems, key=lambda p: p.line)),
        delimiter=delimiter,
        encoding=encoding,
        mapping=header.mapping,
        notes=field_notes(header, default_language),
    )


@dataclass(frozen=True)
class ContactCounts:
    """What ``mailer status`` shows of contacts.csv, without making 100,000 contacts."""

    valid: int
    errors: int
    keys: frozenset[str]  # the address keys (lower case) of the valid contacts


def count_contacts(
    path: Path,
    *,
    default_language: str,
    label: str | None = None,
    choice: ColumnChoice = NO_CHOICE,
) -> ContactCounts:
    """The valid contacts and the errors of *path*, as :func:`load_contacts` finds them."""
    name = str(path) if label is None else label
    text, encoding = _read_text(path, name)
    rows, _, _ = _parse(text, encoding, default_language, name, choice, mode="count")
    errors = sum(1 for p in rows.problems if p.severity is Severity.ERROR)
    return ContactCounts(len(rows.keys), errors, frozenset(rows.keys))


def _read(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ContactsError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ContactsError(f"{name}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise ContactsError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _read_text(path: Path, name: str) -> tuple[str, str]:
    """The text of *path* and its encoding (the bytes are let go on return)."""
    return decode(_read(path, name), name)


def _parse(
    text: str,
    encoding: str,
    default_language: str,
    label: str,
    choice: ColumnChoice,
    *,
    mode: Mode,
    max_rows: int | None = None,
) -> tuple[Rows, Header, str]:
    """The rows of *text*: *mode* "keep" makes the contacts, "check" only counts the valid
    rows (with every problem), "count" only counts them and their errors (mailer status)."""
    if default_language not in LANGUAGES:
        raise ValueError(f"default_language must be one of {LANGUAGES}, got {default_language!r}")
    counting = mode == "count"
    problems: list[Problem] = []
    if encoding == "cp1252":
        problems.append(Problem(label, 0, Severity.WARNING, _CP1252_WARNING))
    delimiter = detect_delimiter(text)
    stream = records(text, delimiter, label)
    first = next(stream)
    if first.unclosed(delimiter):
        raise ContactsError(f"{label}:1: {UNCLOSED}")
    header = Header.parse(
        first.cells,
        _cells(stream),
        delimiter,
        label,
        chosen=choice.columns,
        chosen_label=choice.label,
    )
    rows = Rows(
        label, header, delimiter, default_language, problems, counting=counting, keep=mode == "keep"
    )
    empty = True
    for record in stream:
        empty = False
        rows.seen += 1
        if max_rows is not None and rows.seen > max_rows:
            raise ContactsError(
                f"{label}:{record.line}: more than {max_rows:,} contacts, the limit of "
                f"[contacts] max_contacts in {choice.label} (a press list is hundreds; raise the "
                "limit if this file is right)"
            )
        if record.unclosed(delimiter):
            rows.error(record.line, UNCLOSED)
            continue
        if not counting and record.has_stray_quote(delimiter):
            rows.warn(record.line, STRAY_QUOTE)
        rows.add(record.line, record.cells)
    if empty:
        problems.append(Problem(label, 0, Severity.WARNING, "no contacts below the header row"))
    return rows, header, delimiter


def _cells(stream: Iterator[Record]) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header, read only when the header has no 'email' column (the message
    then names the column whose cells look like addresses)."""
    return ((record.line, record.cells) for record in stream)


def select_contacts(
    contacts: Iterable[Contact], *, tag: str | None = None, only: str | None = None
) -> tuple[Contact, ...]:
    """The contacts that have *tag* (ignoring case) and, with *only*, that one address."""
    wanted_tag: str | None = None
    if tag is not None:
        wanted_tag = clean_tag(tag)
        if not wanted_tag:
            raise ContactsError("the tag to select is empty")
    wanted_key: str | None = None
    if only is not None:
        try:
            wanted_key = normalize_address(only).lower()
        except AddressError as exc:
            raise ContactsError(str(exc)) from None
    return tuple(
        c
        for c in contacts
        if (wanted_tag is None or any(t.lower() == wanted_tag for t in c.tags))
        and (wanted_key is None or c.key == wanted_key)
    )


def require_valid(book: ContactBook) -> tuple[Contact, ...]:
    """The contacts, or :class:`ContactsError` naming the first error if there is any."""
    errors = book.errors
    if errors:
        count = f"{len(errors)} error" + ("s" if len(errors) != 1 else "")
        raise ContactsError(f"{errors[0]} ({count}; run 'mailer contacts check')")
    return book.contacts
