"""Messages from files: ``.eml`` files, folders of them (recursive), mbox files, Maildir folders.

Yields ``(source label, raw bytes)``; reading never changes the files (a Maildir's messages stay
in ``new/`` or ``cur/`` with their flags). A file or folder that cannot be read raises
:class:`~mailer.errors.InboxError` naming it.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from mailer.errors import InboxError
from mailer.rsvp.parse import MAX_MESSAGE_BYTES

MESSAGE_SUFFIXES = (".eml",)
MBOX_SUFFIXES = (".mbox", ".mbx")

Source = tuple[str, bytes]


def read_sources(paths: Iterable[Path]) -> Iterator[Source]:
    """Every message under *paths*, in a stable order."""
    for path in paths:
        yield from read_path(Path(path))


def read_path(path: Path) -> Iterator[Source]:
    if not path.exists():
        raise InboxError(f"{path}: no such file or folder")
    if path.is_dir():
        if is_maildir(path):
            yield from _maildir(path)
        else:
            yield from _folder(path)
    elif _is_mbox(path):
        yield from _mbox(path)
    else:
        yield str(path), _read_file(path)


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _folder(root: Path) -> Iterator[Source]:
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
                yield from _maildir(base / name)
        for name in sorted(files):
            path = base / name
            if name.startswith("."):
                continue
            if name.lower().endswith(MESSAGE_SUFFIXES):
                yield str(path), _read_file(path)
            elif name.lower().endswith(MBOX_SUFFIXES) and _is_mbox(path):
                yield from _mbox(path)


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_MESSAGE_BYTES + 1)  # beyond that only the headers are read
    except OSError as exc:
        raise InboxError(f"{path}: cannot read the file: {exc.strerror}") from None


def _is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"From "
    except OSError as exc:
        raise InboxError(f"{path}: cannot read the file: {exc.strerror}") from None


def _mbox(path: Path) -> Iterator[Source]:
    try:
        box = mailbox.mbox(path, create=False)
        keys = box.keys()
    except (OSError, mailbox.Error) as exc:
        raise InboxError(f"{path}: cannot read the mbox file: {exc}") from None
    try:
        for number, key in enumerate(keys, start=1):
            try:
                data = box.get_bytes(key)
            except (OSError, mailbox.Error, KeyError) as exc:
                raise InboxError(f"{path}: cannot read message {number}: {exc}") from None
            yield f"{path}#{number}", data
    finally:
        box.close()


def _maildir(path: Path) -> Iterator[Source]:
    try:
        box = mailbox.Maildir(path, factory=None, create=False)
        keys = sorted(box.keys())
    except (OSError, mailbox.Error) as exc:
        raise InboxError(f"{path}: cannot read the Maildir: {exc}") from None
    for key in keys:
        try:
            data = box.get_bytes(key)
        except KeyError:
            continue  # moved or deleted by the mail server meanwhile
        except (OSError, mailbox.Error) as exc:
            raise InboxError(f"{path}: cannot read message {key}: {exc}") from None
        yield f"{path}#{key}", data
