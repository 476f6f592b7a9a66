"""The time stated by a second source: a server's greeting or an HTTP ``Date:`` header.

Many SMTP servers state the time in their greeting (Exchange and Microsoft 365: ``220 ...
Microsoft ESMTP MAIL Service ready at Sat, 5 Dec 2026 02:10:00 +0000``; Exim and Sendmail by
default), some IMAP servers too; any web server states it in its ``Date:`` header. Each source is
asked once, with a short timeout, in this order: ``[release] clock_url``, the SMTP server's
greeting (``[transport] kind = "smtp"``), the IMAP server's greeting (``[imap]``). The first that
states a time is the answer; the others are not asked.

These sources state whole seconds. The stated time was true at some moment between the request
and the answer, which the monotonic clock measures: :class:`StatedTime` keeps the machine's clock
at the midpoint and the round trip, so the comparison knows its uncertainty (half the round trip
plus half a second).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import http.client
import re
import socket
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailer.addresses import is_loopback
from mailer.clock import Clock
from mailer.config import Config, ImapConfig, SmtpConfig

SOURCE_TIMEOUT_SECONDS = 5.0  # each source; a release in its last minute cannot wait longer
GREETING_LIMIT = 4096  # bytes of a greeting read, at most
RESOLUTION = 1.0  # the sources state whole seconds

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# An RFC 5322 date (the day name optional, the seconds optional), bounded: linear on any text.
_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]{0,3})?"
    rf"([0-9]{{1,2}})[ \t]{{1,3}}(?:{_MONTHS})[ \t]{{1,3}}[0-9]{{4}}[ \t]{{1,3}}"
    r"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?[ \t]{1,3}(?:[+-][0-9]{4}|UTC?|GMT|[ECMP][SD]T|Z)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StatedTime:
    """One source asked: what it stated, and when by the machine's clock."""

    source: str  # "smtp.example.com:587 (SMTP greeting)", "https://example.com/ (Date header)"
    stated: dt.datetime | None  # aware; None: it answered without a time, or did not answer
    local: dt.datetime | None  # the machine's clock at the midpoint of the request
    round_trip: float  # seconds, by the monotonic clock
    text: str  # what it said (shortened), or why it stated no time
    resolution: float = RESOLUTION

    @property
    def offset(self) -> float | None:
        """Seconds the machine's clock is ahead (+) or behind (-) of the source: the source's
        whole second stands for its middle."""
        if self.stated is None or self.local is None:
            return None
        middle = self.stated + dt.timedelta(seconds=self.resolution / 2)
        return (self.local - middle).total_seconds()

    @property
    def uncertainty(self) -> float:
        """How far :attr:`offset` may be from the truth: half the resolution and half the round
        trip (the source stated its time somewhere within the request)."""
        return self.resolution / 2 + self.round_trip / 2


def date_in_text(text: str) -> dt.datetime | None:
    """The first RFC 5322 date in *text* (a greeting), aware; None when there is none."""
    for found in _DATE.finditer(text[:GREETING_LIMIT]):
        try:
            moment = email.utils.parsedate_to_datetime(found.group(0))
        except (ValueError, TypeError, IndexError):
            continue
        if moment.tzinfo is None:  # "-0000": UTC, origin unknown
            moment = moment.replace(tzinfo=dt.UTC)
        return moment
    return None


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 160 else one[:157] + "..."


def _context(ca_file: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)


def _read_greeting(sock: socket.socket | ssl.SSLSocket, *, smtp: bool) -> str:
    """The greeting: SMTP's ``220-`` lines up to the ``220 `` one; IMAP's first line."""
    data = b""
    while len(data) < GREETING_LIMIT:
        chunk = sock.recv(GREETING_LIMIT - len(data))
        if not chunk:
            break
        data += chunk
        lines = data.split(b"\r\n")
        complete = lines[:-1]
        if not complete:
            continue
        if not smtp or any(line[3:4] != b"-" for line in complete):
            break
    return data.decode("utf-8", "replace")


def _greeting(
    host: str,
    port: int,
    security: str,
    ca_file: Path | None,
    clock: Clock,
    *,
    smtp: bool,
    timeout: float,
) -> StatedTime:
    kind = "SMTP" if smtp else "IMAP"
    name = f"{host}:{port} ({kind} greeting)"
    wall, start = clock.now(), clock.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock: socket.socket | ssl.SSLSocket = raw
            if security == "tls":
                sock = _context(ca_file).wrap_socket(raw, server_hostname=host)
            text = _read_greeting(sock, smtp=smtp)
            took = clock.monotonic() - start
            with contextlib.suppress(OSError):
                sock.sendall(b"QUIT\r\n" if smtp else b"a LOGOUT\r\n")
    except (OSError, ssl.SSLError) as exc:
        return StatedTime(name, None, None, 0.0, f"no answer: {exc}")
    stated = date_in_text(text)
    local = wall + dt.timedelta(seconds=took / 2)
    if stated is None:
        return StatedTime(name, None, None, took, f"its greeting states no time: {_short(text)}")
    return StatedTime(name, stated, local, took, _short(text))


def ask_smtp(smtp: SmtpConfig, clock: Clock, *, timeout: float) -> StatedTime:
    """The SMTP server's greeting (over TLS first with ``security = "tls"``)."""
    return _greeting(
        smtp.host, smtp.port, smtp.security, smtp.ca_file, clock, smtp=True, timeout=timeout
    )


def ask_imap(imap: ImapConfig, clock: Clock, *, timeout: float) -> StatedTime:
    """The IMAP server's greeting (few state a time; Courier and some others do)."""
    return _greeting(
        imap.host, imap.port, imap.security, imap.ca_file, clock, smtp=False, timeout=timeout
    )


def ask_url(url: str, clock: Clock, *, timeout: float) -> StatedTime:
    """The ``Date:`` header of a ``HEAD`` request to *url* (HTTPS; plain HTTP on loopback only).
    The round trip measured is the request alone, after the connection is made."""
    name = f"{url} (Date header)"
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=_context(None)
        )
    elif parts.scheme == "http" and is_loopback(host):
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    else:
        return StatedTime(name, None, None, 0.0, "not an https:// address")
    try:
        conn.connect()
        wall, start = clock.now(), clock.monotonic()
        conn.request("HEAD", parts.path or "/", headers={"User-Agent": "mailer clock check"})
        response = conn.getresponse()
        took = clock.monotonic() - start
        header = response.getheader("Date") or ""
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        return StatedTime(name, None, None, 0.0, f"no answer: {exc}")
    finally:
        conn.close()
    stated = date_in_text(header)
    if stated is None:
        return StatedTime(name, None, None, took, f"no usable Date header ({header or 'none'})")
    local = wall + dt.timedelta(seconds=took / 2)
    return StatedTime(name, stated, local, took, f"Date: {_short(header)}")


def stated_times(config: Config, clock: Clock) -> tuple[StatedTime, ...]:
    """Ask the sources in order (module docstring) until one states a time; every one asked."""
    asked: list[StatedTime] = []
    clock_url = config.release.clock_url
    smtp = config.smtp if config.transport.kind == "smtp" else None
    sources: list[Callable[[float], StatedTime]] = []
    if clock_url:
        sources.append(lambda t: ask_url(clock_url, clock, timeout=t))
    if smtp is not None:
        sources.append(lambda t: ask_smtp(smtp, clock, timeout=t))
    if config.imap is not None:
        imap = config.imap
        sources.append(lambda t: ask_imap(imap, clock, timeout=t))
    for ask in sources:
        asked.append(ask(SOURCE_TIMEOUT_SECONDS))
        if asked[-1].stated is not None:
            break
    return tuple(asked)
