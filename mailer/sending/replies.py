"""The server's replies, in order, on a connection taken over from aiosmtplib.

aiosmtplib reads exactly one reply per command it writes (its protocol drops what arrives while
no command waits), so it cannot pipeline. :class:`Wire` replaces its protocol on the same
transport (plain TCP or TLS, after the greeting, EHLO, STARTTLS and the login), collects every
complete reply in arrival order, and hands them out one by one: the caller matches them to the
commands it wrote, in the order it wrote them (RFC 2920 section 3.1: replies come in order).

Writes are coalesced: :meth:`Wire.write` keeps the bytes, and they go to the transport in one
write when the caller is about to wait for a reply (:meth:`Wire.read`, :meth:`Wire.flush`), so a
message's data and the next message's MAIL, RCPT and DATA leave in one send. Nothing written is
ever held across a wait for the server.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass

MAX_LINE = 8192  # a reply line longer than this is not SMTP: the connection is dropped
MAX_LINES = 200  # lines in one multi-line reply


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def line(self) -> str:
        """'250 2.0.0 OK queued as X': the reply on one line, for the journal and the report."""
        return " ".join(f"{self.code} {self.text}".split())


class Lost(Exception):
    """The connection closed or broke; the text says how."""


class Late(Exception):
    """No reply within the timeout."""


class Wire(asyncio.Protocol):
    """The replies of one connection, read in order; writes go out before the next read."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a multi-line reply received so far
        self._replies: collections.deque[Reply] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: str | None = None
        self._unsent: list[bytes] = []  # written, not handed to the transport yet
        transport.set_protocol(self)

    # --- asyncio.Protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._lost is not None:
            return
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    self.abort("the server sent a reply line that is too long")
                break
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if not self._take(line):
                break
        self._wake()

    def _take(self, line: bytes) -> bool:
        code, mark = line[:3], line[3:4]
        if len(line) > MAX_LINE or not code.isdigit() or mark not in (b" ", b"-", b"\r", b"\n"):
            shown = line[:80].decode("ascii", "replace").strip()
            self.abort(f"the server sent something that is not an SMTP reply: {shown!r}")
            return False
        self._lines.append(line)
        if mark == b"-":
            if len(self._lines) > MAX_LINES:
                self.abort("the server sent a reply of too many lines")
                return False
            return True
        text = "\n".join(part[4:].strip().decode("utf-8", "replace") for part in self._lines)
        self._lines.clear()
        self._replies.append(Reply(int(code), text))
        return True

    def eof_received(self) -> bool:
        self._lose("the server closed the connection")
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(f"connection lost ({exc})" if exc else "the connection was closed")

    # --- for the pipeline ----------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self._lost is None and not self.transport.is_closing()

    def write(self, *parts: bytes) -> None:
        """Queue *parts*; they go out with the next :meth:`flush` or :meth:`read`."""
        if not self.open:
            raise Lost(self._lost or "the connection was closed")
        self._unsent.extend(parts)

    @property
    def unsent(self) -> bool:
        """Bytes written that have not gone to the transport yet."""
        return bool(self._unsent)

    def flush(self) -> None:
        """Hand what was written to the transport, in one write; raises :class:`Lost` (and
        drops it) when the connection is closed: then none of it went out."""
        if not self._unsent:
            return
        parts, self._unsent = self._unsent, []
        if not self.open:
            raise Lost(self._lost or "the connection was closed")
        self.transport.write(b"".join(parts))

    async def read(self, timeout: float) -> Reply:
        """The next reply, after what was written went out; raises :class:`Lost` or
        :class:`Late`. Replies that arrived before the connection closed are still handed out
        (a 421 and then the close)."""
        self.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._replies:
            if self._lost is not None:
                raise Lost(self._lost)
            left = deadline - loop.time()
            if left <= 0:
                raise Late(f"no answer within {timeout:g} s")
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(left, self._wake)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        return self._replies.popleft()

    def abort(self, reason: str = "the connection was closed") -> None:
        """Close at once; what was written and not flushed never goes out."""
        self._unsent.clear()
        self._lose(reason)
        self.transport.abort()

    def _lose(self, reason: str) -> None:
        if self._lost is None:
            self._lost = reason
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
