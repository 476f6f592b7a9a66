"""One mail transaction in lock-step through aiosmtplib: MAIL FROM, each RCPT TO, DATA, the
message, each waiting for its reply. Used where the server does not offer PIPELINING or
``[smtp] pipelining`` is false; :mod:`mailer.sending.pipeline` does the same pipelined, with
the same meaning of every reply (:func:`~mailer.sending.probe.refusal`).

A message is in doubt only when its end of data was written and its answer was not read: a
connection lost before that (even after the server's 354) means the server discards it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import aiosmtplib
from aiosmtplib import (
    SMTPDataError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPSenderRefused,
    SMTPTimeoutError,
)

from mailer.models import Outgoing
from mailer.sending.probe import (
    Kind,
    Result,
    data_timeout,
    one_line,
    recipients_refused,
    refusal,
)
from mailer.sending.wire import finish_data, mail_from, rcpt_to, wire_facts


async def transact(
    client: aiosmtplib.SMTP,
    item: Outgoing,
    *,
    host: str,
    reused: bool,
    transmitting: Callable[[], None],
) -> Result:
    """One SMTP transaction: MAIL FROM, RCPT TO each recipient, then (all accepted) DATA."""
    refused: dict[str, SMTPRecipientRefused] = {}
    ready, is_ascii = wire_facts(item)
    options = [f"SIZE={item.size}"] if client.supports_extension("size") else []
    if not is_ascii and client.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")
    try:
        await mail_from(client, item.sender, options)
        for rcpt in item.recipients:
            try:
                await rcpt_to(client, rcpt)
            except SMTPRecipientRefused as exc:
                refused[rcpt] = exc
    except SMTPSenderRefused as exc:
        if reused and exc.code == 421:  # the server closes a connection it has used enough
            return Result(Kind.RECONNECT, f"{host}: {one_line(f'{exc.code} {exc.message}')}")
        return refusal("mail", host, exc, item.sender)
    except (SMTPException, OSError) as exc:
        return _lost_before_data(host, reused, exc)
    except ValueError as exc:  # an address the protocol cannot carry (validated earlier)
        await _rset(client)
        return Result(Kind.PERMANENT, f"cannot use the address: {exc}")
    if refused:
        await _rset(client)
        return recipients_refused(host, item, refused)
    try:
        start = await client.execute_command(b"DATA")
    except (SMTPException, OSError) as exc:  # the message did not go out: not in doubt
        return _lost_before_data(host, reused, exc)
    if start.code != 354:
        await _rset(client)
        return refusal("data", host, SMTPDataError(start.code, start.message), item.sender)
    try:
        transmitting()
    except BaseException:
        client.close()  # without the end of data the server discards the transaction
        raise
    waited = data_timeout(client, item.size)
    try:
        reply = await finish_data(client, item, ready=ready, timeout=waited)
    except SMTPDataError as exc:
        await _rset(client)
        return refusal("data", host, exc, item.sender)
    except SMTPTimeoutError:
        return Result(
            Kind.IN_DOUBT,
            f"{host}: no answer within {waited:g} s after the data was "
            "sent; the server may have the message",
        )
    except (SMTPException, OSError) as exc:
        return Result(
            Kind.IN_DOUBT,
            f"{host}: connection lost after the data was sent ({exc}); "
            "the server may have the message",
        )
    return Result(Kind.SENT, one_line(f"{reply.code} {reply.message}"))


def _lost_before_data(host: str, reused: bool, exc: BaseException) -> Result:
    """The connection broke before the end of data: the server does not have the message."""
    kind = Kind.RECONNECT if reused else Kind.TEMPORARY
    # a fresh connection dropped: the relay's trouble (a waiting fallback takes the rest)
    return Result(kind, f"{host}: connection lost before the data was sent ({exc})", relay=True)


async def _rset(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(SMTPException, OSError):
        await client.rset()
