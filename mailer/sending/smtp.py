"""The SMTP transport: ``connections`` reused aiosmtplib clients sharing one rate limiter.

Per message: connect if needed -> ``claim`` -> embargo -> daily cap -> rate limiter -> MAIL FROM /
RCPT TO -> ``transmitting`` -> DATA -> outcome. Outcomes, from the server's replies:

* 2xx after DATA: sent (the reply, e.g. the queue id, is kept in the journal).
* 4xx, a dropped connection or a timeout *before* DATA: retried with exponential backoff
  (``retry_initial_seconds`` doubling up to ``retry_max_seconds``, at most ``max_attempts``
  attempts), then left queued with the last reason. A 4xx reply to DATA is retried too: the
  server answered, so it does not have the message.
* 5xx on a recipient or on DATA: failed, with the server's code and text. A partly refused
  recipient list (a Bcc batch) is a failure: nothing is sent to the accepted part.
* Connection lost or timed out *after* DATA started: in doubt (the server may have it); resent
  only on request.
* Account errors (authentication, quota 5.4.5 / 5.2.0, 432 4.3.2 too many connections, 5.7.233,
  a refused sender, a bad certificate, or no connection after ``max_attempts`` tries): the run
  stops cleanly with one line in ``ctx.stopped``; messages in flight finish, claimed ones are
  released, everything else stays pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import re
import socket
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import (
    SMTPDataError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)

from mailer.config import SmtpConfig
from mailer.errors import TransportError
from mailer.models import Outgoing, State
from mailer.sending import RunContext
from mailer.sending.limiter import DailyCap, RateLimiter
from mailer.sending.probe import (
    AUTH_HINT,
    describe_connect_error,
    new_client,
    one_line,
    tls_context,
)
from mailer.store.smtp import SmtpLog

PREWARM_SECONDS = 30.0  # connect this long before an embargo, not earlier (servers drop idle ones)
QUIT_TIMEOUT_SECONDS = 2.0

_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_AUTH_CODES = (530, 534, 535, 538)
_AUTH_STATUS = ("5.7.3", "5.7.8", "5.7.57", "5.7.139")
_QUOTA_STATUS = ("5.4.5", "5.2.0")


class Kind(enum.Enum):
    SENT = "sent"
    TEMPORARY = "temporary"  # nothing was accepted; try again later
    RECONNECT = "reconnect"  # a reused connection was closed by the server: reconnect, no backoff
    PERMANENT = "permanent"  # this message fails
    ACCOUNT = "account"  # every message would fail: stop the run
    IN_DOUBT = "in_doubt"  # the data may have arrived


@dataclass(frozen=True)
class Result:
    kind: Kind
    detail: str


def enhanced_status(message: str) -> str:
    found = _ENHANCED.search(message)
    return found.group(1) if found else ""


def classify(stage: str, code: int, message: str) -> Kind:
    """What a negative reply at *stage* ("mail", "rcpt" or "data") means for the run."""
    status = enhanced_status(message)
    if code in _AUTH_CODES or status in _AUTH_STATUS or code == 432 or status == "4.3.2":
        return Kind.ACCOUNT
    if status in _QUOTA_STATUS or status == "5.7.233" or status == "5.7.60":
        return Kind.ACCOUNT
    if stage == "mail" and code >= 500:
        return Kind.ACCOUNT  # the sender is refused: so would every other message be
    if stage == "data" and status == "5.2.2":
        return Kind.ACCOUNT  # our own mailbox is full (Microsoft 365 keeps a copy in Sent Items)
    if 400 <= code < 500:
        return Kind.TEMPORARY
    return Kind.PERMANENT


def account_message(host: str, code: int, message: str, sender: str) -> str:
    """The one line that stops the run, with what to do next."""
    status = enhanced_status(message)
    reply = one_line(f"{code} {message}")
    if code in _AUTH_CODES or status in _AUTH_STATUS:
        hint = AUTH_HINT
    elif code == 432 or status == "4.3.2":
        hint = "too many connections; lower [smtp] connections (Microsoft 365 allows 3 per mailbox)"
    elif status in _QUOTA_STATUS or "quota" in message.lower():
        hint = "the account's sending limit is reached; the rest stays queued: run again later"
    elif status == "5.7.233":
        hint = "the organisation's external recipient limit is reached; run again later"
    elif status == "5.2.2":
        hint = "the sending mailbox is full; make room in it and run again"
    else:
        hint = f"the server refuses to send as {sender}; check [organizer] email and the account"
    return f"{host}: {reply}: {hint}"


def backoff(smtp: SmtpConfig, failures: int) -> float:
    """Seconds to wait after the *failures*-th failed attempt (1 -> retry_initial_seconds)."""
    delay: float = smtp.retry_initial_seconds * 2.0 ** (failures - 1)
    return min(delay, smtp.retry_max_seconds)


@dataclass
class _Work:
    item: Outgoing
    failures: int = 0  # failed attempts in this run
    free_retries: int = 0  # reconnects after the server closed a reused connection
    last_error: str = ""


class _Connection:
    def __init__(self) -> None:
        self.client: aiosmtplib.SMTP | None = None
        self.sent = 0  # messages on this connection: >0 means it has been reused

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        if client.is_connected:
            with contextlib.suppress(SMTPException, OSError):
                await client.quit(timeout=QUIT_TIMEOUT_SECONDS)
        client.close()


class _Run:
    def __init__(self, items: Sequence[Outgoing], ctx: RunContext, smtp: SmtpConfig) -> None:
        self.ctx = ctx
        self.smtp = smtp
        self.queue: asyncio.Queue[_Work | None] = asyncio.Queue()
        for item in items:
            self.queue.put_nowait(_Work(item))
        self.outstanding = len(items)
        self.workers = max(1, min(smtp.connections, len(items)))
        self.live_workers = self.workers
        self.limiter = RateLimiter(smtp.rate_per_minute, ctx.clock)
        self.cap = DailyCap(smtp.daily_cap, SmtpLog(ctx.store.connection), ctx.clock)
        self.stop_event = asyncio.Event()
        self.waiting: dict[asyncio.TimerHandle, _Work] = {}
        self.context = tls_context(smtp)
        self.local_hostname: str | None = None

    # --- run control -----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def stop(self, message: str) -> None:
        if not self.ctx.stopped:
            self.ctx.stopped = message
        self.stop_event.set()
        for _ in range(self.workers):
            self.queue.put_nowait(None)

    def done(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            for _ in range(self.workers):
                self.queue.put_nowait(None)

    def retry_later(self, work: _Work, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def wake() -> None:
            assert handle is not None
            self.waiting.pop(handle, None)
            if not self.stopping:
                self.queue.put_nowait(work)

        handle = loop.call_later(delay, wake)
        self.waiting[handle] = work

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up at once when the run stops."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_event.wait(), timeout=seconds)

    async def unless_stopped(self, waiting: Awaitable[object]) -> bool:
        """Await *waiting*; False (and cancel it) if the run stops first."""
        task = asyncio.ensure_future(waiting)
        stopper = asyncio.ensure_future(self.stop_event.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
        if task.done() and not task.cancelled():
            task.result()
            return True
        return False

    async def run(self) -> None:
        self.local_hostname = await asyncio.to_thread(socket.getfqdn)
        tasks = [asyncio.create_task(self.worker()) for _ in range(self.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for handle, work in list(self.waiting.items()):
                handle.cancel()
                self.ctx.left_queued(work.item, work.last_error)  # already pending: reported only
            self.waiting.clear()

    # --- one connection ----------------------------------------------------------------------

    async def worker(self) -> None:
        conn = _Connection()
        try:
            await self.prewarm_pause()
            while not self.stopping:
                work = await self.queue.get()
                if work is None or self.stopping:
                    break
                if not await self.connect(conn):
                    if not self.stopping:
                        self.queue.put_nowait(work)  # another connection may take it
                    break
                if not await self.handle(conn, work):
                    break
        finally:
            await conn.close()

    async def prewarm_pause(self) -> None:
        """Do not connect long before the embargo: servers close idle connections."""
        if self.ctx.not_before is None:
            return
        while not self.stopping:
            ahead = (self.ctx.not_before - self.ctx.clock.now()).total_seconds() - PREWARM_SECONDS
            if ahead <= 0:
                return
            await self.pause(min(ahead, 1.0))

    async def connect(self, conn: _Connection) -> bool:
        """Make sure *conn* is connected and logged in; False if this connection gives up."""
        if conn.connected:
            return True
        await conn.close()
        failures = 0
        while not self.stopping:
            client = new_client(
                self.smtp, self.ctx.password, context=self.context,
                local_hostname=self.local_hostname,
            )
            try:
                await client.connect()
            except (SMTPException, OSError) as exc:
                client.close()
                failure = describe_connect_error(self.smtp, exc)
                if not failure.temporary:
                    self.stop(failure.message)
                    return False
                failures += 1
                if failures >= self.smtp.max_attempts:
                    self.live_workers -= 1
                    if self.live_workers == 0:
                        self.stop(f"{failure.message} (gave up after {failures} attempts; "
                                  "the rest stays queued)")
                    return False
                await self.pause(backoff(self.smtp, failures))
                continue
            conn.client, conn.sent = client, 0
            return True
        return False

    # --- one message -------------------------------------------------------------------------

    async def handle(self, conn: _Connection, work: _Work) -> bool:
        """Send one message; False when this connection gives up (the work went back)."""
        ctx, item = self.ctx, work.item
        size = len(item.recipients)
        if not ctx.claim(item):
            self.done()
            return True
        reserved = False
        try:
            if not await self.unless_stopped(ctx.wait_for_embargo()):
                ctx.unclaim(item)
                return False
            if not self.cap.reserve(size):
                ctx.unclaim(item)
                self.stop(self.cap_message(size))
                return False
            reserved = True
            ready = await self.unless_stopped(self.limiter.acquire())
            if not ready or not await self.connect(conn):
                reserved = False
                self.cap.release(size)
                ctx.unclaim(item)
                if not self.stopping:
                    self.queue.put_nowait(work)
                return False
            assert conn.client is not None
            result = await self.transact(conn, conn.client, item)
            reserved = False
            self.outcome(conn, work, result)
            return True
        except BaseException:
            # Ctrl-C or a bug: leave the journal consistent, then let it propagate.
            if reserved:
                self.cap.release(size)
            entry = ctx.store.journal.by_message_id(item.message_id)
            if entry is not None and entry.state is State.TRANSMITTING:
                ctx.in_doubt(item, "interrupted while transmitting; the server may have it")
            elif entry is not None and entry.state is State.CLAIMED:
                ctx.unclaim(item)
            raise

    def outcome(self, conn: _Connection, work: _Work, result: Result) -> None:
        ctx, item, size = self.ctx, work.item, len(work.item.recipients)
        work.last_error = result.detail
        if result.kind is Kind.SENT:
            conn.sent += 1
            self.cap.submitted(item.message_id, size)
            ctx.sent(item, result.detail)
            self.done()
        elif result.kind is Kind.IN_DOUBT:
            self.cap.submitted(item.message_id, size)
            ctx.in_doubt(item, result.detail)
            self.done()
        elif result.kind is Kind.PERMANENT:
            self.cap.release(size)
            ctx.failed(item, result.detail)
            self.done()
        elif result.kind is Kind.ACCOUNT:
            self.cap.release(size)
            ctx.left_queued(item, result.detail)
            self.stop(result.detail)
        elif result.kind is Kind.RECONNECT and work.free_retries == 0:
            self.cap.release(size)
            work.free_retries += 1
            ctx.retry_later(item, result.detail)
            self.queue.put_nowait(work)
        else:
            self.cap.release(size)
            work.failures += 1
            if work.failures >= self.smtp.max_attempts:
                ctx.left_queued(item, f"{result.detail} (gave up after {work.failures} attempts)")
                self.done()
            else:
                ctx.retry_later(item, result.detail)
                self.retry_later(work, backoff(self.smtp, work.failures))

    def cap_message(self, size: int) -> str:
        when = self.cap.frees_at(size)
        later = f"; room again at {when:%Y-%m-%d %H:%M} UTC" if when is not None else ""
        return (
            f"{self.smtp.host}: the daily cap of {self.smtp.daily_cap} recipients ([smtp] "
            f"daily_cap) is reached; the rest stays queued{later}"
        )

    async def transact(self, conn: _Connection, client: aiosmtplib.SMTP, item: Outgoing) -> Result:
        host = self.smtp.host
        reused = conn.sent > 0
        lost = f"{host}: connection lost before the data was sent"
        try:
            await client.mail(item.sender)
        except SMTPSenderRefused as exc:
            kind = classify("mail", exc.code, exc.message)
            if kind is Kind.ACCOUNT:
                return Result(kind, account_message(host, exc.code, exc.message, item.sender))
            if reused and exc.code == 421:
                return Result(Kind.RECONNECT, f"{host}: {one_line(f'{exc.code} {exc.message}')}")
            return Result(kind, one_line(f"{exc.code} {exc.message}"))
        except (SMTPException, OSError) as exc:
            return Result(Kind.RECONNECT if reused else Kind.TEMPORARY, f"{lost} ({exc})")
        except ValueError as exc:
            return Result(Kind.PERMANENT, f"cannot send from {item.sender}: {exc}")
        refused: dict[str, SMTPRecipientRefused] = {}
        try:
            for rcpt in item.recipients:
                try:
                    await client.rcpt(rcpt)
                except SMTPRecipientRefused as exc:
                    refused[rcpt] = exc
        except (SMTPException, OSError) as exc:
            return Result(Kind.TEMPORARY, f"{lost} ({exc})")
        except ValueError as exc:
            await _rset(client)
            return Result(Kind.PERMANENT, f"cannot send to {', '.join(item.recipients)}: {exc}")
        if refused:
            await _rset(client)
            return self.refused_result(item, refused)
        self.ctx.transmitting(item)
        try:
            reply = await client.data(item.data)
        except SMTPDataError as exc:
            await _rset(client)
            kind = classify("data", exc.code, exc.message)
            if kind is Kind.ACCOUNT:
                return Result(kind, account_message(host, exc.code, exc.message, item.sender))
            return Result(kind, one_line(f"{exc.code} {exc.message}"))
        except (SMTPException, OSError) as exc:
            return Result(
                Kind.IN_DOUBT,
                f"{host}: connection lost after the data was sent ({exc}); the server may "
                "have the message",
            )
        return Result(Kind.SENT, one_line(f"{reply.code} {reply.message}"))

    def refused_result(self, item: Outgoing, refused: dict[str, SMTPRecipientRefused]) -> Result:
        kinds = [classify("rcpt", e.code, e.message) for e in refused.values()]
        first = next(iter(refused.values()))
        if Kind.ACCOUNT in kinds:
            bad = refused_by_kind(refused, kinds, Kind.ACCOUNT)
            return Result(Kind.ACCOUNT, account_message(
                self.smtp.host, bad.code, bad.message, item.sender))
        kind = Kind.PERMANENT if Kind.PERMANENT in kinds else Kind.TEMPORARY
        if len(item.recipients) == 1:
            return Result(kind, one_line(f"{first.code} {first.message}"))
        listed = "; ".join(one_line(f"{r}: {e.code} {e.message}") for r, e in refused.items())
        return Result(
            kind,
            f"{len(refused)} of {len(item.recipients)} recipients refused, nothing sent: {listed}",
        )


def refused_by_kind(
    refused: dict[str, SMTPRecipientRefused], kinds: list[Kind], kind: Kind
) -> SMTPRecipientRefused:
    return next(e for e, k in zip(refused.values(), kinds, strict=True) if k is kind)


async def _rset(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(SMTPResponseException, SMTPException, OSError):
        await client.rset()


async def run_smtp(items: Sequence[Outgoing], ctx: RunContext) -> None:
    smtp = ctx.config.smtp
    if smtp is None:
        raise TransportError(f"{ctx.config.path}: [transport] kind is smtp but no [smtp] section")
    if not items:
        return
    try:
        run = _Run(items, ctx, smtp)
    except TransportError as exc:
        ctx.stopped = exc.message
        return
    await run.run()
