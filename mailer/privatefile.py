"""Files that hold personal data (names, addresses, notes): written readable by the owner only.

Each file is written to a temporary file next to it and renamed, so a failed write never leaves
half a file, and an older copy is replaced only when the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from mailer.errors import MailerError


def write_private(path: Path, data: bytes, *, what: str) -> None:
    """Write *data* to *path* (mode 0600, atomically); *what* names the file in an error
    ("the export", "the report")."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a leftover temporary file may have had other modes
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise MailerError(f"{path}: cannot write {what}: {exc.strerror}") from None
