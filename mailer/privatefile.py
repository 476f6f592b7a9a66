"""Files that hold personal data (names, addresses, notes): written readable by the owner only.

Each file is written to a temporary file next to it and renamed, so a failed write never leaves
half a file, and an older copy is replaced only when the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from mailer.errors import MailerError


def write_temporary(path: Path, data: bytes) -> Path:
    """Write *data* to the hidden temporary file of *path* (mode 0600, synced) and return it.

    On any error the temporary file is removed before the error propagates.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a leftover temporary file may have had other modes
            view = memoryview(data)
            while view:  # os.write may write less than asked (a nearly full disk)
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def move_into_place(tmp: Path, path: Path) -> None:
    """Rename *tmp* to *path* atomically; on an error *tmp* is removed."""
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write *data* atomically to *path*, readable by its owner only (an OSError propagates)."""
    move_into_place(write_temporary(path, data), path)


def write_private(path: Path, data: bytes, *, what: str) -> None:
    """Write *data* to *path* (mode 0600, atomically); *what* names the file in an error
    ("the export", "the report")."""
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise MailerError(f"{path}: cannot write {what}: {exc.strerror}") from None
