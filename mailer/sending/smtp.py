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
* Connection lost or timed out after the end of data was written, before its answer was read:
  in doubt (the server may have it); resent only on request. Never otherwise: before the end of
  data (even after 354) the server discards the message, so it is retried.

Where the server offers PIPELINING (and ``[smtp] pipelining`` is true) a connection is taken
over after the login by :class:`~mailer.sending.pipeline.Pipeline`: the envelope and DATA go in
one write and the next message follows the end of data before its answer is read (read by the
next transaction, or by ``Connection.settle`` before the worker waits for anything). Where it
offers CHUNKING too (and ``[smtp] chunking`` is true), ``BDAT <n> LAST`` and the message take
the place of DATA and the end of data (RFC 3030).
* Account errors (authentication, quota 5.4.5 / 5.2.0, 432 4.3.2 too many connections, 5.7.233,
  a refused sender, a bad certificate, or no connection after ``max_attempts`` tries): the run
  stops cleanly with one line in ``ctx.stopped``; messages in flight finish, claimed ones are
  released, everything else stays pending.

While it waits (a back-off before the next connection attempt or retry, a reconnect) it tells the
progress what it waits for (``ctx.notice``: "server unreachable: ..., attempt 3 of 5 in 40 s"),
so that the terminal never stands still without a word.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
from collections.abc import Awaitable, Sequence

import aiosmtplib
from aiosmtplib import SMTPException, SMTPHeloError

from mailer.config import SmtpConfig
from mailer.errors import EmbargoGuardError, SignInRequired, TransportError
from mailer.models import Outgoing, State
from mailer.sending.connection import Connection, Work, backoff
from mailer.sending.context import RunContext
from mailer.sending.limiter import DailyCap, RateLimiter
from mailer.sending.lockstep import transact
from mailer.sending.pipeline import Pipeline
from mailer.sending.probe import (
    Kind,
    Result,
    describe_connect_error,
    new_client,
    tls_context,
    where,
)

PREWARM_SECONDS = 30.0  # connect this long before an embargo, not earlier (servers drop idle ones)
CLAIM_CHUNK = 16  # rows claimed per transaction by a connection (without a rate limit)
FAST_TRANSACTION_SECONDS = 0.005  # chunked claims only while transactions are this quick
FLUSH_AFTER_SECONDS = 0.05  # an outcome waits at most this long for the journal's group commit


class _Run:
    def __init__(self, items: Sequence[Outgoing], ctx: RunContext, smtp: SmtpConfig) -> None:
        self.ctx = ctx
        self.smtp = smtp
        self.queue: asyncio.Queue[Work | None] = asyncio.Queue()
        for item in items:
            self.queue.put_nowait(Work(item))
        self.outstanding = len(items)
        self.workers = max(1, min(smtp.connections, len(items)))
        self.live_workers = self.workers
        self.limiter = RateLimiter(smtp.rate_per_minute, ctx.clock)
        self.cap = DailyCap(smtp.daily_cap, ctx.smtp_log, ctx.clock, queue=ctx.submissions)
        self.stop_event = asyncio.Event()
        self.flush_timer: asyncio.TimerHandle | None = None
        self.flush_error: BaseException | None = None
        self.waiting: dict[asyncio.TimerHandle, Work] = {}
        self.context = tls_context(smtp)
        self.local_hostname: str | None = None

    # --- run control -----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def stop(self, message: str, *, relay_down: bool = False) -> None:
        """End the run with *message*; *relay_down*: because this relay failed at the
        connection or account level (a waiting fallback relay takes the rest)."""
        if relay_down:
            self.ctx.relay_down(message)
        elif not self.ctx.stopped:
            self.ctx.stopped = message
        self.stop_event.set()
        for _ in range(self.workers):
            self.queue.put_nowait(None)

    def done(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            for _ in range(self.workers):
                self.queue.put_nowait(None)

    def retry_later(self, work: Work, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def wake() -> None:
            assert handle is not None
            self.waiting.pop(handle, None)
            if not self.stopping:
                self.queue.put_nowait(work)

        handle = loop.call_later(delay, wake)
        self.waiting[handle] = work

    def flush_soon(self) -> None:
        """Write queued outcomes within FLUSH_AFTER_SECONDS if no transmission does it first."""
        if self.flush_timer is None:
            loop = asyncio.get_running_loop()
            self.flush_timer = loop.call_later(FLUSH_AFTER_SECONDS, self.timed_flush)

    def timed_flush(self) -> None:
        self.flush_timer = None
        try:
            self.ctx.flush()
        except BaseException as exc:  # a journal write failed: end the run, raise it from run()
            self.flush_error = exc
            self.stop_event.set()
            for _ in range(self.workers):
                self.queue.put_nowait(None)

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
            if self.flush_error is not None:
                raise self.flush_error
        except BaseException:
            # A worker failed (a journal write, Ctrl-C): the others must end too. Cancelling is
            # not enough: Python 3.11's asyncio.wait_for, which aiosmtplib awaits every reply
            # with, loses a cancellation that arrives as the reply does, and that worker would
            # then wait for more work forever. Stopping the run ends every worker's loop.
            self.stop_event.set()
            for _ in range(self.workers):
                self.queue.put_nowait(None)
            raise
        finally:
            if self.flush_timer is not None:
                self.flush_timer.cancel()
                self.flush_timer = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            left = list(self.waiting.values())
            for handle in self.waiting:
                handle.cancel()
            self.waiting.clear()
            while not self.queue.empty():
                work = self.queue.get_nowait()
                if work is not None and work.last_error:
                    left.append(work)
            for work in left:  # tried in this run and already back to pending: reported only
                self.ctx.left_queued(work.item, work.last_error)
            self.ctx.flush()  # the outcomes still queued, also on Ctrl-C

    # --- one connection ----------------------------------------------------------------------

    async def worker(self) -> None:
        conn = Connection()
        claimed: collections.deque[Work] = collections.deque()  # this connection's claims
        try:
            await self.prewarm_pause()
            while not self.stopping:
                if not claimed:
                    if self.queue.empty():
                        await conn.settle()  # nothing follows yet: read the last answer now
                    work = await self.queue.get()
                    if work is None or self.stopping:
                        break
                    if not await self.connect(conn):  # connected before claiming anything
                        if not self.stopping:
                            self.queue.put_nowait(work)  # another connection may take it
                        break
                    claimed.extend(self.claim([work, *self.more_work(conn)]))
                    continue
                work = claimed.popleft()
                if not await self.connect(conn):
                    claimed.appendleft(work)
                    break
                if not await self.handle(conn, work):
                    break
        except BaseException:
            conn.abort()  # cancelled (Ctrl-C) or a bug: no polite QUIT, just close
            with contextlib.suppress(Exception):  # best effort: recovery frees them otherwise
                self.give_back(claimed, requeue=False)
            raise
        self.give_back(claimed, requeue=not self.stopping)
        await conn.close()

    def more_work(self, conn: Connection) -> list[Work]:
        """Up to a chunk more from the queue, leaving enough for the other connections.

        Only while the server answers fast: when a transaction takes milliseconds, a claim per
        message costs nothing in comparison, and a chunk held by one connection would leave the
        others idle at the end of the run (16 x 50 ms on a distant server)."""
        if not self.limiter.unlimited or conn.last_seconds > FAST_TRANSACTION_SECONDS:
            return []  # spaced or slow anyway: claim one at a time
        take = min(CLAIM_CHUNK - 1, self.queue.qsize() // self.workers)
        more: list[Work] = []
        while len(more) < take:
            work = self.queue.get_nowait()
            if work is None:  # the run ends: leave the signal for a worker
                self.queue.put_nowait(None)
                break
            more.append(work)
        return more

    def claim(self, works: list[Work]) -> list[Work]:
        """Claim *works* in one transaction; the ones not won are done (another run has them)."""
        won = self.ctx.claim_many([w.item for w in works])  # a subsequence of them, in order
        taken: list[Work] = []
        for work in works:
            if len(taken) < len(won) and work.item is won[len(taken)]:
                taken.append(work)
            else:
                self.done()
        return taken

    def give_back(self, claimed: collections.deque[Work], *, requeue: bool) -> None:
        """Release the claims this connection did not use; back in the queue for the others."""
        if not claimed:
            return
        works = list(claimed)
        claimed.clear()
        self.ctx.unclaim_many([w.item for w in works])
        if requeue:
            for work in works:
                self.queue.put_nowait(work)

    async def prewarm_pause(self) -> None:
        """Do not connect long before the embargo: servers close idle connections."""
        if self.ctx.not_before is None:
            return
        while not self.stopping:
            ahead = (self.ctx.not_before - self.ctx.clock.now()).total_seconds() - PREWARM_SECONDS
            if ahead <= 0:
                return
            await self.unless_stopped(self.ctx.clock.sleep(min(ahead, 1.0)))

    async def fresh_token(self) -> str:
        """An access token for a connection that opens now (renewed when under 5 minutes
        are left; the renewal's HTTPS request runs in a thread, not in the event loop)."""
        if self.ctx.access_token is None:
            return self.ctx.password or ""
        return await asyncio.to_thread(self.ctx.access_token)

    async def connect(self, conn: Connection) -> bool:
        """Make sure *conn* is connected and logged in; False if this connection gives up."""
        if conn.connected:
            return True
        await conn.close()
        failures = 0
        while not self.stopping:
            client = new_client(
                self.smtp,
                self.ctx.password,
                context=self.context,
                local_hostname=self.local_hostname,
                token=self.fresh_token,
            )
            try:
                await client.connect()
                if client.is_ehlo_or_helo_needed:
                    # No login or STARTTLS asked for it: greet now, not before the first
                    # command (after the embargo, a release's first message would pay for it).
                    await greet(client)
            except SignInRequired as exc:  # the sign-in lapsed mid-run: stop, keep the rest
                client.close()
                if not self.ctx.stopped:
                    self.ctx.sign_in_lapsed = True
                self.stop(exc.message, relay_down=True)
                return False
            except (SMTPException, OSError) as exc:
                client.close()
                failure = describe_connect_error(self.smtp, exc)
                if not failure.temporary or self.ctx.switch_relay:
                    # With a fallback relay waiting, it is the retry: no back-off here.
                    self.stop(failure.message, relay_down=True)
                    return False
                failures += 1
                if failures >= self.smtp.max_attempts:
                    self.live_workers -= 1
                    if self.live_workers == 0:
                        self.stop(
                            f"{failure.message} (gave up after {failures} attempts)",
                            relay_down=True,
                        )
                    else:
                        self.ctx.notice(
                            f"{failure.message}: one connection gave up after {failures} "
                            f"attempts; sending on with {self.live_workers}"
                        )
                    return False
                delay = backoff(self.smtp, failures)
                self.ctx.notice(
                    f"server unreachable: {failure.message}",
                    attempt=failures + 1,
                    attempts=self.smtp.max_attempts,
                    wait_seconds=delay,
                )
                await self.pause(delay)
                continue
            conn.client, conn.sent, conn.last_end = client, 0, None
            if self.smtp.pipelining and client.supports_extension("pipelining"):
                conn.pipe = Pipeline(client, host=self.smtp.host, chunking=self.smtp.chunking)
            if failures:
                self.ctx.notice(
                    f"connected again to {where(self.smtp)} after {failures + 1} attempts"
                )
            return True
        return False

    # --- one message -------------------------------------------------------------------------

    async def handle(self, conn: Connection, work: Work) -> bool:
        """Send one message; False when this connection gives up (the work went back)."""
        ctx, item = self.ctx, work.item
        size = len(item.recipients)
        reserved = False
        try:
            if ctx.embargo_ahead() and not await self.unless_stopped(self.embargo(conn)):
                ctx.unclaim(item)
                return False
            if not self.cap.reserve(size):
                ctx.unclaim(item)
                self.stop(f"{self.smtp.host}: {self.cap.full_message(size)}")
                return False
            reserved = True
            ready = self.limiter.unlimited or await self.unless_stopped(self.spaced(conn))
            if not ready or not await self.connect(conn):
                reserved = False
                self.cap.release(size)
                ctx.unclaim(item)
                if not self.stopping:
                    self.queue.put_nowait(work)
                return False
            assert conn.client is not None
            began = ctx.clock.monotonic()
            if conn.pipe is not None:
                found = await conn.pipe.transact(
                    item,
                    transmitting=lambda: ctx.transmitting(item),
                    answered=lambda answer: self.outcome(conn, work, answer),
                    stopped=lambda: (ctx.stopped or "the run stopped") if self.stopping else "",
                )
            else:
                found = await transact(
                    conn.client,
                    item,
                    host=self.smtp.host,
                    reused=conn.sent > 0,
                    transmitting=lambda: ctx.transmitting(item),
                )
            conn.timed(began, ctx.clock.monotonic())
            reserved = False
            if found is not None:  # else the end of data is out: its answer comes later
                self.outcome(conn, work, found)
            return True
        except EmbargoGuardError as exc:
            # The clock went back before the embargo: this message was not sent (its DATA
            # never started); the others finish the message they are sending, then stop.
            if reserved:
                self.cap.release(size)
            ctx.unclaim(item)
            ctx.stop_for_guard(exc)
            self.stop(exc.message)
            return False
        except BaseException:
            # Ctrl-C or a bug: leave the journal consistent, then let it propagate.
            if reserved:
                self.cap.release(size)
            entry = ctx.journal.by_message_id(item.message_id)
            if entry is not None and entry.state is State.TRANSMITTING:
                ctx.in_doubt(item, "interrupted while transmitting; the server may have it")
            elif entry is not None and entry.state is State.CLAIMED:
                ctx.unclaim(item)
            raise

    async def embargo(self, conn: Connection) -> None:
        await conn.settle()  # a pipelined answer is not left unread while waiting
        await self.ctx.wait_for_embargo()

    async def spaced(self, conn: Connection) -> None:
        await conn.settle()
        await self.limiter.acquire()

    def outcome(self, conn: Connection, work: Work, result: Result) -> None:
        ctx, item, size = self.ctx, work.item, len(work.item.recipients)
        work.last_error = result.detail
        if result.kind is Kind.SENT:
            conn.sent += 1
            self.cap.submitted(item.message_id, size)
            ctx.sent(item, result.detail)
            self.flush_soon()
            self.done()
        elif result.kind is Kind.IN_DOUBT:
            self.cap.submitted(item.message_id, size)
            ctx.in_doubt(item, result.detail)
            self.flush_soon()
            self.done()
        elif result.kind is Kind.PERMANENT:
            self.cap.release(size)
            ctx.failed(item, result.detail)
            self.flush_soon()
            self.done()
        elif result.kind is Kind.ACCOUNT or (
            result.relay and result.kind is Kind.TEMPORARY and ctx.switch_relay
        ):
            # Every message would fail, or the relay throttles: stop (the fallback relay, if
            # one waits, takes this message and the rest)
            self.cap.release(size)
            ctx.left_queued(item, result.detail)
            self.stop(result.detail, relay_down=True)
        elif result.kind is Kind.RECONNECT and work.free_retries == 0:
            self.cap.release(size)
            work.free_retries += 1
            ctx.retry_later(item, result.detail)
            ctx.notice(f"reconnecting: {result.detail}")
            self.queue.put_nowait(work)
        else:
            self.cap.release(size)
            work.failures += 1
            if work.failures >= self.smtp.max_attempts:
                ctx.left_queued(item, f"{result.detail} (gave up after {work.failures} attempts)")
                self.done()
            else:
                delay = backoff(self.smtp, work.failures)
                ctx.retry_later(item, result.detail)
                ctx.notice(
                    f"{item.contact.email}: {result.detail}",
                    attempt=work.failures + 1,
                    attempts=self.smtp.max_attempts,
                    wait_seconds=delay,
                )
                self.retry_later(work, delay)


async def greet(client: aiosmtplib.SMTP) -> None:
    """EHLO (its extensions: PIPELINING, SIZE, 8BITMIME), or HELO where EHLO is refused, as
    aiosmtplib itself does before its first command."""
    try:
        await client.ehlo()
    except SMTPHeloError:
        await client.helo()


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
