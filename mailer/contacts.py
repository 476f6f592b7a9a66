"""contacts.csv: the media list, read into :class:`~mailer.models.Contact` values.

The file
--------
* Line 1 is the header row; every following row is one journalist.
* ``email`` is the only required column (``E-mail`` and ``Email`` are accepted as well).
* ``name`` goes into the To: header, so control characters in it are an error.
* ``outlet``: the journalist's paper, channel or agency.
* ``language``: ``fi``, ``sv`` or ``en``. ``suomi``/``finnish``, ``svenska``/``ruotsi``/``swedish``,
  ``english``/``englanti`` and tags such as ``sv-FI`` are understood. An empty cell means the
  default language; anything else is a warning and the default language.
* ``tags``: several tags in one cell, separated by ``|``, ``,`` or ``;`` (``local|trusted``,
  ``"local, trusted"``). Tags are trimmed and lower-cased; selecting by tag ignores case. A
  cell containing the file's own delimiter must be quoted (Excel does that); ``|`` never needs it.
* Every other column is available to templates as text (``contact.<column>``).

Column names are trimmed and lower-cased, and runs of spaces and ``-`` become ``_``
(``First Name`` -> ``first_name``); the result must be a Python identifier. Header cells left
empty are ignored. Cells are trimmed and NFC-normalised.

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

import codecs
import csv
import dataclasses
import difflib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from mailer.addresses import AddressError, clean_display_name, has_control, normalize_address
from mailer.config import LANGUAGES
from mailer.errors import ContactsError
from mailer.models import Contact, Problem, Severity

_CP1252_WARNING = "not UTF-8; read as Windows-1252 (Excel). Save as 'CSV UTF-8' to avoid this"
_SAVE_AS = "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited)'"

_UNCLOSED = 'a quoted cell has no closing quote (") and runs to the end of the file'
_STRAY_QUOTE = (
    'a quote (") in the middle of a quoted cell is not doubled (""); check how the row was read'
)
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_EMAIL_NAMES = ("email", "e_mail")
# Headers that probably hold the addresses under another name (normalised form).
_EMAIL_LOOKALIKES = (
    "sähköposti",
    "sahkoposti",
    "sähköpostiosoite",
    "sahkopostiosoite",
    "s_posti",
    "sposti",
    "e_posti",
    "e_post",
    "epost",
    "e_postadress",
    "mejl",
    "mail",
    "mailaddress",
    "mail_address",
    "email_address",
    "emailaddress",
    "e_mail_address",
    "mail_adress",
    "email_adress",
)
_LANGUAGE_ALIASES = {
    "suomi": "fi",
    "finnish": "fi",
    "finska": "fi",
    "svenska": "sv",
    "ruotsi": "sv",
    "swedish": "sv",
    "english": "en",
    "englanti": "en",
    "engelska": "en",
}
_TAG_SEPARATORS = re.compile(r"[|,;]")
_HEADER_SPACES = re.compile(r"[\s\-]+")
# A cell a spreadsheet would run: "=..." always; "+", "-" or "@" only with a function call or a
# DDE pipe in it, so phone numbers (+358 (0)40 ...) and handles (@toimitus) pass.
_FORMULA_CALL = re.compile(r"\w\(|\|")  # SUM(, or the DDE pipe of +cmd|' /C calc'!A0
_FORMULA_START = re.compile(r"^[=+\-@]", re.MULTILINE)
# C0 controls other than tab/CR/LF, DEL and C1 controls: a text file has few of them.
_BINARY_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ContactBook:
    """contacts.csv as read: the valid contacts and everything found wrong with the rest."""

    path: Path
    contacts: tuple[Contact, ...]  # only valid rows, in file order
    problems: tuple[Problem, ...]  # errors and warnings, in line order
    delimiter: str
    encoding: str  # "utf-8", "utf-8-sig" or "cp1252"
    columns: tuple[str, ...]  # normalised column names

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)


def load_contacts(path: Path, *, default_language: str, label: str | None = None) -> ContactBook:
    """Read *path*; *label* names the file in messages (default: the path as given)."""
    name = str(path) if label is None else label
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContactsError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ContactsError(f"{name}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise ContactsError(f"{name}: cannot read: {exc.strerror or exc}") from None
    book = parse_contacts(data, default_language=default_language, label=name)
    return dataclasses.replace(book, path=path)


def parse_contacts(data: bytes, *, default_language: str, label: str) -> ContactBook:
    """Parse the bytes of a contacts file (``path`` of the result is ``Path(label)``)."""
    if default_language not in LANGUAGES:
        raise ValueError(f"default_language must be one of {LANGUAGES}, got {default_language!r}")
    text, encoding = _decode(data, label)
    problems: list[Problem] = []
    if encoding == "cp1252":
        problems.append(Problem(label, 0, Severity.WARNING, _CP1252_WARNING))
    # Physical lines with their endings, split on CRLF, LF and CR alone (old Mac Excel).
    lines = list(io.StringIO(text, newline=""))
    delimiter = _detect_delimiter(lines[0])
    records = list(_records(lines, delimiter, label))
    unclosed = _unclosed_quote_line(lines, records[-1][0], delimiter)
    if unclosed == 1:
        raise ContactsError(f"{label}:1: {_UNCLOSED}")
    header = _Header.parse(records[0][1], records[1:], delimiter, label)
    problems.extend(header.problems)
    rows = _Rows(label, header, delimiter, default_language, problems)
    ends = [start - 1 for start, _ in records[1:]] + [len(lines)]
    for (line, cells), end in zip(records[1:], ends[1:], strict=True):
        if line == unclosed:
            rows.error(line, _UNCLOSED)
            continue
        if _stray_quote(lines[line - 1 : end], delimiter):
            rows.warn(line, _STRAY_QUOTE)
        rows.add(line, cells)
    if len(records) == 1:
        problems.append(Problem(label, 0, Severity.WARNING, "no contacts below the header row"))
    return ContactBook(
        path=Path(label),
        contacts=tuple(rows.contacts),
        problems=tuple(sorted(problems, key=lambda p: p.line)),
        delimiter=delimiter,
        encoding=encoding,
        columns=header.columns,
    )


def select_contacts(
    contacts: Iterable[Contact], *, tag: str | None = None, only: str | None = None
) -> tuple[Contact, ...]:
    """The contacts that have *tag* (ignoring case) and, with *only*, that one address."""
    wanted_tag: str | None = None
    if tag is not None:
        wanted_tag = _clean_tag(tag)
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


# --- reading the bytes --------------------------------------------------------------------------


def _line_of(data: bytes, offset: int) -> int:
    """The physical line (1-based) of byte *offset*, counting CRLF, LF and CR line breaks."""
    before = data[:offset]
    return 1 + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")


def _decode(data: bytes, label: str) -> tuple[str, str]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ContactsError(f"{label}: saved as UTF-16 ('Unicode Text'), not as CSV; {_SAVE_AS}")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ContactsError(f"{label}: an Excel workbook, not a CSV file; {_SAVE_AS}")
    if b"\x00" in data:
        raise ContactsError(f"{label}: not a text file (it contains NUL bytes)")
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8-sig", data[len(codecs.BOM_UTF8) :]
    else:
        encoding, body = "utf-8", data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _line_of(body, exc.start)
        byte = body[exc.start]
        if encoding == "utf-8-sig" or re.search(rb"\xc3[\x80-\xbf]", body):
            raise ContactsError(
                f"{label}:{line}: mixes UTF-8 with another encoding (byte 0x{byte:02x} is not "
                f"UTF-8); {_SAVE_AS}"
            ) from None
        try:
            text, encoding = body.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc1252:
            line = _line_of(body, exc1252.start)
            raise ContactsError(
                f"{label}:{line}: neither UTF-8 nor Windows-1252 text "
                f"(byte 0x{body[exc1252.start]:02x}); is it really a CSV file?"
            ) from None
    if not text.strip():
        raise ContactsError(f"{label}: empty file")
    odd = len(_BINARY_CHAR.findall(text))
    if odd >= 8 and odd * 10 > len(text):
        raise ContactsError(
            f"{label}: not a text file ({odd} control characters); is it really a CSV file?"
        )
    return text, encoding


def _detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first on a tie: ","
    return best if counts[best] else ","


def _records(lines: list[str], delimiter: str, label: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the physical line it starts on (empty lines give ``[]``)."""
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True, strict=False)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                limit = csv.field_size_limit()
                raise ContactsError(
                    f"{label}:{start}: a cell is longer than {limit} characters "
                    '(a quote (") without its closing quote?)'
                ) from None
            raise ContactsError(f"{label}:{start}: cannot read the row: {exc}") from None
        yield start, cells
        start = reader.line_num + 1


def _stray_quote(record: list[str], delimiter: str) -> bool:
    """True when a quote breaks the CSV rules (``"Bo" Berg",...``): the lenient reader, like
    Excel, reads on (``Bo Berg"``), which may not be what the file meant."""
    if not any('"' in line for line in record):
        return False
    strict = csv.reader(record, delimiter=delimiter, skipinitialspace=True, strict=True)
    try:
        for _ in strict:
            pass
    except csv.Error:
        return True
    return False


def _unclosed_quote_line(lines: list[str], last_start: int, delimiter: str) -> int | None:
    """*last_start* if the last record ends inside a quoted cell (csv takes it silently)."""
    strict = csv.reader(
        lines[last_start - 1 :], delimiter=delimiter, skipinitialspace=True, strict=True
    )
    try:
        for _ in strict:
            pass
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return last_start
    return None


# --- the header ---------------------------------------------------------------------------------


def _excel_column(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA": how a spreadsheet user finds the column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _normalise_column(raw: str) -> str:
    name = _HEADER_SPACES.sub("_", raw.strip().lower())
    return "email" if name in _EMAIL_NAMES else name


@dataclass(frozen=True)
class _Header:
    columns: tuple[str, ...]  # the usable columns, normalised
    positions: tuple[int, ...]  # cell index of each column
    unnamed: tuple[int, ...]  # cell indexes of header cells left empty
    width: int  # number of header cells
    problems: tuple[Problem, ...]

    @classmethod
    def parse(
        cls,
        cells: list[str],
        rows: list[tuple[int, list[str]]],
        delimiter: str,
        label: str,
    ) -> _Header:
        def fail(message: str) -> ContactsError:
            return ContactsError(f"{label}:1: {message}")

        example = delimiter.join(("email", "name", "outlet", "language", "tags"))
        if not any(cell.strip() for cell in cells):
            raise fail(f"no header row (line 1 is empty); line 1 must name the columns: {example}")
        shown = [_short(cell.strip()) for cell in cells]  # as the user sees them, in messages
        for index, cell in enumerate(cells):
            if "@" in cell:
                raise fail(
                    f"no header row (line 1 holds {shown[index]}); add a first line that "
                    f"names the columns: {example}"
                )
        columns: list[str] = []
        positions: list[int] = []
        unnamed: list[int] = []
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(cells):
            name = _normalise_column(raw)
            if not name:
                unnamed.append(index)
                continue
            if name in seen:
                first = seen[name]
                raise fail(
                    f"duplicate column {_short(name)}: {_excel_column(first)} ({shown[first]}) "
                    f"and {_excel_column(index)} ({shown[index]})"
                )
            seen[name] = index
            if not name.isidentifier():
                suggestion = re.sub(r"[\W_]+", "_", name).strip("_")
                hint = f"; rename it, e.g. to {_short(suggestion)}"
                problems.append(
                    Problem(
                        label,
                        1,
                        Severity.ERROR,
                        f"column {_excel_column(index)}: the column name {shown[index]} cannot be "
                        "used in templates (letters, digits and _ only, not starting with a "
                        f"digit){hint if suggestion.isidentifier() else ''}",
                    )
                )
                continue
            columns.append(name)
            positions.append(index)
        if "email" not in seen:
            raise fail(_no_email_message(cells, shown, rows))
        return cls(tuple(columns), tuple(positions), tuple(unnamed), len(cells), tuple(problems))


def _no_email_message(cells: list[str], shown: list[str], rows: list[tuple[int, list[str]]]) -> str:
    candidate: int | None = None
    for index, cell in enumerate(cells):
        name = _normalise_column(cell)
        if (
            "mail" in name
            or name.startswith(("sähköposti", "sahkoposti"))
            or difflib.get_close_matches(name, _EMAIL_LOOKALIKES, n=1, cutoff=0.8)
        ):
            candidate = index
            break
    if candidate is None:  # a column whose first filled-in cell looks like an address
        for _, row in rows:
            if any(cell.strip() for cell in row):
                candidate = next((i for i, c in enumerate(row[: len(cells)]) if "@" in c), None)
                break
    if candidate is not None:
        return (
            f"no 'email' column; if column {shown[candidate]} holds the addresses, "
            "rename it to 'email'"
        )
    listed = ", ".join(name for cell, name in zip(cells, shown, strict=True) if cell.strip())
    return f"no 'email' column (the header row has {listed}); the addresses must be in 'email'"


# --- the rows -----------------------------------------------------------------------------------


def _clean_tag(tag: str) -> str:
    return " ".join(tag.split()).lower()


def _split_tags(cell: str) -> tuple[str, ...]:
    if not cell:
        return ()
    tags = (_clean_tag(part) for part in _TAG_SEPARATORS.split(cell))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _language(cell: str, default: str) -> tuple[str, str | None]:
    """The language code for *cell*, and a warning when it is not understood."""
    value = cell.lower()
    if not value:
        return default, None
    value = _LANGUAGE_ALIASES.get(value, value)
    if value in LANGUAGES:
        return value, None
    primary = re.split(r"[-_]", value, maxsplit=1)[0]  # "sv-FI", "fi_FI"
    if primary in LANGUAGES:
        return primary, None
    return default, f"unknown language {_short(cell)}, using {default!r}"


def _control_message(column: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        return f"column {column!r}: line break inside the cell (cells must be a single line)"
    char = next(ch for ch in value if has_control(ch))
    return f"column {column!r}: control character U+{ord(char):04X} in the cell"


def _short(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


class _Rows:
    """Turns data rows into contacts and problems, in file order."""

    def __init__(
        self,
        label: str,
        header: _Header,
        delimiter: str,
        default_language: str,
        problems: list[Problem],
    ) -> None:
        self.label = label
        self.header = header
        self.delimiter = delimiter
        self.default_language = default_language
        self.problems = problems
        self.contacts: list[Contact] = []
        self.first_line: dict[str, int] = {}  # address key -> line of its first row

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.label, line, Severity.ERROR, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.label, line, Severity.WARNING, message))

    def add(self, line: int, cells: list[str]) -> None:
        header = self.header
        if not "".join(cells).strip():
            self.warn(line, "empty row skipped")
            return
        if any(cell.strip() for cell in cells[header.width :]):
            self.error(
                line,
                f"{len(cells)} cells but the header row has {header.width} columns "
                f"(a {_DELIMITER_NAMES[self.delimiter]} inside a cell that is not quoted?)",
            )
            return
        cells = cells + [""] * (header.width - len(cells))
        for index in header.unnamed:
            if cells[index].strip():
                self.warn(
                    line,
                    f"column {_excel_column(index)} has no name in the header row; "
                    f"its value {_short(cells[index].strip())} is ignored",
                )
        raws = [cells[index] for index in header.positions]
        failed: set[str] = set()
        if has_control("".join(raws)):
            for column, raw in zip(header.columns, raws, strict=True):
                if has_control(raw):
                    self.error(line, _control_message(column, raw))
                    failed.add(column)
        values = [raw.strip() for raw in raws]
        joined = "\n".join(values)  # a line break keeps cells from combining with each other
        if not unicodedata.is_normalized("NFC", joined):
            values = [unicodedata.normalize("NFC", value) for value in values]
        fields = dict(zip(header.columns, values, strict=True))
        if _FORMULA_START.search(joined):
            for column, value in fields.items():
                if value.startswith("=") or (
                    value.startswith(("+", "-", "@")) and _FORMULA_CALL.search(value)
                ):
                    self.warn(
                        line, f"column {column!r}: {_short(value)} looks like a spreadsheet formula"
                    )
        if "email" not in failed:
            try:
                address = normalize_address(fields["email"])
            except AddressError as exc:
                self.error(line, str(exc))
                return
            # Registered even when another cell is wrong: the address is in the file twice.
            key = address.lower()
            if key in self.first_line:
                self.error(line, f"duplicate of line {self.first_line[key]} ({address})")
                return
            self.first_line[key] = line
        if failed:
            return
        name = clean_display_name(fields.get("name", ""))  # control characters checked above
        language, warning = _language(fields.get("language", ""), self.default_language)
        if warning:
            self.warn(line, warning)
        fields["email"] = address
        if "name" in fields:
            fields["name"] = name
        if "language" in fields:
            fields["language"] = language
        self.contacts.append(
            Contact(
                email=address,
                name=name,
                outlet=fields.get("outlet", ""),
                language=language,
                tags=_split_tags(fields.get("tags", "")),
                line=line,
                fields=MappingProxyType(fields),
            )
        )
