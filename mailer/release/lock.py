"""One release run at a time: an advisory ``flock`` on a file next to the journal; and the log.

Every command that may send the release (``send-due``, ``wait``, ``send-now``, ``prebrief``)
takes the lock without blocking. ``send-due`` that finds it taken logs "another release run is
in progress" and exits 0 (cron starts one every minute; the one that holds the lock is sending
or waiting for the embargo, and it will finish the job). The kernel drops the lock when its
process ends, however it ends, so a killed run never leaves a stale lock behind.

The lock is only the first line of defence: the journal's atomic claims alone already make two
runs unable to send the same message twice (see :mod:`mailer.store.journal`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from pathlib import Path
from types import TracebackType

from mailer.config import Config
from mailer.errors import StoreError

LOCK_SUFFIX = ".release.lock"


def lock_path(config: Config) -> Path:
    return config.store_path.with_name(config.store_path.name + LOCK_SUFFIX)


class ReleaseLock:
    """``with ReleaseLock(path, about) as lock: if lock.acquired: ...``"""

    def __init__(self, path: Path, about: str) -> None:
        self.path = path
        self.about = about  # "<owner> <what it does>", for the one who finds it taken
        self.acquired = False
        self._fd: int | None = None

    def __enter__(self) -> ReleaseLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            folder = self.path.parent
            why = (
                f"its folder {folder} is read-only"
                if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK)
                else exc.strerror
            )
            raise StoreError(f"{self.path}: cannot open the release lock: {why}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self
        self.acquired = True
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, self.about.encode("utf-8"), 0)
        return self

    def holder(self) -> str:
        """What the process holding the lock wrote (pid, command, since when)."""
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is None:
            return
        if self.acquired:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def held_by(config: Config) -> str:
    """'' when no live process holds the lock, else what the holder wrote.

    Reads the file instead of probing the lock, so that ``status`` can never make a
    ``send-due`` starting at the same instant believe that another run holds it.
    """
    from mailer.store import is_alive

    try:
        text = lock_path(config).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    owner = text.split(" ", 1)[0]
    return text if owner and is_alive(owner) else ""


def log_line(config: Config, text: str, *, now: dt.datetime) -> str:
    """The log line of *text*: its time stamp (ISO 8601, UTC with its ``Z``), then *text*;
    appended to ``[log] file`` when one is configured (created private). Every line of the log
    carries the time it was written."""
    line = f"{stamp(now)} {text}"
    if config.log_file is None:
        return line
    try:
        config.log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(config.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"{config.log_file}: cannot write the log: {exc.strerror}") from None
    return line


def stamp(moment: dt.datetime) -> str:
    """``2027-06-25T10:00:00.012Z``: log lines are in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
