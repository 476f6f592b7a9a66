"""Provider limits on the client side: a shared rate limiter and a rolling daily cap.

:class:`RateLimiter` spaces the start of every SMTP transaction ``60 / rate_per_minute`` seconds
apart on the clock's monotonic scale (a generic cell-rate algorithm, i.e. a token bucket that
holds ``burst`` tokens; ``burst=1`` is plain even spacing). It sleeps on the clock for exactly
the time left, never in whole seconds, and all connections share one instance, so the rate holds
for the account however many connections are open.

:class:`DailyCap` counts the recipients handed to the server in the last 24 hours (from the
journal, so across runs) plus those in flight, and refuses a message that would go over the cap.
"""

from __future__ import annotations

import datetime as dt

from mailer.clock import Clock
from mailer.store import SmtpLog, Submission

DAY = dt.timedelta(hours=24)


class RateLimiter:
    """At most *rate_per_minute* acquisitions a minute (0 = unlimited), evenly spaced."""

    def __init__(
        self,
        rate_per_minute: int,
        clock: Clock,
        *,
        burst: int = 1,
    ) -> None:
        if rate_per_minute < 0:
            raise ValueError("rate_per_minute must be 0 (unlimited) or positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_minute = rate_per_minute
        self.interval = 60.0 / rate_per_minute if rate_per_minute else 0.0
        self._tolerance = (burst - 1) * self.interval
        self._clock = clock
        self._tat: float | None = None  # theoretical arrival time of the next acquisition

    @property
    def unlimited(self) -> bool:
        return self.interval == 0.0

    def reserve(self) -> float:
        """Take the next slot now; return the monotonic time at which it opens."""
        now = self._clock.monotonic()
        if self.unlimited:
            return now
        tat = now if self._tat is None else max(self._tat, now)
        start = max(now, tat - self._tolerance)
        self._tat = tat + self.interval
        return start

    async def acquire(self) -> float:
        """Wait for the next slot; return the seconds waited."""
        start = self.reserve()
        waited = 0.0
        while True:
            remaining = start - self._clock.monotonic()
            if remaining <= 0:
                return waited
            await self._clock.sleep(remaining)
            waited += remaining


class DailyCap:
    """Recipients handed to the server in the last 24 hours may not exceed *cap* (0 = no cap)."""

    def __init__(
        self,
        cap: int,
        log: SmtpLog | None,
        clock: Clock,
        *,
        queue: list[Submission] | None = None,
    ) -> None:
        """*queue*: where ``submitted`` puts the log rows for the journal's next group commit
        (the send run's queue); without one, each row is written at once."""
        if cap and log is None:
            raise ValueError("a daily cap needs the smtp log of the journal")
        self.cap = cap
        self._log = log
        self._clock = clock
        self._queue = queue
        self._in_flight = 0

    def used(self) -> int:
        """Recipients of the last 24 hours, including messages in flight and rows not yet
        written."""
        queued = sum(s.recipients for s in self._queue) if self._queue else 0
        if not self.cap or self._log is None:
            return self._in_flight + queued
        return self._log.recipients_since(self._clock.now() - DAY) + self._in_flight + queued

    def reserve(self, recipients: int) -> bool:
        """Count *recipients* as in flight if they fit under the cap; False if they do not."""
        if self.cap and self.used() + recipients > self.cap:
            return False
        self._in_flight += recipients
        return True

    def release(self, recipients: int) -> None:
        """The message was not handed to the server after all."""
        self._in_flight = max(0, self._in_flight - recipients)

    def submitted(self, message_id: str, recipients: int) -> None:
        """The server has (or may have) the message: log it for the cap."""
        self.release(recipients)
        if self._queue is not None:
            self._queue.append(Submission(message_id, recipients, self._clock.now()))
        elif self._log is not None:
            self._log.record(message_id, recipients, self._clock.now())

    def frees_at(self, recipients: int) -> dt.datetime | None:
        """When the cap leaves room for *recipients* more (None: never, or no cap)."""
        if not self.cap or self._log is None or recipients > self.cap:
            return None
        needed = self.used() + recipients - self.cap
        if needed <= 0:
            return self._clock.now()
        return self._log.frees_at(self._clock.now() - DAY, needed, DAY)

    def full_message(self, recipients: int) -> str:
        """Why a message of *recipients* cannot go now, and when it can."""
        when = self.frees_at(recipients)
        later = f"; room again at {when:%Y-%m-%d %H:%M} UTC" if when is not None else ""
        return (
            f"the daily cap of {self.cap} recipients ([smtp] daily_cap) is reached; "
            f"the rest stays queued{later}"
        )
