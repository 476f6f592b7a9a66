"""contacts.csv, row by row: the header row, and each data row checked and made a contact.

The rules and messages are described in :mod:`mailer.contacts.book`. Values that repeat from row to
row (outlets, languages, tags, first names) are kept once, so that a list of 100,000 contacts
stays small in memory.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from mailer.addresses import AddressError, clean_display_name, has_control, normalize_address
from mailer.config import LANGUAGES
from mailer.errors import ContactsError
from mailer.models import Contact, Fields, Problem, Severity

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
class Header:
    columns: tuple[str, ...]  # the usable columns, normalised
    positions: tuple[int, ...]  # cell index of each column
    unnamed: tuple[int, ...]  # cell indexes of header cells left empty
    width: int  # number of header cells
    problems: tuple[Problem, ...]

    @classmethod
    def parse(
        cls,
        cells: list[str],
        rows: Iterable[tuple[int, list[str]]],
        delimiter: str,
        label: str,
    ) -> Header:
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


def _no_email_message(
    cells: list[str], shown: list[str], rows: Iterable[tuple[int, list[str]]]
) -> str:
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


def clean_tag(tag: str) -> str:
    return " ".join(tag.split()).lower()


def _split_tags(cell: str) -> tuple[str, ...]:
    if not cell:
        return ()
    tags = (clean_tag(part) for part in _TAG_SEPARATORS.split(cell))
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


# An address whose part before the @ is a plain dot-atom needs no more checking than its domain
# (email_validator's own first test); the domains are checked once each.
_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"
_DOT_ATOM = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*\Z")
_SHARED_MAX = 20_000  # distinct cell values kept once (outlets, first names, ...)


class Rows:
    """Turns data rows into contacts and problems, in file order."""

    def __init__(
        self,
        label: str,
        header: Header,
        delimiter: str,
        default_language: str,
        problems: list[Problem],
        *,
        counting: bool = False,
    ) -> None:
        self.label = label
        self.counting = counting  # only count valid rows and errors (mailer status)
        self.keys: list[str] = []  # with counting: the address keys of the valid rows
        self.header = header
        self.delimiter = delimiter
        self.default_language = default_language
        self.problems = problems
        self.contacts: list[Contact] = []
        self.first_line: dict[str, int] = {}  # address key -> line of its first row
        self._index = {name: i for i, name in enumerate(header.columns)}
        self._all_columns = header.positions == tuple(range(header.width))
        self._email = self._index["email"]
        self._name = self._index.get("name")
        self._language = self._index.get("language")
        self._domains: dict[str, str] = {}  # domain as written -> checked ASCII domain
        self._shared: dict[str, str] = {}
        self._tags: dict[str, tuple[str, ...]] = {}
        self._languages: dict[str, tuple[str, str | None]] = {}

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.label, line, Severity.ERROR, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.label, line, Severity.WARNING, message))

    def _address(self, text: str) -> str:
        local, _, domain = text.rpartition("@")
        known = self._domains.get(domain)
        if known is not None and len(text) <= 254 and _DOT_ATOM.match(local):
            return text if known == domain else f"{local}@{known}"
        address = normalize_address(text)
        self._domains[domain] = address.rpartition("@")[2]
        return address

    def add(self, line: int, cells: list[str]) -> None:
        header = self.header
        if not "".join(cells).strip():
            self.warn(line, "empty row skipped")
            return
        if len(cells) > header.width and any(cell.strip() for cell in cells[header.width :]):
            self.error(
                line,
                f"{len(cells)} cells but the header row has {header.width} columns "
                f"(a {_DELIMITER_NAMES[self.delimiter]} inside a cell that is not quoted?)",
            )
            return
        if len(cells) < header.width:
            cells = cells + [""] * (header.width - len(cells))
        for index in () if self.counting else header.unnamed:
            if cells[index].strip():
                self.warn(
                    line,
                    f"column {_excel_column(index)} has no name in the header row; "
                    f"its value {_short(cells[index].strip())} is ignored",
                )
        if not self._all_columns:
            raws = [cells[index] for index in header.positions]
        else:  # the common case: every cell is a named column
            raws = cells if len(cells) == header.width else cells[: header.width]
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
        if not self.counting and _FORMULA_START.search(joined):
            for column, value in zip(header.columns, values, strict=True):
                if value.startswith("=") or (
                    value.startswith(("+", "-", "@")) and _FORMULA_CALL.search(value)
                ):
                    self.warn(
                        line, f"column {column!r}: {_short(value)} looks like a spreadsheet formula"
                    )
        if "email" not in failed:
            try:
                address = self._address(values[self._email])
            except AddressError as exc:
                self.error(line, str(exc))
                return
            # Registered even when another cell is wrong: the address is in the file twice.
            key = address if address.islower() else address.lower()
            first = self.first_line.setdefault(key, line)
            if first != line:
                self.error(line, f"duplicate of line {first} ({address})")
                return
        if failed:
            return
        if self.counting:
            self.keys.append(key)
            return
        self.contacts.append(self._contact(line, address, values))

    def _contact(self, line: int, address: str, values: list[str]) -> Contact:
        shared, at = self._shared, self._email
        keep = shared.setdefault if len(shared) < _SHARED_MAX else shared.get
        values = [address if i == at else keep(value, value) for i, value in enumerate(values)]
        name = ""
        if self._name is not None:
            name = values[self._name]
            if name:
                # Control characters were checked above.
                cleaned = clean_display_name(name)
                name = values[self._name] = cleaned if cleaned != name else name
        language = self.default_language
        if self._language is not None:
            cell = values[self._language]
            found = self._languages.get(cell)
            if found is None:
                found = self._languages[cell] = _language(cell, self.default_language)
            language, warning = found
            if warning:
                self.warn(line, warning)
            values[self._language] = language
        tags: tuple[str, ...] = ()
        if "tags" in self._index:
            cell = values[self._index["tags"]]
            known = self._tags.get(cell)
            if known is None:
                known = _split_tags(cell)
                if len(self._tags) < _SHARED_MAX:
                    self._tags[cell] = known
            tags = known
        outlet = values[self._index["outlet"]] if "outlet" in self._index else ""
        return Contact(
            email=address,
            name=name,
            outlet=outlet,
            language=language,
            tags=tags,
            line=line,
            fields=Fields(self._index, tuple(values)),
        )
