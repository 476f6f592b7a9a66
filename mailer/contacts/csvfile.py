"""Reading contacts.csv: bytes to text, and text to records with the physical lines they span.

The encoding rules and messages are described in :mod:`mailer.contacts.book`. Records are read one
at a time (a 100,000-row file is never held as a list of rows), each with its first physical line
and the lines it was read from, so that quoting problems can be named by line."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from typing import NamedTuple

from mailer.errors import ContactsError

SAVE_AS = "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited)'"
UNCLOSED = 'a quoted cell has no closing quote (") and runs to the end of the file'
STRAY_QUOTE = (
    'a quote (") in the middle of a quoted cell is not doubled (""); check how the row was read'
)
_DELIMITERS = (",", ";", "\t")
# C0 controls other than tab/CR/LF, DEL and C1 controls: a text file has few of them.
_BINARY_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Physical lines with their endings: CRLF, LF and CR alone (old Mac Excel), as newline="" reads.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _line_of(data: bytes, offset: int) -> int:
    """The physical line (1-based) of byte *offset*, counting CRLF, LF and CR line breaks."""
    before = data[:offset]
    return 1 + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")


def decode(data: bytes, label: str) -> tuple[str, str]:
    """The text of a contacts file and its encoding ("utf-8", "utf-8-sig" or "cp1252")."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ContactsError(f"{label}: saved as UTF-16 ('Unicode Text'), not as CSV; {SAVE_AS}")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ContactsError(f"{label}: an Excel workbook, not a CSV file; {SAVE_AS}")
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
                f"UTF-8); {SAVE_AS}"
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


def detect_delimiter(text: str) -> str:
    """The most frequent of ``,``, ``;`` and tab on the header line (``,`` on a tie)."""
    first = _LINE.match(text)
    header_line = first.group() if first else text
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first on a tie: ","
    return best if counts[best] else ","


class Record(NamedTuple):
    """One CSV record: the line it starts on, its cells (``[]`` for an empty line) and the
    physical lines it was read from."""

    line: int
    cells: list[str]
    lines: list[str]
    last: bool  # the last record of the file

    def unclosed(self, delimiter: str) -> bool:
        """True for a last record that ends inside a quoted cell (csv takes it silently)."""
        if not self.last or not any('"' in line for line in self.lines):
            return False
        error = _strict_error(self.lines, delimiter)
        return error is not None and "unexpected end of data" in error

    def has_stray_quote(self, delimiter: str) -> bool:
        """True when a quote breaks the CSV rules (``"Bo" Berg",...``): the lenient reader, like
        Excel, reads on (``Bo Berg"``), which may not be what the file meant."""
        if not any('"' in line for line in self.lines):
            return False
        return _strict_error(self.lines, delimiter) is not None


def _strict_error(lines: list[str], delimiter: str) -> str | None:
    strict = csv.reader(lines, delimiter=delimiter, skipinitialspace=True, strict=True)
    try:
        for _ in strict:
            pass
    except csv.Error as exc:
        return str(exc)
    return None


_SPLIT_AT_ONCE = 1 << 20  # characters: a larger file is split into lines as it is read
# Line breaks that str.splitlines() knows but CSV does not (it splits on CR and LF only).
_OTHER_BREAKS = re.compile(r"[\v\f\x1c-\x1e\x85\u2028\u2029]")


def _feed(text: str, box: list[list[str]]) -> Iterator[str]:
    """The physical lines of *text*, each also added to ``box[0]`` (the current record's)."""
    if len(text) > _SPLIT_AT_ONCE or _OTHER_BREAKS.search(text):
        # One line at a time: a list of a million lines would double the file in memory.
        lines: Iterator[str] = (m.group() for m in _LINE.finditer(text))
    else:
        lines = iter(text.splitlines(keepends=True))  # the same lines, split in C
    for line in lines:
        box[0].append(line)
        yield line


def records(text: str, delimiter: str, label: str) -> Iterator[Record]:
    """Each record of *text* in order; the last one has ``last=True``."""
    box: list[list[str]] = [[]]
    reader = csv.reader(_feed(text, box), delimiter=delimiter, skipinitialspace=True, strict=False)
    start = 1
    pending: Record | None = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                limit = csv.field_size_limit()
                raise ContactsError(
                    f"{label}:{start}: a cell is longer than {limit} characters "
                    '(a quote (") without its closing quote?)'
                ) from None
            raise ContactsError(f"{label}:{start}: cannot read the row: {exc}") from None
        if pending is not None:
            yield pending
        pending = Record(start, cells, box[0], False)
        box[0] = []
        start = reader.line_num + 1
    if pending is not None:
        yield Record(pending.line, pending.cells, pending.lines + box[0], True)
