"""The clock: the real one and the fake one tests move (sleeping moves it too)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from mailer.clock import FakeClock, SystemClock

START = dt.datetime(2027, 6, 25, 10, 0, tzinfo=dt.UTC)


def test_fake_clock_sleeps_by_moving_its_time() -> None:
    clock = FakeClock(START)
    asyncio.run(clock.sleep(2.5))
    clock.sleep_blocking(0.5)
    assert clock.now() == START + dt.timedelta(seconds=3)
    assert clock.monotonic() == 1003.0
    clock.sleep_blocking(-1.0)  # a negative wait does not turn the clock back
    asyncio.run(clock.sleep(-1.0))
    assert clock.now() == START + dt.timedelta(seconds=3)


def test_fake_clock_sleep_lets_other_tasks_run() -> None:
    clock = FakeClock(START)
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async def go() -> None:
        task = asyncio.create_task(other())
        await clock.sleep(1.0)
        assert ran == ["other"]
        await task

    asyncio.run(go())


def test_fake_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(dt.datetime(2027, 6, 25, 10, 0))


def test_system_clock_sleeps_for_real() -> None:
    clock = SystemClock()
    begin = clock.monotonic()
    asyncio.run(clock.sleep(0.01))
    clock.sleep_blocking(0.01)
    assert clock.monotonic() - begin >= 0.02
    assert clock.now().tzinfo is dt.UTC
