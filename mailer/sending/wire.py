"""DATA without re-scanning messages that are already in wire form.

aiosmtplib's ``data()`` normalises line endings and dot-stuffs every message with two regular-
expression passes and three copies of it (for a 287 KB message with a PDF, 4 of the 5 ms the
whole transaction costs on the loopback). ``mailer``'s messages are built with CRLF line endings
and no line that starts with a dot (headers never do, quoted-printable encodes a leading dot,
base64 has no dots), so those passes change nothing. :func:`wire_ready` verifies that with a few
byte counts (C speed; cached for the large parts every recipient shares), and only then
:func:`body_parts` gives the pieces to write after the server's 354 as they are, followed by
``.``; any message that is not provably in wire form is normalised and dot-stuffed first.
:func:`bdat_parts` gives the same bytes for BDAT (RFC 3030), counted and never dot-stuffed.

The envelope commands take the same shortcut: for a plain ASCII ``local@domain`` address,
``MAIL FROM:<a>`` / ``RCPT TO:<a>`` are sent as they are instead of through ``client.mail()`` /
``client.rcpt()``, which parse every address with ``email.utils.parseaddr`` (0.05 ms a call);
any other address goes through them.

It uses aiosmtplib's public client and protocol methods (``execute_command``, ``protocol.write``,
``protocol.read_response``); the test suite runs it against a real aiosmtpd server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import aiosmtplib
from aiosmtplib import (
    SMTPDataError,
    SMTPRecipientRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from aiosmtplib.email import quote_address

from mailer.models import Outgoing

_CACHE_FROM_BYTES = 32 * 1024  # parts this large are usually shared: remember their verdict
_CACHE_ENTRIES = 64


class _Verdicts:
    """(wire-ready, ASCII) of large parts, keyed by identity and holding them, so an id is never
    reused for another object while its verdict is kept."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[bytes, bool, bool]] = {}

    def of(self, part: bytes) -> tuple[bool, bool]:
        if len(part) < _CACHE_FROM_BYTES:
            return _check(part), part.isascii()
        hit = self._known.get(id(part))
        if hit is not None and hit[0] is part:
            return hit[1], hit[2]
        if len(self._known) >= _CACHE_ENTRIES:
            self._known.clear()
        verdict = _check(part), part.isascii()
        self._known[id(part)] = (part, *verdict)
        return verdict


def _check(part: bytes) -> bool:
    """Whole CRLF lines, none starting with a dot."""
    crlf = part.count(b"\r\n")
    return (
        part.endswith(b"\r\n")
        and not part.startswith(b".")
        and part.count(b"\n") == crlf
        and part.count(b"\r") == crlf
        and b"\n." not in part
    )


_VERDICTS = _Verdicts()


def wire_facts(item: Outgoing) -> tuple[bool, bool]:
    """(the message needs no dot-stuffing or line-ending repair, it is all ASCII)."""
    ready = ascii_ = True
    for part in item.segments:
        ok, is_ascii = _VERDICTS.of(part)
        ready = ready and ok
        ascii_ = ascii_ and is_ascii
    return ready, ascii_


_LINE_ENDS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _crlf(data: bytes) -> bytes:
    """*data* with CRLF line endings, ended by one."""
    data = _LINE_ENDS.sub(b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def body_parts(item: Outgoing, *, ready: bool) -> tuple[bytes, ...]:
    """The message as it goes after the server's 354, ended by ``.``: its segments as they are
    when :func:`wire_facts` found them ready, else with CRLF line endings and dot-stuffed."""
    if ready:
        return (*item.segments, b".\r\n")
    return (_LEADING_DOT.sub(b"..", _crlf(item.data)), b".\r\n")


def bdat_parts(item: Outgoing, *, ready: bool) -> tuple[bytes, ...]:
    """``BDAT <n> LAST`` (RFC 3030) and the message's *n* bytes, the same bytes the server stores
    after DATA: its segments as they are when ready, else with CRLF line endings; never
    dot-stuffed (BDAT counts bytes, a line that starts with a dot is just a line)."""
    parts = item.segments if ready else (_crlf(item.data),)
    return (b"BDAT %d LAST\r\n" % sum(len(p) for p in parts), *parts)


async def finish_data(
    client: aiosmtplib.SMTP, item: Outgoing, *, ready: bool, timeout: float
) -> aiosmtplib.SMTPResponse:
    """After the server's 354 to DATA: the message and the end of data, then the answer; raises
    like ``client.data()``."""
    protocol = client.protocol
    if protocol is None:
        raise SMTPServerDisconnected("Connection lost")
    try:
        for part in body_parts(item, ready=ready):
            protocol.write(part)
        response = await protocol.read_response(timeout=timeout)
    except (SMTPServerDisconnected, SMTPTimeoutError):
        client.close()  # as client.data() does: the conversation is out of step
        raise
    if response.code != 250:
        raise SMTPDataError(response.code, response.message)
    return response


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")


def _path(client: aiosmtplib.SMTP, address: str) -> bytes | None:
    """``<address>`` when it can be sent as it is (and EHLO is done), else None."""
    if client.is_ehlo_or_helo_needed or not _PLAIN_ADDRESS.match(address):
        return None
    return b"<" + address.encode("ascii") + b">"


def plain_path(address: str) -> bytes:
    """``<address>`` for a command of the pipeline; ValueError when SMTP cannot carry it."""
    if _PLAIN_ADDRESS.match(address):
        return b"<" + address.encode("ascii") + b">"
    path = quote_address(address)
    if _CONTROL.search(path):
        raise ValueError(f"{address!r} contains a control character")
    return path.encode("ascii")  # UnicodeEncodeError is a ValueError


async def mail_from(
    client: aiosmtplib.SMTP, sender: str, options: Sequence[str]
) -> aiosmtplib.SMTPResponse:
    """``client.mail(sender, options=options)``, without re-parsing a plain address."""
    path = _path(client, sender)
    if path is None:
        return await client.mail(sender, options=options)
    reply = await client.execute_command(
        b"MAIL", b"FROM:" + path, *(o.encode("ascii") for o in options)
    )
    if reply.code != 250:
        raise SMTPSenderRefused(reply.code, reply.message, sender)
    return reply


async def rcpt_to(client: aiosmtplib.SMTP, recipient: str) -> aiosmtplib.SMTPResponse:
    """``client.rcpt(recipient)``, without re-parsing a plain address."""
    path = _path(client, recipient)
    if path is None:
        return await client.rcpt(recipient)
    reply = await client.execute_command(b"RCPT", b"TO:" + path)
    if reply.code not in (250, 251):
        raise SMTPRecipientRefused(reply.code, reply.message, recipient)
    return reply
