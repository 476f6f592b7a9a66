"""SMTP PIPELINING (RFC 2920) on a connection aiosmtplib opened and signed in.

aiosmtplib connects, does TLS or STARTTLS, EHLO and the login (``BearerSMTP`` included); when
the server's EHLO lists PIPELINING (and ``[smtp] pipelining`` is true), :class:`Pipeline` takes
the connection over (:class:`~mailer.sending.replies.Wire` on the same transport) and sends each
message as:

1. ``MAIL FROM``, every ``RCPT TO`` and ``DATA`` in one write;
2. the answer to the previous message's end of data, if it is still unread, then the replies
   to those commands, matched to them in order: one per command, per recipient;
3. after ``354``: the journal's ``transmitting`` mark, then the message and ``.``, and *no*
   wait: the next message's commands follow at once, so a message costs about one round trip
   instead of four. The answer to the end of data is read with the next message's replies,
   or by :meth:`Pipeline.settle` when no message follows yet.

Writes are coalesced (:class:`~mailer.sending.replies.Wire`): the message and the next
message's commands leave in one send, made when the pipeline is about to wait for a reply.
An end of data that never left because the connection closed first is *not sent* (retried),
not in doubt.

Where the EHLO also lists CHUNKING (and ``[smtp] chunking`` is true), RFC 3030 ``BDAT`` takes
the place of DATA (:func:`~mailer.sending.wire.bdat_parts`): ``MAIL FROM`` and every
``RCPT TO`` go in one write, and once every reply is ``250``, ``BDAT <n> LAST`` and the
message's exact *n* bytes (CRLF line endings, no dot-stuffing, no ``.``) follow in one write,
again with no wait. The ``BDAT`` is written only after the recipients' replies are read: a
refused recipient (any, in a Bcc batch) means the message is never written at all (``RSET``
and on), so a batch is still sent to everyone or to no one (a server takes a ``BDAT`` for the
recipients it accepted, where DATA could be abandoned after its 354). The ``BDAT LAST`` chunk
is the end of data: its answer means what the answer to ``.`` means with DATA.

What each reply means is decided as in lock-step (``probe.refusal``): a refused recipient fails
the message (a Bcc batch with any refused recipient is not sent to anyone: after a ``354`` the
connection is closed without the end of data, so the server discards it); a refused ``MAIL``
or ``DATA`` likewise, followed by ``RSET``. A ``421`` ends the connection: every message whose
end of data was not written is *not sent* (retried); a connection lost or a timeout likewise.
A message is in doubt only when its end of data (``.`` or the ``BDAT LAST`` chunk) was written
and its answer was never read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import cast

import aiosmtplib
from aiosmtplib import SMTPDataError, SMTPRecipientRefused, SMTPSenderRefused

from mailer.models import Outgoing
from mailer.sending.probe import Kind, Result, data_timeout, recipients_refused, refusal
from mailer.sending.replies import Late, Lost, Reply, Wire
from mailer.sending.wire import bdat_parts, body_parts, plain_path, wire_facts

QUIT_SECONDS = 2.0
Answered = Callable[[Result], None]


class Pipeline:
    """One pipelined connection: at most one end of data whose answer is not read yet."""

    def __init__(self, client: aiosmtplib.SMTP, *, host: str, chunking: bool = True) -> None:
        if client.transport is None:
            raise aiosmtplib.SMTPServerDisconnected("Server not connected")
        self.client = client  # closed with the connection; not used for commands any more
        self.wire = Wire(cast(asyncio.Transport, client.transport))
        self.host = host
        self.timeout = client.timeout or 60.0
        self.size = client.supports_extension("size")
        self.eightbit = client.supports_extension("8bitmime")
        # BDAT instead of DATA (RFC 3030) where offered and not turned off by [smtp] chunking
        self.chunking = chunking and client.supports_extension("chunking")
        self.ended = 0  # ends of data written on this connection: >0 means it has been reused
        # the unread end of data's answer: who gets it, its timeout, and whether the message
        # went on a reused connection
        self.waiting: tuple[Answered, float, bool] | None = None

    @property
    def open(self) -> bool:
        return self.wire.open

    # --- one message ---------------------------------------------------------------------

    async def transact(
        self,
        item: Outgoing,
        *,
        transmitting: Callable[[], None],
        answered: Answered,
        stopped: Callable[[], str] = lambda: "",
    ) -> Result | None:
        """Send *item*; its result, or None when its end of data is out and *answered* will get
        the result later (from the next :meth:`transact`, :meth:`settle` or :meth:`abort`).

        *stopped* gives the reason when the run stopped while the replies came (the previous
        message's answer was an account error): then the data is not sent."""
        reused = self.ended > 0
        ready, is_ascii = wire_facts(item)
        try:
            commands = self._envelope(item, is_ascii=is_ascii)
        except ValueError as exc:  # an address the protocol cannot carry (validated earlier)
            return Result(Kind.PERMANENT, f"cannot use the address: {exc}")
        try:
            self.wire.write(*commands)
        except Lost as exc:
            await self.settle()
            return self._not_sent(reused, str(exc))
        await self.settle()  # the previous message's answer comes first on the wire
        replies, problem = await self._read(len(commands))
        if problem:
            closing = replies[-1] if replies and replies[-1].code == 421 else None
            if closing is not None and not reused:  # busy, or 4.3.2 too many connections
                refused = SMTPSenderRefused(closing.code, closing.text, item.sender)
                return refusal("mail", self.host, refused, item.sender)
            return self._not_sent(reused, problem)
        reason = stopped()
        if reason:  # the message stays queued; the server discards what it got
            self.wire.abort("the run stopped")
            return Result(Kind.ACCOUNT, reason)
        mail, rcpts = replies[0], replies[1 : 1 + len(item.recipients)]
        data = None if self.chunking else replies[-1]
        result = self._refusal(item, mail, rcpts, data)
        if result is not None:
            if data is not None and data.code == 354:  # DATA taken anyway: close before the end
                self.wire.abort("closed instead of sending a message that was refused")
            elif self.open:
                await self._rset()
            return result
        try:
            transmitting()
        except BaseException:
            self.wire.abort("closed before the data was sent")  # the server discards it
            raise
        try:
            if self.chunking:  # BDAT <n> LAST and the n bytes: the chunk is the end of data
                self.wire.write(*bdat_parts(item, ready=ready))
            else:
                self.wire.write(*body_parts(item, ready=ready))
        except Lost as exc:  # nothing of the data went out: the transport was closed already
            return self._not_sent(reused, str(exc))
        self.ended += 1
        self.waiting = (answered, data_timeout(self.client, item.size), reused)
        return None

    def _envelope(self, item: Outgoing, *, is_ascii: bool) -> list[bytes]:
        options = b""
        if self.size:
            options += b" SIZE=%d" % item.size
        if not is_ascii and self.eightbit:
            options += b" BODY=8BITMIME"
        commands = [b"MAIL FROM:" + plain_path(item.sender) + options + b"\r\n"]
        commands += [b"RCPT TO:" + plain_path(r) + b"\r\n" for r in item.recipients]
        if not self.chunking:  # with BDAT the data follows once the recipients are accepted
            commands.append(b"DATA\r\n")
        return commands

    async def _read(self, count: int) -> tuple[list[Reply], str]:
        """The replies to *count* commands; with the reason when they stopped short (a 421,
        the connection lost, a timeout: the connection is closed then)."""
        replies: list[Reply] = []
        try:
            while len(replies) < count:
                reply = await self.wire.read(self.timeout)
                replies.append(reply)
                if reply.code == 421:  # the server closes the connection
                    self.wire.abort(reply.line())
                    return replies, reply.line()
        except Lost as exc:
            return replies, f"connection lost before the data was sent ({exc})"
        except Late as exc:
            self.wire.abort("timed out")  # out of step: a late reply would be misread
            return replies, f"{exc} before the data was sent"
        return replies, ""

    def _refusal(
        self, item: Outgoing, mail: Reply, rcpts: list[Reply], data: Reply | None
    ) -> Result | None:
        if mail.code != 250:
            refused_by = SMTPSenderRefused(mail.code, mail.text, item.sender)
            return refusal("mail", self.host, refused_by, item.sender)
        refused = {
            r: SMTPRecipientRefused(reply.code, reply.text, r)
            for r, reply in zip(item.recipients, rcpts, strict=True)
            if reply.code not in (250, 251)
        }
        if refused:
            return recipients_refused(self.host, item, refused)
        if data is not None and data.code != 354:
            return refusal("data", self.host, SMTPDataError(data.code, data.text), item.sender)
        return None

    def _not_sent(self, reused: bool, reason: str) -> Result:
        """The message's end of data was not written: the server does not have it."""
        if self.wire.open:
            self.wire.abort(reason)
        kind = Kind.RECONNECT if reused else Kind.TEMPORARY
        # a fresh connection dropped: the relay's trouble (a waiting fallback takes the rest)
        return Result(kind, f"{self.host}: {reason}", relay=True)

    async def _rset(self) -> None:
        with contextlib.suppress(Lost, Late):
            self.wire.write(b"RSET\r\n")
            reply = await self.wire.read(self.timeout)
            if reply.code == 421:
                self.wire.abort(reply.line())

    # --- the answer to the last end of data ----------------------------------------------

    async def settle(self) -> None:
        """Read the answer to the last end of data, if it is not read yet, and report it."""
        if self.waiting is None:
            return
        answered, timeout, reused = self.waiting
        try:  # the end of data goes out now if it has not yet (coalesced with what follows)
            self.wire.flush()
        except Lost as exc:  # it never left: the server does not have the message
            self.waiting = None
            answered(self._not_sent(reused, f"connection lost before the data was sent ({exc})"))
            return
        try:
            reply = await self.wire.read(timeout)
        except Lost as exc:
            self.waiting = None
            answered(self._in_doubt(f"connection lost after the data was sent ({exc})"))
            return
        except Late:
            self.waiting = None
            self.wire.abort("timed out")
            answered(self._in_doubt(f"no answer within {timeout:g} s after the data was sent"))
            return
        self.waiting = None
        if reply.code == 250:
            answered(Result(Kind.SENT, reply.line()))
            return
        if reply.code == 421:
            self.wire.abort(reply.line())
        answered(refusal("data", self.host, SMTPDataError(reply.code, reply.text), ""))

    def _in_doubt(self, reason: str) -> Result:
        return Result(Kind.IN_DOUBT, f"{self.host}: {reason}; the server may have the message")

    def abort(self) -> None:
        """Close at once (Ctrl-C, a bug); an unread answer leaves its message in doubt."""
        waiting, self.waiting = self.waiting, None
        if waiting is not None:  # the end of data goes out as before the close: in doubt
            with contextlib.suppress(Lost):
                self.wire.flush()
        self.wire.abort()
        self.client.close()
        if waiting is not None:
            waiting[0](self._in_doubt("interrupted after the data was sent"))

    async def close(self) -> None:
        """Read the last answer, QUIT politely, close."""
        await self.settle()
        if self.open:
            with contextlib.suppress(Lost, Late):
                self.wire.write(b"QUIT\r\n")
                await self.wire.read(QUIT_SECONDS)
        self.wire.abort()
        self.client.close()
