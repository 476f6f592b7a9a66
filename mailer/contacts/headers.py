"""The header row of contacts.csv: which column holds which field, and the others' names.

A header cell is recognised by its *key*: accents dropped (NFKD), case folded, and everything but
letters and digits left out, so that ``E-mail Address``, ``e_mail address`` and ``EMAILADDRESS``
are one spelling, and ``Sähköposti`` is ``sahkoposti``. :data:`ALIASES` lists the spellings of
each field (English, Finnish, Swedish, Outlook's and Google Contacts' exports);
``[contacts.columns]`` in config.toml chooses a column by hand. Every other column is kept under
a template name made from its header (:func:`identifier`). ``mailer contacts check`` shows the
result.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mailer.errors import ContactsError
from mailer.models import CONTACT_FIELDS

__all__ = ["ALIASES", "Header", "MappedColumn", "field_notes", "header_key", "identifier"]

# The header spellings of each field, as people write them (docs/contacts-and-templates.md lists
# them; a test checks the page). Case, spaces, hyphens, underscores and accents do not matter.
ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "E-mail Address",
        "E-mail 1 - Value",
        "Mail",
        "Sähköposti",
        "Sähköpostiosoite",
        "S-posti",
        "E-post",
        "E-postadress",
        "Mejl",
    ),
    "name": (
        "name",
        "Full Name",
        "Display Name",
        "Contact Person",
        "Nimi",
        "Koko nimi",
        "Näyttönimi",
        "Yhteyshenkilö",
        "Namn",
        "Fullständigt namn",
        "Visningsnamn",
        "Kontaktperson",
    ),
    "first_name": ("first_name", "Given Name", "Etunimi", "Kutsumanimi", "Förnamn", "Tilltalsnamn"),
    "last_name": ("last_name", "Family Name", "Surname", "Sukunimi", "Efternamn"),
    "outlet": (
        "outlet",
        "Media Outlet",
        "Media",
        "Medium",
        "Company",
        "Organization",
        "Organisation",
        "Organization Name",
        "Organization 1 - Name",
        "Publication",
        "Tiedotusväline",
        "Lehti",
        "Julkaisu",
        "Toimitus",
        "Yritys",
        "Organisaatio",
        "Tidning",
        "Redaktion",
        "Företag",
    ),
    "language": ("language", "Lang", "Preferred Language", "Kieli", "Asiointikieli", "Språk"),
    "tags": (
        "tags",
        "Tag",
        "Labels",
        "Label",
        "Group Membership",
        "Groups",
        "Categories",
        "Category",
        "Tunnisteet",
        "Tunniste",
        "Luokat",
        "Kategoriat",
        "Ryhmät",
        "Taggar",
        "Tagg",
        "Kategorier",
        "Grupper",
    ),
}
# Names a column of other data cannot have: the fields, and the attributes of the dict that
# templates see as ``contact`` (``contact.items`` would be the method, not the column).
_RESERVED = frozenset(CONTACT_FIELDS) | {name for name in dir(dict) if not name.startswith("_")}
_APOSTROPHES = str.maketrans("", "", "'\u2019`")
_NOT_WORD = re.compile(r"[\W_]+")
_NOT_ASCII_WORD = re.compile(r"[^a-z0-9]+")


def header_key(text: str) -> str:
    """How a header cell is compared: ``" E-mail_Address"`` -> ``"emailaddress"``."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text).casefold() if ch.isalnum())


_FIELD_OF: dict[str, str] = {
    header_key(alias): field
    for field, aliases in ALIASES.items()
    for alias in (*aliases, field.replace("_", " "))
}


def identifier(header: str, letter: str) -> str:
    """The template name of a column that is not a field: accents dropped, lower case, every run
    of other characters one ``_``, apostrophes left out (``Manager's Name`` -> ``managers_name``,
    ``Puhelin (työ)`` -> ``puhelin_tyo``); ``column_`` in front of a leading digit,
    ``column_<letter>`` when nothing is left."""
    decomposed = unicodedata.normalize("NFKD", header.translate(_APOSTROPHES)).casefold()
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    name = _NOT_WORD.sub("_", plain).strip("_")
    if name and not ("_" + name).isidentifier():  # letters Python does not take in a name
        name = _NOT_ASCII_WORD.sub("_", name).strip("_")
    if not name:
        return f"column_{letter.lower()}"
    return f"column_{name}" if name[0].isdigit() else name


def excel_column(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA": how a spreadsheet user finds the column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def short(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


@dataclass(frozen=True)
class MappedColumn:
    """One named column of the header row and what it became."""

    letter: str  # "A", as a spreadsheet shows it
    header: str  # the header cell as written, trimmed
    name: str  # the field, or the template name of another column (``contact.<name>``)
    field: bool  # one of CONTACT_FIELDS
    chosen: bool  # set by [contacts.columns] in config.toml


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]  # the name of each named column: a field or a template name
    positions: tuple[int, ...]  # cell index of each column
    unnamed: tuple[int, ...]  # cell indexes of header cells left empty
    width: int  # number of header cells
    mapping: tuple[MappedColumn, ...]  # the columns, in file order

    @classmethod
    def parse(
        cls,
        cells: list[str],
        rows: Iterable[tuple[int, list[str]]],
        delimiter: str,
        label: str,
        *,
        chosen: Mapping[str, str],
        chosen_label: str,
    ) -> Header:
        def fail(message: str) -> ContactsError:
            return ContactsError(f"{label}:1: {message}")

        example = delimiter.join(("email", "name", "outlet", "language", "tags"))
        if not any(cell.strip() for cell in cells):
            raise fail(f"no header row (line 1 is empty); line 1 must name the columns: {example}")
        written = [cell.strip().lstrip("\ufeff").strip() for cell in cells]
        shown = [short(cell) for cell in written]  # as the user sees them, in messages
        for index, cell in enumerate(cells):
            if "@" in cell:
                raise fail(
                    f"no header row (line 1 holds {shown[index]}); add a first line that "
                    f"names the columns: {example}"
                )
        keys = [header_key(cell) for cell in written]
        seen: dict[str, int] = {}
        for index, key in enumerate(keys):
            first = seen.setdefault(key, index) if key else index  # "" is "#", "?", ...
            if first != index:
                name = _FIELD_OF.get(key) or identifier(written[index], excel_column(index))
                raise fail(
                    f"duplicate column {short(name)}: {excel_column(first)} ({shown[first]}) "
                    f"and {excel_column(index)} ({shown[index]})"
                )
        by_hand = _chosen_columns(chosen, written, keys, label, chosen_label)
        fields = dict(by_hand)
        for index, key in enumerate(keys):
            field = _FIELD_OF.get(key)
            if field is None or field in chosen or index in by_hand.values():
                continue
            if field in fields:
                other = fields[field]
                raise fail(
                    f"columns {excel_column(other)} ({shown[other]}) and {excel_column(index)} "
                    f"({shown[index]}) are both {field}; remove one, or choose one in config.toml "
                    f"under [contacts.columns]: {field} = {_toml(written[index])}"
                )
            fields[field] = index
        if "email" not in fields:
            raise fail(_no_email_message(written, shown, rows))
        field_at = {index: field for field, index in fields.items()}
        taken = set(_RESERVED)
        mapping: list[MappedColumn] = []
        for index, cell in enumerate(written):
            if not cell:
                continue
            letter = excel_column(index)
            field = field_at.get(index)
            if field is not None:
                mapping.append(MappedColumn(letter, cell, field, True, field in by_hand))
                continue
            name = base = identifier(cell, letter)
            number = 1
            while name in taken:  # "Language" when [contacts.columns] language = "": language_2
                number += 1
                name = f"{base}_{number}"
            taken.add(name)
            mapping.append(MappedColumn(letter, cell, name, False, False))
        return cls(
            columns=tuple(m.name for m in mapping),
            positions=tuple(index for index, cell in enumerate(written) if cell),
            unnamed=tuple(index for index, cell in enumerate(written) if not cell),
            width=len(cells),
            mapping=tuple(mapping),
        )


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _chosen_columns(
    chosen: Mapping[str, str], written: list[str], keys: list[str], label: str, chosen_label: str
) -> dict[str, int]:
    """field -> cell index of the columns chosen in [contacts.columns] (``""``: no column)."""
    out: dict[str, int] = {}
    for field, wanted in chosen.items():
        where = f"{chosen_label}: [contacts.columns] {field}"
        key = header_key(wanted)
        if not key:
            continue
        if key not in keys:
            named = [cell for cell in written if cell]
            close = difflib.get_close_matches(wanted, named, n=1, cutoff=0.6)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
            else:
                listed = ", ".join(repr(cell) for cell in named[:8])
                hint = f" (its columns: {listed}{', ...' if len(named) > 8 else ''})"
            raise ContactsError(f"{where}: {label} has no column {wanted!r}{hint}")
        index = keys.index(key)
        other = next((f for f, i in out.items() if i == index), None)
        if other is not None:
            raise ContactsError(f"{where}: column {written[index]!r} is already chosen for {other}")
        out[field] = index
    return out


def _no_email_message(
    written: list[str], shown: list[str], rows: Iterable[tuple[int, list[str]]]
) -> str:
    candidate: int | None = None
    email_keys = [header_key(alias) for alias in ALIASES["email"]]
    for index, cell in enumerate(written):
        key = header_key(cell)
        if (
            "mail" in key
            or key.startswith(("sahkoposti", "sposti", "epost"))
            or difflib.get_close_matches(key, email_keys, n=1, cutoff=0.8)
        ):
            candidate = index
            break
    if candidate is None:  # a column whose first filled-in cell looks like an address
        for _, row in rows:
            if any(cell.strip() for cell in row):
                candidate = next((i for i, c in enumerate(row[: len(written)]) if "@" in c), None)
                break
    if candidate is not None:
        return (
            f"no 'email' column; if column {shown[candidate]} holds the addresses, set "
            f"email = {_toml(written[candidate])} under [contacts.columns] in config.toml "
            "(or rename the column to 'email')"
        )
    listed = ", ".join(name for cell, name in zip(written, shown, strict=True) if cell)
    return (
        f"no 'email' column (the header row has {listed}); the addresses must be in a column "
        "named 'email' or chosen under [contacts.columns] in config.toml"
    )


def field_notes(header: Header, default_language: str) -> tuple[str, ...]:
    """What the fields without a column of their own hold, one line each."""
    present = {m.name for m in header.mapping if m.field}
    notes: list[str] = []
    empty = [f for f in CONTACT_FIELDS if f not in present]
    if "name" in present and {"first_name", "last_name"} - present:
        made = [f for f in ("first_name", "last_name") if f not in present]
        notes.append(f"{', '.join(made)}: made from name")
        empty = [f for f in empty if f not in made]
    if "name" not in present and {"first_name", "last_name"} & present:
        notes.append("name: made from first_name and last_name")
        empty.remove("name")
    if "language" not in present:
        notes.append(f"language: not in the file; every contact gets {default_language!r}")
        empty.remove("language")
    if empty:
        notes.append(f"{', '.join(empty)}: not in the file; empty")
    return tuple(notes)
