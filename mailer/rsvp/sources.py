"""Messages from files: ``.eml`` files, folders of them (recursive), mbox files, Maildir folders.

Yields ``(source label, raw bytes)``; reading never changes the files (a Maildir's messages stay
in ``new/`` or ``cur/`` with their flags). A file or folder that cannot be read raises
:class:`~mailer.errors.InboxError` naming it.

Memory is bounded per message, as in ``rsvp fetch``: a message over ``[rsvp]
max_message_bytes`` is never read whole, only its first :data:`~.budget.HEADER_BYTES` (for its
header block), and its real size goes into *sizes*, so that it is recorded for review as "too
large to read". An mbox file is read as a stream, a line (at most :data:`LINE_BYTES`) at a
time, never whole: the standard library's :class:`mailbox.mbox` reads each message whole and
each line whole, however long.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from mailer.errors import InboxError
from mailer.rsvp.budget import DEFAULT_MAX_MESSAGE_BYTES, HEADER_BYTES

MESSAGE_SUFFIXES = (".eml",)
MBOX_SUFFIXES = (".mbox", ".mbx")
LINE_BYTES = 64 * 1024  # of an mbox line read at once (a longer line is read in pieces)

Source = tuple[str, bytes]


@dataclass
class _Limit:
    """The size limit of one read, and where the real sizes of cut messages go."""

    max_bytes: int
    sizes: dict[str, int]

    def take(self, label: str, data: bytes, size: int) -> Source:
        """*data* of a message of *size* bytes: only its start when it is over the limit."""
        if size > self.max_bytes:
            self.sizes[label] = size
            return label, data[:HEADER_BYTES]
        return label, data


def read_sources(
    paths: Iterable[Path],
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    sizes: dict[str, int] | None = None,
) -> Iterator[Source]:
    """Every message under *paths*, in a stable order.

    A message over *max_message_bytes* yields only its first :data:`~.budget.HEADER_BYTES`;
    its real size is put in *sizes* (by source label) before it is yielded.
    """
    limit = _Limit(max_message_bytes, sizes if sizes is not None else {})
    for path in paths:
        yield from read_path(Path(path), limit)


def read_path(path: Path, limit: _Limit) -> Iterator[Source]:
    if not path.exists():
        raise InboxError(f"{path}: no such file or folder")
    if path.is_dir():
        if is_maildir(path):
            yield from _maildir(path, limit)
        else:
            yield from _folder(path, limit)
    elif _is_mbox(path):
        yield from _mbox(path, limit)
    else:
        yield _read_file(path, limit)


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _folder(root: Path, limit: _Limit) -> Iterator[Source]:
    def fail(exc: OSError) -> None:
        raise InboxError(f"{exc.filename or root}: cannot read the folder: {exc.strerror}")

    for here, dirs, files in os.walk(root, onerror=fail):
        base = Path(here)
        dirs.sort()
        for name in list(dirs):
            if name.startswith("."):
                dirs.remove(name)
            elif is_maildir(base / name):
                dirs.remove(name)  # read as a mailbox, not as loose files
                yield from _maildir(base / name, limit)
        for name in sorted(files):
            path = base / name
            if name.startswith("."):
                continue
            if name.lower().endswith(MESSAGE_SUFFIXES):
                yield _read_file(path, limit)
            elif name.lower().endswith(MBOX_SUFFIXES) and _is_mbox(path):
                yield from _mbox(path, limit)


def _read_file(path: Path, limit: _Limit) -> Source:
    try:
        with path.open("rb") as handle:
            return _read_bounded(str(path), handle, limit)
    except OSError as exc:
        raise InboxError(f"{path}: cannot read the file: {exc.strerror}") from None


def _read_bounded(label: str, handle: BinaryIO, limit: _Limit) -> Source:
    """A message from the open file *handle*: whole, or only its start when it is too large."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    if size > limit.max_bytes:
        return limit.take(label, handle.read(HEADER_BYTES), size)
    data = handle.read(limit.max_bytes + 1)  # the file may have grown meanwhile
    return limit.take(label, data, max(size, len(data)))


def _is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"From "
    except OSError as exc:
        raise InboxError(f"{path}: cannot read the file: {exc.strerror}") from None


def _mbox(path: Path, limit: _Limit) -> Iterator[Source]:
    """The messages of an mbox file, read as a stream (as :class:`mailbox.mbox` splits them:
    a message starts after each line beginning with ``From ``, and the blank line before the
    next one is not part of it)."""
    number = 0
    try:
        with path.open("rb") as handle:
            message: _Message | None = None
            line_start = True
            while line := handle.readline(LINE_BYTES):
                if line_start and line.startswith(b"From "):
                    if message is not None:
                        yield message.done(limit)
                    number += 1
                    message = _Message(f"{path}#{number}", limit.max_bytes)
                    while not line.endswith(b"\n") and line:  # the rest of a long From line
                        line = handle.readline(LINE_BYTES)
                    line_start = True
                    continue
                if message is not None:
                    message.add(line, blank=line_start and line == b"\n")
                line_start = line.endswith(b"\n")
            if message is not None:
                yield message.done(limit)
    except OSError as exc:
        where = f"cannot read message {number}" if number else "cannot read the mbox file"
        raise InboxError(f"{path}: {where}: {exc.strerror}") from None


class _Message:
    """One mbox message as it streams past: its size, and its bytes up to the limit (once it
    is over, only its first HEADER_BYTES)."""

    def __init__(self, label: str, max_bytes: int) -> None:
        self.label = label
        self._keep = max_bytes + 1  # the limit, and the blank line that may end the message
        self._parts: list[bytes] = []
        self._kept = 0
        self._over = False
        self.size = 0
        self._blank = False  # the last line was blank (the separator before the next From)

    def add(self, line: bytes, *, blank: bool) -> None:
        self.size += len(line)
        self._blank = blank
        if not self._over and self.size <= self._keep:
            self._parts.append(line)
            self._kept += len(line)
            return
        if not self._over:  # over the limit now: keep only its start
            self._over = True
            head = b"".join(self._parts)[:HEADER_BYTES]
            self._parts, self._kept = [head], len(head)
        if self._kept < HEADER_BYTES:
            piece = line[: HEADER_BYTES - self._kept]
            self._parts.append(piece)
            self._kept += len(piece)

    def done(self, limit: _Limit) -> Source:
        data = b"".join(self._parts)
        size = self.size
        if self._blank:
            if len(data) == size:
                data = data[:-1]
            size -= 1
        return limit.take(self.label, data, size)


def _maildir(path: Path, limit: _Limit) -> Iterator[Source]:
    try:
        box = mailbox.Maildir(path, factory=None, create=False)
        keys = sorted(box.keys())
    except (OSError, mailbox.Error) as exc:
        raise InboxError(f"{path}: cannot read the Maildir: {exc}") from None
    for key in keys:
        try:
            handle = box.get_file(key)
        except KeyError:
            continue  # moved or deleted by the mail server meanwhile
        except (OSError, mailbox.Error) as exc:
            raise InboxError(f"{path}: cannot read message {key}: {exc}") from None
        try:
            with handle:
                read = _read_bounded(f"{path}#{key}", cast(BinaryIO, handle), limit)
        except OSError as exc:
            raise InboxError(f"{path}: cannot read message {key}: {exc.strerror}") from None
        yield read
