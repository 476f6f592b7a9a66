"""A minimal SMTP sink that stamps ``time.time()`` when each message's data is complete.

aiosmtpd, the tests' server, accepts only about 370 messages a second over 3 connections on the
bench machine (a bare aiosmtplib loop needs 2.7 s for 1,000 messages against it), so it cannot
measure a release whose last message is due within 1 s. This sink does no more than the protocol
needs (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; PIPELINING advertised) and keeps, per
message, the acceptance time and the RCPT TO addresses. It runs in a thread of the bench process
(which only waits for ``mailer`` meanwhile) on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import asyncio
import threading
import time

_EHLO = (
    b"250-stamp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 104857600\r\n"
    b"250 ENHANCEDSTATUSCODES\r\n"
)
_END = b"\r\n.\r\n"


class _Session(asyncio.Protocol):
    def __init__(self, sink: StampSink) -> None:
        self.sink = sink
        self.buf = bytearray()
        self.in_data = False
        self.rcpts: list[str] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 stamp-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buf += data
        while self.buf:
            if self.in_data:
                end = self.buf.find(_END)
                if end < 0:
                    if len(self.buf) > 8:
                        del self.buf[:-4]  # the terminator is 5 bytes: keep a possible start
                    return
                self.sink.record(time.time(), tuple(self.rcpts))
                del self.buf[: end + len(_END)]
                self.in_data, self.rcpts = False, []
                self.transport.write(b"250 2.0.0 OK\r\n")
                continue
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                return
            line = bytes(self.buf[:nl])
            del self.buf[: nl + 2]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(_EHLO)
            elif verb == b"MAIL":
                self.rcpts = []
                self.transport.write(b"250 2.1.0 OK\r\n")
            elif verb == b"RCPT":
                address = line.partition(b":")[2].split(b" ")[0].strip(b"<>")
                self.rcpts.append(address.decode("utf-8", "replace"))
                self.transport.write(b"250 2.1.5 OK\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 2.0.0 Bye\r\n")
                self.transport.close()
                return
            elif verb in (b"HELO", b"RSET", b"NOOP"):
                self.rcpts = [] if verb == b"RSET" else self.rcpts
                self.transport.write(b"250 OK\r\n")
            else:
                self.transport.write(b"502 5.5.2 Not implemented\r\n")


class StampSink:
    """Start with :meth:`start` (returns the port), read ``accepted``, end with :meth:`stop`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[float, tuple[str, ...]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def record(self, stamp: float, rcpts: tuple[str, ...]) -> None:
        with self.lock:
            self.accepted.append((stamp, rcpts))

    def start(self) -> int:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self._loop.create_server(lambda: _Session(self), "127.0.0.1", 0), self._loop
        )
        self._server = future.result(10)
        return int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
