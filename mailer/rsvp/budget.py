"""Read each message within a time and memory budget: a worker process that can be stopped.

Every pattern that reads mail is linear (``tests/reliability/test_linear_time.py``), but a
message still passes through code that is not ours (the standard library's MIME and header
parsers, icalendar), and mail is sent by anyone. So the import reads each message in a worker
process: the import sends it the bytes and waits at most ``[rsvp] parse_budget_seconds``. A
worker that has not answered by then is killed (a thread cannot be stopped, and a check between
steps cannot interrupt one long step; a process can always be killed), a new one is started
for the next message, and the message becomes an "unreadable" item for review: "too complex to
read". The import goes on.

Memory is bounded the same way: a message over ``[rsvp] max_message_bytes`` is never parsed
(only its header block, for its Message-ID, sender and subject: "too large to read"; ``rsvp
fetch`` downloads only its header, ``rsvp import`` reads only its start), and the worker's
address space may grow by :data:`WORKER_MEMORY_BYTES` at most (``RLIMIT_AS``, where the system
has it): past that its parse fails with ``MemoryError`` and the message goes to review as
unreadable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import resource
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from mailer.rsvp.classify import classify
from mailer.rsvp.ical import warm_up
from mailer.rsvp.parse import header_block, message_key, parse_message
from mailer.rsvp.results import Classification, Envelope, Kind

DEFAULT_BUDGET_SECONDS = 2.0
DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024
WORKER_MEMORY_BYTES = 1024 * 1024 * 1024  # what a worker may add to its address space
START_SECONDS = 60.0  # for a worker to start and import what it needs (not the budget)
HEADER_BYTES = 256 * 1024  # of a message too large to read: its header block, at most
_FULL, _HEADERS, _READY = b"F", b"H", b"ready"


@dataclass(frozen=True)
class ReadLimits:
    """``[rsvp] parse_budget_seconds`` and ``[rsvp] max_message_bytes``."""

    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


class BudgetReader:
    """Classifies messages in a worker process, each within the budget (a context manager)."""

    def __init__(self, limits: ReadLimits, *, speakers: Sequence[str] = ()) -> None:
        self.limits = limits
        self._speakers = tuple(speakers)
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None

    def __enter__(self) -> BudgetReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def classify(self, raw: bytes, *, size: int | None = None) -> Classification:
        """Read *raw*; *size* is the message's real size when *raw* holds only its start."""
        real = max(len(raw), size or 0)
        limit = self.limits.max_message_bytes
        if real > limit:
            result = self._ask(_HEADERS, header_block(raw, HEADER_BYTES))
            if result is None:
                return _fallback(raw, real, f"too large to read ({_mb(real)}, {_limit(limit)})")
            reason = f"too large to read ({_mb(real)}; {_limit(limit)}): only its headers were read"
            env = dataclasses.replace(result.envelope, size=real)
            return Classification(Kind.UNREADABLE, env, reason=reason, lines=result.lines)
        result = self._ask(_FULL, raw)
        if result is None:
            budget = self.limits.budget_seconds
            return _fallback(
                raw,
                real,
                f"too complex to read: not read within {budget:g} s ([rsvp] parse_budget_seconds)",
            )
        return result

    def close(self) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send_bytes(b"")  # the worker's signal to stop
        self._stop(wait=1.0)

    # --- the worker ------------------------------------------------------------------------

    def _ask(self, kind: bytes, data: bytes) -> Classification | None:
        """The worker's answer, or None when it gave none within the budget (it is killed)."""
        conn = self._worker()
        if conn is None:
            return None
        try:
            conn.send_bytes(kind + data)
            if conn.poll(self.limits.budget_seconds):
                answer = conn.recv()
                if isinstance(answer, Classification):
                    return answer
        except (OSError, EOFError):
            pass  # the worker died (out of memory, killed): as if it took too long
        self._stop(wait=0.0)
        return None

    def _worker(self) -> Connection | None:
        if self._pipe is not None:
            return self._pipe
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if sys.platform == "darwin":
            method = "spawn"  # fork is unsafe with the system libraries there
        context: Any = multiprocessing.get_context(method)
        ours: Connection
        theirs: Connection
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve, args=(theirs, self._speakers), name="mailer-rsvp-reader", daemon=True
        )
        process.start()
        theirs.close()
        self._process, self._pipe = process, ours
        try:
            if ours.poll(START_SECONDS) and ours.recv_bytes() == _READY:
                return ours
        except (OSError, EOFError):
            pass
        self._stop(wait=0.0)
        return None

    def _stop(self, *, wait: float) -> None:
        process, conn = self._process, self._pipe
        self._process = self._pipe = None
        if process is not None:
            process.join(wait)
            if process.is_alive():
                process.kill()
                process.join(5.0)
        if conn is not None:
            conn.close()


def _serve(conn: Connection, speakers: tuple[str, ...]) -> None:
    """The worker: read a message, answer its classification; an empty message ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the import's to handle: it stops us
    _limit_memory()
    warm_up()
    conn.send_bytes(_READY)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        kind, raw = data[:1], data[1:]
        if kind == _HEADERS:
            msg = parse_message(raw)
            env = msg.envelope
            lines = tuple(f"{label}: {value}" for label, value in _shown(env) if value)
            conn.send(Classification(Kind.UNREADABLE, env, lines=lines))
        else:
            conn.send(classify(raw, speakers=speakers))


def _limit_memory() -> None:
    """Let the worker's address space grow by WORKER_MEMORY_BYTES at most (where possible)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[0])
        now = pages * os.sysconf("SC_PAGE_SIZE")
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = now + WORKER_MEMORY_BYTES
        if hard == resource.RLIM_INFINITY or wanted < hard:
            resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (OSError, ValueError):
        pass  # no /proc or no RLIMIT_AS: the time budget still holds


def _shown(env: Envelope) -> tuple[tuple[str, str], ...]:
    return (("From", env.sender), ("Subject", env.subject), ("Message-ID", env.message_id))


def _fallback(raw: bytes, size: int, reason: str) -> Classification:
    """An item for review when the worker gave no answer: keyed by the bytes' hash, with the
    From and Subject lines as they are written (found without parsing, in the first 64 KB)."""
    env = Envelope(message_key(raw, ""), "", "", "", "", None, (), (), size, ())
    return Classification(Kind.UNREADABLE, env, reason=reason, lines=_raw_lines(raw))


def _raw_lines(raw: bytes) -> tuple[str, ...]:
    shown: list[str] = []
    for line in header_block(raw, 64 * 1024).splitlines():
        text = line.decode("utf-8", "replace")
        if text.partition(":")[0].strip().lower() in ("from", "subject"):
            clean = "".join(c if c.isprintable() else " " for c in text[:200])
            shown.append(clean.strip())
        if len(shown) == 2:
            break
    return tuple(shown)


def _mb(size: int) -> str:
    return f"{size / 1048576:.1f} MB"


def _limit(limit: int) -> str:
    return f"[rsvp] max_message_bytes is {_mb(limit)}"
