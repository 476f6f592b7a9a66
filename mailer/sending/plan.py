"""The delivery plan: how long sending *n* messages takes with the configured limits (pure).

Shown before every send and by ``mailer release schedule``, e.g.
``200 messages at 30/min over 3 connections: 13:00:00 to 13:06:40 EET``. Where the times come
from, in this order:

1. A rate limit that binds (``[smtp] rate_per_minute`` slower than the server): the limit decides
   and the finish is exact (connections do not raise a per-mailbox rate).
2. Else the pace this server kept in its latest run, measured from the journal's log of
   submissions (:meth:`mailer.store.SmtpLog.recent_rate`).
3. Else an estimate of :data:`SECONDS_PER_MESSAGE` per message on each connection, a typical
   submission over the internet with TLS (:data:`LOCAL_SECONDS_PER_MESSAGE` for a server on this
   machine), said to be one in the text.

The times are shown in the zone of *start* with its abbreviation.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from mailer.addresses import is_loopback
from mailer.config import SmtpConfig
from mailer.store import SendRate
from mailer.wording import plural

SECONDS_PER_MESSAGE = 0.5  # one SMTP transaction on one connection to a remote submission server
LOCAL_SECONDS_PER_MESSAGE = 0.02  # a server on this machine (a relay, a test server)
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
    basis: str = "estimate"  # what the times rest on: "limit", "measured", "estimate" or "outbox"


def _clock(moment: dt.datetime, start: dt.datetime) -> str:
    if moment.date() != start.date():
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{moment:%H:%M:%S}"


def _span(start: dt.datetime, finish: dt.datetime, about: str) -> str:
    """``13:00:00 to about 13:06:40 EET`` (the zone once, at the end)."""
    zone = finish.tzname() or ""
    return f"{_clock(start, start)} to {about}{_clock(finish, start)}{' ' + zone if zone else ''}"


def pace(per_second: float) -> str:
    """A sending pace in words: ``25 a second``, ``40/min``."""
    if per_second >= 1:
        return f"{per_second:.0f} a second"
    return f"{max(1, round(per_second * 60))}/min"


def delivery_plan(
    n: int,
    smtp: SmtpConfig | None,
    start: dt.datetime,
    *,
    recipients: int | None = None,
    sent_last_24h: int = 0,
    measured: SendRate | None = None,
) -> DeliveryPlan:
    """Plan *n* messages from *start* (aware; the text shows times in its zone).

    The daily cap counts *recipients* (default: one per message, more with Bcc batches), plus
    *sent_last_24h*, the recipients already handed to the server in the rolling day. *measured*
    is this server's pace in its latest run, used when no rate limit binds.
    """
    if n < 0:
        raise ValueError("the number of messages cannot be negative")
    if smtp is None:
        seconds = n * OUTBOX_SECONDS_PER_MESSAGE
        finish = start + dt.timedelta(seconds=seconds)
        text = f"{plural(n, 'message')} to the outbox: {_span(start, finish, '')}"
        return DeliveryPlan(n, 0, 1, finish, seconds, False, text, "outbox")

    conns = max(1, min(smtp.connections, n)) if n else max(1, smtp.connections)
    each = LOCAL_SECONDS_PER_MESSAGE if is_loopback(smtp.host) else SECONDS_PER_MESSAGE
    capacity = measured.per_second if measured is not None else conns / each
    rate = smtp.rate_per_minute
    if rate and rate / 60 <= capacity:
        basis, seconds, note = "limit", n / (rate / 60), ""
    elif measured is not None:
        basis, seconds = "measured", n / capacity
        note = f" (this server's pace in its last run: {pace(capacity)})"
    else:
        basis, seconds = "estimate", math.ceil(n / conns) * each
        note = f" (estimated at {each:g} s a message on each connection; nothing measured yet)"
    finish = start + dt.timedelta(seconds=seconds)
    over = f" over {conns} connection{'s' if conns != 1 else ''}"
    limit = f" at {rate}/min" if rate else ""
    about = "" if basis == "limit" else "about "
    text = f"{plural(n, 'message')}{limit}{over}: {_span(start, finish, about)}"
    if not rate:
        note = " (no rate limit" + (f"; {note[2:]}" if note else ")")
    text += note
    wanted = n if recipients is None else recipients
    exceeded = bool(smtp.daily_cap) and sent_last_24h + wanted > smtp.daily_cap
    if exceeded:
        room = max(0, smtp.daily_cap - sent_last_24h)
        text += (
            f"; over the daily cap of {smtp.daily_cap} recipients ([smtp] daily_cap): "
            f"room for {room} now, the rest stays queued for a later run"
        )
    return DeliveryPlan(n, rate, conns, finish, seconds, exceeded, text, basis)
