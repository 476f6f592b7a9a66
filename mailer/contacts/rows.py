"""contacts.csv, row by row: each data row checked and made a contact (the header row is read
by :mod:`mailer.contacts.headers`).

The rules and messages are described in :mod:`mailer.contacts.book`. Values that repeat from row to
row (outlets, languages, tags, first names) are kept once, so that a list of 100,000 contacts
stays small in memory.
"""

from __future__ import annotations

import re
import unicodedata

from mailer.addresses import AddressError, clean_display_name, has_control, normalize_address
from mailer.contacts.headers import Header, excel_column, short
from mailer.contacts.names import full_name, split_name
from mailer.models import Contact, Fields, Problem, Severity

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# Language names (accents dropped, lower case): the codes, ISO 639-2, the names in English,
# Finnish and Swedish, and "in Finnish" ("suomeksi"); "på svenska" is read word by word.
_LANGUAGE_NAMES = {
    **dict.fromkeys(("fi", "fin", "suomi", "suomeksi", "finnish", "finska", "finsk"), "fi"),
    **dict.fromkeys(
        ("sv", "swe", "sve", "svenska", "svensk", "swedish", "ruotsi", "ruotsiksi"), "sv"
    ),
    **dict.fromkeys(
        ("en", "eng", "english", "englanti", "englanniksi", "engelska", "engelsk"), "en"
    ),
}
_LANGUAGE_TAG = re.compile(r"([a-z]{2,3})(?:[-_][a-z0-9]{1,8})+")  # sv-FI, en_GB, fi-FI
_TAG_SEPARATORS = re.compile(r":::|[|,;]")  # Google Contacts: "* myContacts ::: Media"
# A cell a spreadsheet would run: "=..." always; "+", "-" or "@" only with a function call or a
# DDE pipe in it, so phone numbers (+358 (0)40 ...) and handles (@toimitus) pass.
_FORMULA_CALL = re.compile(r"\w\(|\|")  # SUM(, or the DDE pipe of +cmd|' /C calc'!A0
_FORMULA_START = re.compile(r"^[=+\-@]", re.MULTILINE)


# --- the rows -----------------------------------------------------------------------------------


def clean_tag(tag: str) -> str:
    return " ".join(tag.split()).lower()


def _split_tags(cell: str) -> tuple[str, ...]:
    if not cell:
        return ()
    tags = (clean_tag(part) for part in _TAG_SEPARATORS.split(cell))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def language_code(cell: str) -> str | None:
    """The code (fi, sv, en) for a language cell, or None when it names no one language:
    ``FI``, ``sv-FI``, ``en_GB``, ``Suomi``, ``ruotsiksi``, ``English (UK)``, ``På svenska``."""
    decomposed = unicodedata.normalize("NFKD", cell).casefold()
    value = " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())
    code = _LANGUAGE_NAMES.get(value)
    if code is not None:
        return code
    tag = _LANGUAGE_TAG.fullmatch(value)
    if tag is not None:
        return _LANGUAGE_NAMES.get(tag[1])
    found = {_LANGUAGE_NAMES.get(word) for word in re.split(r"[\W_]+", value) if word}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def _language(cell: str, default: str, column: str) -> tuple[str, str | None]:
    """The language code for *cell*, and an error when it is not understood."""
    if not cell:
        return default, None
    code = language_code(cell)
    if code is not None:
        return code, None
    return default, (
        f"column {short(column)}: unknown language {short(cell)}; use fi, sv or en, "
        f"or leave the cell empty for the default ({default})"
    )


def _control_message(column: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        return f"column {column!r}: line break inside the cell (cells must be a single line)"
    char = next(ch for ch in value if has_control(ch))
    return f"column {column!r}: control character U+{ord(char):04X} in the cell"


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
        keep: bool = True,
    ) -> None:
        self.label = label
        self.counting = counting  # only count valid rows and errors (mailer status)
        self.keep = keep  # make the contacts (else only count the valid rows: contacts check)
        self.seen = 0  # data rows read
        self._valid = 0  # valid rows, when not kept
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
        self._first = self._index.get("first_name")
        self._last = self._index.get("last_name")
        self._language = self._index.get("language")
        self._shown = {m.name: m.header for m in header.mapping}  # in messages: the header cell
        self._domains: dict[str, str] = {}  # domain as written -> checked ASCII domain
        self._shared: dict[str, str] = {}
        self._tags: dict[str, tuple[str, ...]] = {}
        self._languages: dict[str, tuple[str, str | None]] = {}

    @property
    def valid(self) -> int:
        """The valid rows so far."""
        return len(self.contacts) if self.keep else self._valid

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
                    f"column {excel_column(index)} has no name in the header row; "
                    f"its value {short(cells[index].strip())} is ignored",
                )
        if not self._all_columns:
            raws = [cells[index] for index in header.positions]
        else:  # the common case: every cell is a named column
            raws = cells if len(cells) == header.width else cells[: header.width]
        failed: set[str] = set()
        if has_control("".join(raws)):
            for column, raw in zip(header.columns, raws, strict=True):
                if has_control(raw):
                    self.error(line, _control_message(self._shown[column], raw))
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
                        line,
                        f"column {short(self._shown[column])}: {short(value)} looks like a "
                        "spreadsheet formula",
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
        language = self.default_language
        if self._language is not None:
            cell = values[self._language]
            found = self._languages.get(cell)
            if found is None:
                found = _language(cell, self.default_language, self._shown["language"])
                if len(self._languages) < _SHARED_MAX:
                    self._languages[cell] = found
            language, problem = found
            if problem:
                self.error(line, problem)
                return
        if self.counting:
            self.keys.append(key)
            return
        if not self.keep:
            self._valid += 1
            return
        self.contacts.append(self._contact(line, address, values, language))

    def _contact(self, line: int, address: str, values: list[str], language: str) -> Contact:
        shared, at = self._shared, self._email
        keep = shared.setdefault if len(shared) < _SHARED_MAX else shared.get
        values = [address if i == at else keep(value, value) for i, value in enumerate(values)]
        if self._language is not None:
            values[self._language] = language
        name = ""
        if self._name is not None:
            name = values[self._name]
            if name:
                # Control characters were checked above.
                cleaned = clean_display_name(name)
                name = values[self._name] = cleaned if cleaned != name else name
        first = values[self._first] if self._first is not None else ""
        last = values[self._last] if self._last is not None else ""
        if name and not (first and last):
            made_first, made_last = split_name(name)
            first = first or keep(made_first, made_first)
            last = last or keep(made_last, made_last)
        elif not name and (first or last):
            name = clean_display_name(full_name(first, last))
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
            first_name=first,
            last_name=last,
        )
