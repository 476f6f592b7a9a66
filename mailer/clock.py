"""The clock as an argument: core code never reads the time, or waits for it, by itself.

A clock tells the time, says whether the machine keeps it synchronised (:meth:`Clock.sync_status`,
:mod:`mailer.timesync`) and waits: :meth:`Clock.sleep` inside the event loop (the sending code's
only way to wait for time to pass), :meth:`Clock.sleep_blocking` outside it (the release ``wait``
countdown). :class:`FakeClock` moves its own time instead of waiting, so tests take no real time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Protocol

from mailer.timesync import UNKNOWN, SyncStatus, machine_sync


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Aware current time (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, for rates and timeouts."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait *seconds* without blocking the event loop."""
        ...

    def sleep_blocking(self, seconds: float) -> None:
        """Wait *seconds*, blocking the thread (code outside the event loop)."""
        ...

    def sync_status(self) -> SyncStatus:
        """Whether the machine says this clock is synchronised (:mod:`mailer.timesync`)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def sleep_blocking(self, seconds: float) -> None:
        time.sleep(seconds)

    def sync_status(self) -> SyncStatus:
        return machine_sync()


class FakeClock:
    """A clock that tests move by hand; sleeping moves it too (and takes no real time)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start
        self._mono = 1000.0
        self.sync = UNKNOWN  # what sync_status() says; tests set it

    def sync_status(self) -> SyncStatus:
        return self.sync

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += seconds

    def step(self, seconds: float) -> None:
        """Step the wall clock by *seconds* (negative: backwards) without moving the monotonic
        clock, as an NTP correction does."""
        self._now += dt.timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        """Advance by *seconds*, then let the other tasks run once."""
        self.advance(max(seconds, 0.0))
        await asyncio.sleep(0)

    def sleep_blocking(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))
