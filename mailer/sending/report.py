"""What a send run reports: one :class:`Delivery` per message and the :class:`SendReport`."""

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
class SendReport:
    deliveries: tuple[Delivery, ...]
    not_claimed: int  # rows another process held or had finished already
    stopped: str  # why the run stopped early ("" when it finished)
    started: dt.datetime
    finished: dt.datetime
    sign_in_lapsed: bool = False  # the run stopped because the OAuth 2.0 sign-in lapsed

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
