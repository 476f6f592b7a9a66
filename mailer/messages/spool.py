"""The spool: a private temporary file holding the rendered bytes of a large batch.

A batch is rendered and checked in full before its first message goes out, and 100,000 rendered
messages would take 600 MB of memory. So the plan writes each message's own bytes here and keeps
only where they are (:class:`~mailer.models.SpooledBody`); the parts every message shares (an
encoded PDF) stay in memory once. Reading a message back is one ``os.pread``.

The file is created next to the journal, readable by its owner only (mode 0600), and has no name
in the folder: it is unlinked as it is made (``O_TMPFILE``), so it is gone when the run ends,
even when the process is killed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mailer.errors import MailerError

SPOOL_MIN_MESSAGES = 500  # smaller batches are kept in memory (preview, tests, small rounds)
_FLUSH_BYTES = 1 << 20


class SpoolError(MailerError):
    """The temporary file of a batch cannot be created or written (a full or read-only disk)."""


class Spool:
    """An append-only private temporary file; ``append`` returns where the bytes went."""

    def __init__(self, directory: Path | None = None) -> None:
        where = directory if directory is not None and directory.is_dir() else None
        try:
            # Closed by close() or with the plan that holds it, not at the end of a block.
            self._file = tempfile.TemporaryFile(dir=where, prefix=".mailer-spool-")  # noqa: SIM115
            os.fchmod(self._file.fileno(), 0o600)
        except OSError as exc:
            raise SpoolError(self._message(where, "cannot create", exc)) from None
        self.directory = Path(where or tempfile.gettempdir())
        self._fd = self._file.fileno()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._written = 0  # bytes in the file
        self.size = 0  # bytes appended (in the file or pending)

    @staticmethod
    def _message(where: Path | None, what: str, exc: OSError) -> str:
        folder = where or Path(tempfile.gettempdir())
        return f"{folder}: {what} the temporary file of the batch: {exc.strerror or exc}"

    def fileno(self) -> int:
        return self._fd

    def append(self, data: bytes) -> int:
        offset = self.size
        self._pending.append(data)
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= _FLUSH_BYTES:
            self.flush()
        return offset

    def flush(self) -> None:
        if not self._pending:
            return
        view = memoryview(b"".join(self._pending))
        self._pending.clear()
        self._pending_size = 0
        try:
            while view:  # os.write may write less than asked (a nearly full disk)
                done = os.pwrite(self._fd, view, self._written)
                self._written += done
                view = view[done:]
        except OSError as exc:
            raise SpoolError(self._message(self.directory, "cannot write", exc)) from None

    def read(self, offset: int, length: int) -> bytes:
        if self._file.closed:  # its descriptor number may belong to another file by now
            raise SpoolError(f"{self.directory}: the batch was closed; plan it again")
        if offset + length > self._written:
            self.flush()
        data = os.pread(self._fd, length, offset)
        while len(data) < length:  # short reads are allowed; a regular file rarely makes one
            more = os.pread(self._fd, length - len(data), offset + len(data))
            if not more:
                raise SpoolError(f"{self.directory}: the temporary file of the batch is truncated")
            data += more
        return data

    def close(self) -> None:
        self._pending.clear()
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed
