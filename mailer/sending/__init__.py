"""Transmitting a planned batch: the only place where asyncio runs.

``send_batch`` is called once from the CLI with messages that are already rendered and checked.
Each message goes through the journal's exactly-once protocol (claim, transmitting, outcome),
and is checked against ``not_before`` (the embargo) immediately before it is transmitted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mailer.clock import Clock
from mailer.config import Config
from mailer.models import Outgoing, State
from mailer.store import Store


@dataclass(frozen=True)
class Delivery:
    """What happened to one message in this run."""

    message_id: str
    email: str
    state: State  # SENT, FAILED, IN_DOUBT or PENDING (left queued)
    detail: str  # the server's answer or the reason
    at: dt.datetime


@dataclass(frozen=True)
class SendReport:
    deliveries: tuple[Delivery, ...]
    not_claimed: int  # rows another process held or had finished already
    stopped: str  # why the run stopped early ("" when it finished)
    started: dt.datetime
    finished: dt.datetime

    def count(self, state: State) -> int:
        return sum(1 for d in self.deliveries if d.state is state)

    @property
    def sent(self) -> int:
        return self.count(State.SENT)

    @property
    def failed(self) -> int:
        return self.count(State.FAILED)

    @property
    def in_doubt(self) -> int:
        return self.count(State.IN_DOUBT)

    @property
    def left_pending(self) -> int:
        return self.count(State.PENDING)

    @property
    def ok(self) -> bool:
        return (
            not self.stopped and self.failed == 0 and self.in_doubt == 0 and not self.left_pending
        )


class Progress(Protocol):
    def started(self, total: int) -> None: ...
    def advance(self, delivery: Delivery) -> None: ...


class NoProgress:
    def started(self, total: int) -> None:
        pass

    def advance(self, delivery: Delivery) -> None:
        pass


@dataclass
class RunContext:
    """What every transport needs; its methods are the journal transitions of one message."""

    config: Config
    store: Store
    clock: Clock
    owner: str
    progress: Progress
    not_before: dt.datetime | None
    password: str | None
    deliveries: list[Delivery] = field(default_factory=list)
    not_claimed: int = 0
    stopped: str = ""

    def claim(self, item: Outgoing) -> bool:
        won = self.store.journal.claim(item.message_id, self.owner, self.clock.now())
        if not won:
            self.not_claimed += 1
        return won

    async def wait_for_embargo(self) -> None:
        """Sleep until ``not_before``; re-read the clock after every sleep (never early)."""
        if self.not_before is None:
            return
        while True:
            remaining = (self.not_before - self.clock.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.5) if remaining > 0.002 else 0.0005)

    def transmitting(self, item: Outgoing) -> None:
        if self.not_before is not None and self.clock.now() < self.not_before:
            raise AssertionError("embargo guard: transmission attempted before the embargo")
        self.store.journal.mark_transmitting(item.message_id, self.clock.now())

    def _record(self, item: Outgoing, state: State, detail: str) -> None:
        delivery = Delivery(item.message_id, item.contact.email, state, detail, self.clock.now())
        self.deliveries.append(delivery)
        self.progress.advance(delivery)

    def sent(self, item: Outgoing, response: str = "") -> None:
        self.store.journal.mark_sent(item.message_id, self.clock.now(), response)
        self._record(item, State.SENT, response)

    def failed(self, item: Outgoing, error: str) -> None:
        self.store.journal.mark_failed(item.message_id, self.clock.now(), error)
        self._record(item, State.FAILED, error)

    def in_doubt(self, item: Outgoing, error: str) -> None:
        self.store.journal.mark_in_doubt(item.message_id, self.clock.now(), error)
        self._record(item, State.IN_DOUBT, error)

    def retry_later(self, item: Outgoing, error: str) -> None:
        """Temporary failure: back to pending (a later attempt or run sends it)."""
        self.store.journal.mark_retry(item.message_id, self.clock.now(), error)

    def left_queued(self, item: Outgoing, error: str) -> None:
        """The run gives up on this message for now; it stays pending for the next run."""
        self.store.journal.mark_retry(item.message_id, self.clock.now(), error)
        self._record(item, State.PENDING, error)

    def unclaim(self, item: Outgoing) -> None:
        self.store.journal.release_claim(item.message_id, self.clock.now())


def send_batch(
    items: Sequence[Outgoing],
    *,
    config: Config,
    store: Store,
    clock: Clock,
    owner: str,
    progress: Progress | None = None,
    not_before: dt.datetime | None = None,
    password: str | None = None,
) -> SendReport:
    """Transmit *items* with the configured transport; return what happened to each."""
    ctx = RunContext(
        config=config,
        store=store,
        clock=clock,
        owner=owner,
        progress=progress or NoProgress(),
        not_before=not_before,
        password=password,
    )
    started = clock.now()
    ctx.progress.started(len(items))
    if config.transport.kind == "outbox":
        from mailer.sending.outbox import run_outbox

        asyncio.run(run_outbox(items, ctx))
    else:
        from mailer.sending.smtp import run_smtp

        asyncio.run(run_smtp(items, ctx))
    return SendReport(
        deliveries=tuple(ctx.deliveries),
        not_claimed=ctx.not_claimed,
        stopped=ctx.stopped,
        started=started,
        finished=clock.now(),
    )
