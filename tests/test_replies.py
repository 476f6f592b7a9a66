"""The reply reader of the pipeline (mailer/sending/replies.py): what the server sends, in
whatever pieces the network delivers it, becomes the same replies in the same order; anything
else ends the connection with a reason, never an exception of another kind."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.sending.replies import Late, Lost, Reply, Wire


class _Transport:
    """Just enough of an asyncio transport for :class:`Wire`."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.closing = False
        self.written: list[bytes] = []

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = True

    def write(self, data: bytes) -> None:
        self.written.append(data)


def _wire() -> tuple[Wire, _Transport]:
    transport = _Transport()
    return Wire(transport), transport  # type: ignore[arg-type]


async def _read_all(wire: Wire, count: int) -> list[Reply]:
    return [await wire.read(0.5) for _ in range(count)]


_TEXT = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=30
).map(str.strip)
_REPLY = st.tuples(st.integers(200, 599), st.lists(_TEXT, min_size=1, max_size=4))


def _wire_form(code: int, lines: list[str]) -> bytes:
    out = [f"{code}-{line}\r\n" for line in lines[:-1]] + [f"{code} {lines[-1]}\r\n"]
    return "".join(out).encode("ascii")


@settings(max_examples=200, deadline=2000)
@given(replies=st.lists(_REPLY, min_size=1, max_size=6), cuts=st.lists(st.integers(0, 400)))
def test_replies_in_any_pieces_come_out_whole_and_in_order(
    replies: list[tuple[int, list[str]]], cuts: list[int]
) -> None:
    data = b"".join(_wire_form(code, lines) for code, lines in replies)
    wire, _ = _wire()
    points = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    for start, end in itertools.pairwise(points):
        wire.data_received(data[start:end])
    got = asyncio.run(_read_all(wire, len(replies)))
    assert got == [Reply(code, "\n".join(lines)) for code, lines in replies]


@settings(max_examples=200, deadline=2000)
@given(data=st.binary(max_size=300))
def test_anything_else_is_a_reply_or_a_lost_connection(data: bytes) -> None:
    wire, _ = _wire()
    wire.data_received(data)
    wire.eof_received()

    async def drain() -> list[Reply]:
        got = []
        while True:
            try:
                got.append(await wire.read(0.05))
            except Lost:
                return got

    got = asyncio.run(drain())
    assert all(100 <= r.code <= 999 for r in got)
    assert not wire.open


def test_a_reply_that_is_not_smtp_ends_the_connection() -> None:
    wire, transport = _wire()
    wire.data_received(b"250 OK\r\nHTTP/1.1 400 Bad Request\r\n250 late\r\n")

    async def two() -> tuple[Reply, str]:
        first = await wire.read(0.1)
        try:
            await wire.read(0.1)
        except Lost as exc:
            return first, str(exc)
        raise AssertionError("read on")

    first, reason = asyncio.run(two())
    assert first == Reply(250, "OK")
    assert (
        reason == "the server sent something that is not an SMTP reply: 'HTTP/1.1 400 Bad Request'"
    )
    assert transport.closing


def test_no_reply_in_time_is_late_and_a_421_then_close_is_read_first() -> None:
    wire, _ = _wire()

    async def late() -> str:
        try:
            await wire.read(0.05)
        except Late as exc:
            return str(exc)
        raise AssertionError("a reply came")

    assert asyncio.run(late()) == "no answer within 0.05 s"
    wire.data_received(b"421 4.7.0 closing\r\n")
    wire.connection_lost(None)
    assert asyncio.run(wire.read(0.05)) == Reply(421, "4.7.0 closing")
    assert Reply(421, "4.7.0  closing ").line() == "421 4.7.0 closing"


def test_writes_leave_together_when_a_reply_is_awaited() -> None:
    """A message's data and the next message's commands go to the transport in one write, made
    when the pipeline waits for a reply, never before and never after."""
    wire, transport = _wire()
    wire.write(b"Subject: x\r\n\r\nbody\r\n", b".\r\n")
    wire.write(b"MAIL FROM:<a@b.example>\r\n", b"RCPT TO:<c@d.example>\r\n", b"DATA\r\n")
    assert transport.written == [] and wire.unsent

    async def answered() -> Reply:
        reading = asyncio.ensure_future(wire.read(0.5))
        await asyncio.sleep(0)  # the read waits for the server: what was written is out
        assert transport.written == [
            b"Subject: x\r\n\r\nbody\r\n.\r\n"
            b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
        ]
        wire.data_received(b"250 2.0.0 OK\r\n")
        return await reading

    assert asyncio.run(answered()) == Reply(250, "2.0.0 OK")
    assert not wire.unsent
    wire.flush()  # nothing left: no empty write
    assert len(transport.written) == 1


def test_what_was_written_never_leaves_once_the_connection_is_lost() -> None:
    wire, transport = _wire()
    wire.write(b"body\r\n.\r\n")
    wire.connection_lost(None)
    try:
        wire.flush()
    except Lost as exc:
        assert str(exc) == "the connection was closed"
    else:
        raise AssertionError("flushed into a closed connection")
    assert transport.written == [] and not wire.unsent
    wire2, transport2 = _wire()
    wire2.write(b"RSET\r\n")
    wire2.abort("stopped")
    assert transport2.written == [] and not wire2.unsent and transport2.closing
