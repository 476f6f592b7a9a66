"""What a send run reports: one :class:`Delivery` per message, :class:`Notice` while it waits,
and the :class:`SendReport` at the end.

The counts of a report always add up to the messages the run was given: every message is sent,
failed, in doubt, left queued (tried and given up on for now, or never reached because the run
stopped) or not claimed (another run had it, or had finished it already).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from mailer.models import State


@dataclass(frozen=True)
class Delivery:
    """What happened to one message in this run."""

    message_id: str
    email: str
    state: State  # SENT, FAILED, IN_DOUBT or PENDING (left queued)
    detail: str  # the server's answer or the reason
    at: dt.datetime


@dataclass(frozen=True)
class Notice:
    """Something the run is doing that is not a message's outcome: waiting to retry, reconnecting.

    ``text`` says what happened in the officer's terms ("127.0.0.1:25 unreachable: Connection
    refused"); with ``wait_seconds`` the run tries again after that long, as attempt
    ``attempt`` of at most ``attempts``. ``at`` is when it was noticed (the run's clock).
    """

    text: str
    at: dt.datetime
    attempt: int = 0  # the number of the next attempt (0: no retry planned)
    attempts: int = 0  # at most this many
    wait_seconds: float = 0.0  # until the next attempt


@dataclass(frozen=True)
class SendReport:
    deliveries: tuple[Delivery, ...]
    not_claimed: int  # rows another process held or had finished already
    stopped: str  # why the run stopped early ("" when it finished)
    started: dt.datetime
    finished: dt.datetime
    sign_in_lapsed: bool = False  # the run stopped because the OAuth 2.0 sign-in lapsed
    planned: int = -1  # the messages the run was given (-1: as many as it reported on)
    remedy: str = ""  # what the officer does before running again, when the cause is local
    # Why the primary relay was given up for [smtp.fallback], which took the rest ('' if not)
    switched: str = ""
    relay_failed: bool = False  # stopped because the (last) relay failed, not for a local cause

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
    def total(self) -> int:
        """The messages this run was given."""
        return len(self.deliveries) + self.not_claimed if self.planned < 0 else self.planned

    @property
    def left_queued(self) -> int:
        """Still pending after the run: tried and given up on for now, or never reached."""
        done = self.sent + self.failed + self.in_doubt + self.not_claimed
        return max(0, self.total - done)

    @property
    def not_reached(self) -> int:
        """Left queued without being tried (the run stopped before it came to them)."""
        return max(0, self.left_queued - self.count(State.PENDING))

    @property
    def seconds(self) -> float:
        return (self.finished - self.started).total_seconds()

    @property
    def ok(self) -> bool:
        return not self.stopped and self.failed == 0 and self.in_doubt == 0 and not self.left_queued


class Progress(Protocol):
    """What a run tells the terminal while it sends (the console implements it)."""

    def started(self, total: int) -> None: ...
    def advance(self, delivery: Delivery) -> None: ...
    def notice(self, notice: Notice) -> None: ...


class NoProgress:
    def started(self, total: int) -> None:
        pass

    def advance(self, delivery: Delivery) -> None:
        pass

    def notice(self, notice: Notice) -> None:
        pass
