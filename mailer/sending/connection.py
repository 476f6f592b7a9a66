"""One SMTP connection of a send run, one message's place in it, and the retry back-off."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import SMTPException

from mailer.config import SmtpConfig
from mailer.models import Outgoing
from mailer.sending.pipeline import Pipeline

QUIT_TIMEOUT_SECONDS = 2.0


def backoff(smtp: SmtpConfig, failures: int) -> float:
    """Seconds to wait after the *failures*-th failed attempt (1 -> retry_initial_seconds)."""
    delay: float = smtp.retry_initial_seconds * 2.0 ** (failures - 1)
    return min(delay, smtp.retry_max_seconds)


@dataclass
class Work:
    item: Outgoing
    failures: int = 0  # failed attempts in this run
    free_retries: int = 0  # reconnects after the server closed a reused connection
    last_error: str = ""


class Connection:
    def __init__(self) -> None:
        self.client: aiosmtplib.SMTP | None = None
        self.pipe: Pipeline | None = None  # the client's connection, taken over to pipeline
        self.sent = 0  # messages on this connection: >0 means it has been reused
        self.last_seconds = float("inf")  # how long its last transaction took
        self.last_end: float | None = None  # when the last one returned (pipelined)

    def timed(self, began: float, ended: float) -> None:
        """Note how long a message took: a transaction in lock-step; pipelined, where a
        transaction returns before its answer, the time since the previous one returned."""
        if self.pipe is None:
            self.last_seconds = ended - began
        elif self.last_end is not None:
            self.last_seconds = ended - self.last_end
        self.last_end = ended

    @property
    def connected(self) -> bool:
        if self.pipe is not None:
            return self.pipe.open
        return self.client is not None and self.client.is_connected

    def abort(self) -> None:
        client, self.client = self.client, None
        pipe, self.pipe = self.pipe, None
        if pipe is not None:
            pipe.abort()  # an unread answer to an end of data: that message is in doubt
        if client is not None:
            client.close()

    async def settle(self) -> None:
        """Read the answer to the last end of data if it is still unread (pipelining)."""
        if self.pipe is not None:
            await self.pipe.settle()

    async def close(self) -> None:
        client, self.client = self.client, None
        pipe, self.pipe = self.pipe, None
        if pipe is not None:
            await pipe.close()
        if client is None:
            return
        if client.is_connected:
            with contextlib.suppress(SMTPException, OSError):
                await client.quit(timeout=QUIT_TIMEOUT_SECONDS)
        client.close()
