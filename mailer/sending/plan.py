"""The delivery plan: how long sending *n* messages takes with the configured limits (pure).

Shown before every send and by ``mailer release schedule``, e.g.
``200 messages at 30/min over 3 connections: 13:00:00 to 13:06:40``.
With a rate limit the rate decides (connections do not raise a per-mailbox rate); without one the
estimate assumes :data:`SECONDS_PER_MESSAGE` per message on each connection, a typical submission
over the internet with TLS (a local server is much faster).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from mailer.config import SmtpConfig

SECONDS_PER_MESSAGE = 0.5  # one SMTP transaction on one connection to a remote submission server
OUTBOX_SECONDS_PER_MESSAGE = 0.005


@dataclass(frozen=True)
class DeliveryPlan:
    messages: int
    rate_per_minute: int  # 0 = no limit
    connections: int
    expected_finish: dt.datetime
    seconds: float
    daily_cap_exceeded: bool
    text: str


def _count(n: int) -> str:
    return f"{n} message" if n == 1 else f"{n} messages"


def _clock(moment: dt.datetime, start: dt.datetime) -> str:
    if moment.date() != start.date():
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{moment:%H:%M:%S}"


def delivery_plan(
    n: int,
    smtp: SmtpConfig | None,
    start: dt.datetime,
    *,
    recipients: int | None = None,
    sent_last_24h: int = 0,
) -> DeliveryPlan:
    """Plan *n* messages from *start* (aware; the text shows times in its zone).

    The daily cap counts *recipients* (default: one per message, more with Bcc batches), plus
    *sent_last_24h*, the recipients already handed to the server in the rolling day.
    """
    if n < 0:
        raise ValueError("the number of messages cannot be negative")
    if smtp is None:
        seconds = n * OUTBOX_SECONDS_PER_MESSAGE
        finish = start + dt.timedelta(seconds=seconds)
        text = f"{_count(n)} to the outbox: {_clock(start, start)} to {_clock(finish, start)}"
        return DeliveryPlan(n, 0, 1, finish, seconds, False, text)

    conns = max(1, min(smtp.connections, n)) if n else max(1, smtp.connections)
    capacity = conns / SECONDS_PER_MESSAGE  # messages a second the connections can carry
    rate = smtp.rate_per_minute
    per_second = min(capacity, rate / 60) if rate else capacity
    seconds = n / per_second if rate else math.ceil(n / conns) * SECONDS_PER_MESSAGE
    finish = start + dt.timedelta(seconds=seconds)
    over = f" over {conns} connection{'s' if conns != 1 else ''}"
    limit = f" at {rate}/min" if rate else ""
    about = "" if rate and per_second < capacity else "about "
    text = f"{_count(n)}{limit}{over}: {_clock(start, start)} to {about}{_clock(finish, start)}"
    if not rate:
        text += " (no rate limit)"
    wanted = n if recipients is None else recipients
    exceeded = bool(smtp.daily_cap) and sent_last_24h + wanted > smtp.daily_cap
    if exceeded:
        room = max(0, smtp.daily_cap - sent_last_24h)
        text += (
            f"; over the daily cap of {smtp.daily_cap} recipients ([smtp] daily_cap): "
            f"room for {room} now, the rest stays queued for a later run"
        )
    return DeliveryPlan(n, rate, conns, finish, seconds, exceeded, text)
