"""Talking to the SMTP server: opening a connection (TLS, login), one mail transaction, what the
server's refusals mean, and the pre-flight probe.

Shared by the SMTP transport and ``mailer check``. Certificates are always verified, against the
system store or ``[smtp] ca_file``; there is no switch to turn verification off.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPConnectResponseError,
    SMTPConnectTimeoutError,
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from mailer.config import SmtpConfig
from mailer.errors import SignInRequired, TransportError
from mailer.models import Outgoing
from mailer.sending.bearer import BearerSMTP

AUTH_HINT = "check [smtp] username and the password"
UPLOAD_BYTES_PER_SECOND = 50_000  # the slowest uplink assumed for DATA timeouts
_SECURITY_NAME = {"starttls": "STARTTLS", "tls": "TLS", "none": "plain"}
_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_AUTH_CODES = (530, 534, 535, 538)
_AUTH_STATUS = ("5.7.3", "5.7.8", "5.7.57", "5.7.139")
_QUOTA_STATUS = ("5.4.5", "5.2.0")


class Kind(enum.Enum):
    SENT = "sent"
    TEMPORARY = "temporary"  # nothing was accepted; try again later
    RECONNECT = "reconnect"  # a reused connection was closed by the server: reconnect, no backoff
    PERMANENT = "permanent"  # this message fails
    ACCOUNT = "account"  # every message would fail: stop the run
    IN_DOUBT = "in_doubt"  # the data may have arrived


def enhanced_status(message: str) -> str:
    found = _ENHANCED.search(message)
    return found.group(1) if found else ""


def classify(stage: str, code: int, message: str) -> Kind:
    """What a negative reply at *stage* ("mail", "rcpt" or "data") means for the run."""
    status = enhanced_status(message)
    if code in _AUTH_CODES or status in _AUTH_STATUS or code == 432 or status == "4.3.2":
        return Kind.ACCOUNT
    if status in _QUOTA_STATUS or status == "5.7.233" or status == "5.7.60":
        return Kind.ACCOUNT
    if stage == "mail" and code >= 500:
        return Kind.ACCOUNT  # the sender is refused: so would every other message be
    if stage == "data" and status == "5.2.2":
        return Kind.ACCOUNT  # our own mailbox is full (Microsoft 365 keeps a copy in Sent Items)
    if 400 <= code < 500:
        return Kind.TEMPORARY
    return Kind.PERMANENT


def relay_trouble(code: int, message: str) -> bool:
    """Whether a temporary (4xx) reply says the relay cannot take mail now, whatever the
    message: a release with ``[smtp.fallback]`` switches to it instead of waiting.

    421 (service not available, closing); 452 (too many messages or recipients, insufficient
    storage); any 4.7.x (throttling and temporary policy, e.g. Microsoft's 4.7.500 "server
    busy", 4.7.0 temporary authentication failure); 4.3.1 (the relay's storage), 4.3.2 (too
    many connections), 4.4.5 (congestion); a 451 that speaks of a rate, a limit, throttling or
    being busy. Not a reason: any other 4xx (a mailbox or greylisting answer about one
    recipient, retried as before) and every 5xx refusal of a recipient or a message.
    """
    if not 400 <= code < 500:
        return False
    status = enhanced_status(message)
    if code in (421, 452) or status.startswith("4.7.") or status in ("4.3.1", "4.3.2", "4.4.5"):
        return True
    text = message.lower()
    return code == 451 and any(w in text for w in ("rate", "limit", "throttl", "busy"))


def account_message(host: str, code: int, message: str, sender: str) -> str:
    """The one line that stops the run, with what to do next."""
    status = enhanced_status(message)
    reply = one_line(f"{code} {message}")
    if code in _AUTH_CODES or status in _AUTH_STATUS:
        hint = AUTH_HINT
    elif code == 432 or status == "4.3.2":
        hint = "too many connections; lower [smtp] connections (Microsoft 365 allows 3 per mailbox)"
    elif status in _QUOTA_STATUS or "quota" in message.lower():
        hint = "the account's sending limit is reached; the rest stays queued: run again later"
    elif status == "5.7.233":
        hint = "the organisation's external recipient limit is reached; run again later"
    elif status == "5.2.2":
        hint = "the sending mailbox is full; make room in it and run again"
    else:
        hint = f"the server refuses to send as {sender}; check [organizer] email and the account"
    return f"{host}: {reply}: {hint}"


@dataclass(frozen=True)
class ConnectFailure:
    """Why a connection could not be opened: one line, and whether trying again may help."""

    message: str
    temporary: bool


@dataclass(frozen=True)
class Result:
    kind: Kind
    detail: str
    # A temporary refusal that is about the relay, not this message (relay_trouble): a release
    # with [smtp.fallback] switches relays on it instead of retrying
    relay: bool = False


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def where(smtp: SmtpConfig) -> str:
    return f"{smtp.host}:{smtp.port}"


def tls_context(smtp: SmtpConfig) -> ssl.SSLContext | None:
    """A verifying client context (system store, or only ``ca_file`` when set); None for 'none'."""
    if smtp.security == "none":
        return None
    cafile = str(smtp.ca_file) if smtp.ca_file is not None else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except FileNotFoundError:
        raise TransportError(f"[{smtp.section}] ca_file: no such file: {smtp.ca_file}") from None
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(
            f"[{smtp.section}] ca_file: cannot load {smtp.ca_file} as PEM certificates: {exc}"
        ) from None


def new_client(
    smtp: SmtpConfig,
    password: str | None,
    *,
    context: ssl.SSLContext | None,
    local_hostname: str | None = None,
    timeout: float | None = None,
    token: Callable[[], Awaitable[str]] | None = None,
) -> aiosmtplib.SMTP:
    """An unconnected client; ``connect()`` does the greeting, STARTTLS and the login (with
    ``auth = "oauth2"``: SASL XOAUTH2, or OAUTHBEARER where only that is offered, with a token
    from *token*, asked at every connect)."""
    login = bool(smtp.username)
    if smtp.auth == "oauth2":
        return BearerSMTP(
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            oauth_token_generator=token or _fixed(password or ""),
            local_hostname=local_hostname,
            timeout=smtp.timeout_seconds if timeout is None else timeout,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            tls_context=context,
        )
    return aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username if login else None,
        password=(password or "") if login else None,
        local_hostname=local_hostname,
        timeout=smtp.timeout_seconds if timeout is None else timeout,
        use_tls=smtp.security == "tls",
        start_tls=smtp.security == "starttls",
        tls_context=context,
    )


def _fixed(token: str) -> Callable[[], Awaitable[str]]:
    async def give() -> str:
        return token

    return give


def auth_hint(smtp: SmtpConfig) -> str:
    if smtp.auth == "oauth2":
        return (
            f"the server refused the access token: check [{smtp.section}] username, that SMTP "
            "AUTH is enabled for the mailbox, or sign in again: mailer login"
        )
    return f"check [{smtp.section}] username and the password"


def _in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def reply_text(code: int, message: str) -> str:
    return one_line(f"{code} {message}")


def _no_auth(smtp: SmtpConfig, starttls_offered: bool | None) -> str:
    """The server did not offer login (AUTH) although [smtp] username is set: advice that fits
    [smtp] security (and what the server offered, when known)."""
    at = where(smtp)
    if smtp.security != "none":
        return (
            f"{at}: the server does not offer login (AUTH); leave [{smtp.section}] username "
            "empty if it needs none"
        )
    if starttls_offered:
        return (
            f"{at}: the server offers login (AUTH) only after STARTTLS, and [{smtp.section}] "
            "security is 'none': set security = 'starttls'"
        )
    offered = "nor STARTTLS " if starttls_offered is False else ""
    return (
        f"{at}: the server offers no login (AUTH) {offered}on this unencrypted connection "
        f"(security = 'none'): leave [{smtp.section}] username empty if it lets this machine send "
        "without one; otherwise use its submission port: 587 with security = 'starttls', or "
        "465 with security = 'tls'"
    )


def describe_connect_error(
    smtp: SmtpConfig, exc: BaseException, *, starttls_offered: bool | None = None
) -> ConnectFailure:
    """Turn what ``connect()`` raised into one line for the officer (never the password).

    *starttls_offered*: whether the server's EHLO listed STARTTLS, when the caller knows.
    """
    at = where(smtp)
    verify = _in_chain(exc, ssl.SSLCertVerificationError)
    if isinstance(verify, ssl.SSLCertVerificationError):
        reason = verify.verify_message or verify.reason or "untrusted certificate"
        hint = (
            f"the CA in [{smtp.section}] ca_file does not vouch for it"
            if smtp.ca_file is not None
            else "if the server uses a private or self-signed CA, set "
            f"[{smtp.section}] ca_file to its CA certificate"
        )
        return ConnectFailure(f"{at}: certificate verify failed ({reason}); {hint}", False)
    tls_error = _in_chain(exc, ssl.SSLError)
    if isinstance(tls_error, ssl.SSLError):
        return ConnectFailure(
            f"{at}: TLS handshake failed ({tls_error.reason or tls_error}); check "
            f"[{smtp.section}] security ('tls' for port 465, 'starttls' for 587)",
            False,
        )
    if isinstance(exc, SignInRequired):
        return ConnectFailure(exc.message, False)
    if isinstance(exc, SMTPAuthenticationError):
        return ConnectFailure(
            f"{at}: {reply_text(exc.code, exc.message)}: {auth_hint(smtp)}", False
        )
    if isinstance(exc, SMTPConnectResponseError | SMTPResponseException):
        text = f"{at}: {reply_text(exc.code, exc.message)}"
        if exc.code in (530, 534, 535, 538):
            return ConnectFailure(f"{text}: {auth_hint(smtp)}", False)
        if exc.code == 432 or "4.3.2" in exc.message:
            return ConnectFailure(
                f"{text}: too many connections; lower [{smtp.section}] connections "
                "(Microsoft 365 allows 3 per mailbox)",
                False,
            )
        return ConnectFailure(text, 400 <= exc.code < 500)
    if isinstance(exc, SMTPConnectTimeoutError):
        return ConnectFailure(
            f"{at}: no greeting within {smtp.timeout_seconds:g} s (is [{smtp.section}] security "
            "right? port 465 needs 'tls', 587 'starttls')",
            True,
        )
    if isinstance(exc, SMTPTimeoutError):
        return ConnectFailure(f"{at}: the server did not answer in time", True)
    if isinstance(exc, SMTPServerDisconnected):
        return ConnectFailure(f"{at}: the server closed the connection", True)
    if isinstance(exc, SMTPConnectError):
        cause = exc.__cause__
        reason = _os_reason(cause) if isinstance(cause, OSError) else exc.message
        return ConnectFailure(f"{at}: cannot connect: {one_line(reason)}", True)
    if isinstance(exc, SMTPException):
        text = one_line(exc.message)
        if "AUTH" in text:
            return ConnectFailure(_no_auth(smtp, starttls_offered), False)
        if "STARTTLS" in text:
            return ConnectFailure(
                f"{at}: the server does not offer STARTTLS (security = 'starttls'); if it "
                "expects TLS from the first byte (usually port 465), set "
                f"[{smtp.section}] security = 'tls'",
                False,
            )
        return ConnectFailure(f"{at}: {text}", True)
    if isinstance(exc, OSError):
        return ConnectFailure(f"{at}: cannot connect: {one_line(_os_reason(exc))}", True)
    return ConnectFailure(f"{at}: {one_line(str(exc))}", True)


def _os_reason(exc: OSError) -> str:
    """'Connection refused', not asyncio's "Connect call failed ('127.0.0.1', 25)"."""
    if isinstance(exc.errno, int) and exc.errno > 0:  # resolver errors are negative
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


def tls_version(client: aiosmtplib.SMTP) -> str:
    try:
        obj = client.get_transport_info("ssl_object")
    except SMTPServerDisconnected:
        return ""
    if isinstance(obj, ssl.SSLObject | ssl.SSLSocket):
        return obj.version() or ""
    return ""


async def probe_smtp(smtp: SmtpConfig, password: str | None, *, timeout: float) -> str:
    """Connect, (STARTTLS,) log in and QUIT without sending; describe what worked in one line."""
    client = new_client(smtp, password, context=tls_context(smtp), timeout=timeout)
    try:
        try:
            await client.connect()
        except SignInRequired:
            raise
        except (SMTPException, OSError) as exc:
            offered = None
            if smtp.security == "none" and "AUTH" in str(exc):
                offered = await _offers_starttls(smtp, timeout=timeout)
            raise TransportError(
                describe_connect_error(smtp, exc, starttls_offered=offered).message
            ) from None
        version = tls_version(client)
        mechanism = client.mechanism if isinstance(client, BearerSMTP) else ""
        with contextlib.suppress(SMTPException, OSError):  # logged in is what counts
            await client.quit()
    finally:
        client.close()
    mode = _SECURITY_NAME[smtp.security]
    security = f"{mode} {version}" if version else ("plain (no TLS)" if mode == "plain" else mode)
    login = f"logged in as {smtp.username}" if smtp.username else "no login configured"
    if smtp.auth == "oauth2":
        login = f"logged in as {smtp.username} with {mechanism or 'XOAUTH2'}"
    return f"{where(smtp)} {security}, {login}"


async def _offers_starttls(smtp: SmtpConfig, *, timeout: float) -> bool | None:
    """Whether the server's EHLO lists STARTTLS (a second connection, without login); None
    when it cannot be told."""
    client = aiosmtplib.SMTP(
        hostname=smtp.host, port=smtp.port, timeout=timeout, use_tls=False, start_tls=False
    )
    try:
        await client.connect()
        await client.ehlo()
        offered = client.supports_extension("starttls")
        with contextlib.suppress(SMTPException, OSError):
            await client.quit()
        return offered
    except (SMTPException, OSError):
        return None
    finally:
        client.close()


def run_probe(smtp: SmtpConfig, password: str | None, *, timeout: float) -> str:
    """:func:`probe_smtp` for synchronous callers (its own event loop)."""
    return asyncio.run(probe_smtp(smtp, password, timeout=timeout))


def data_timeout(client: aiosmtplib.SMTP, size: int) -> float:
    """The timeout for DATA: aiosmtplib starts it when the data is buffered, not when it is sent,
    so a large message on a slow uplink gets time for the upload (at least 50 kB/s) on top."""
    return round((client.timeout or 60.0) + size / UPLOAD_BYTES_PER_SECOND, 1)


def refusal(stage: str, host: str, exc: SMTPResponseException, sender: str) -> Result:
    kind = classify(stage, exc.code, exc.message)
    if kind is Kind.ACCOUNT:
        return Result(kind, account_message(host, exc.code, exc.message, sender))
    relay = kind is Kind.TEMPORARY and relay_trouble(exc.code, exc.message)
    return Result(kind, one_line(f"{exc.code} {exc.message}"), relay)


def recipients_refused(
    host: str, item: Outgoing, refused: dict[str, SMTPRecipientRefused]
) -> Result:
    """Some or all recipients refused: the message is not sent to anyone."""
    results = {r: refusal("rcpt", host, e, item.sender) for r, e in refused.items()}
    for result in results.values():
        if result.kind is Kind.ACCOUNT:
            return result
    permanent = any(r.kind is Kind.PERMANENT for r in results.values())
    throttled = [r for r in results.values() if r.relay]
    if throttled and not permanent:
        return throttled[0]  # the relay's trouble, not the recipients'
    kind = Kind.PERMANENT if permanent else Kind.TEMPORARY
    if len(item.recipients) == 1:
        return Result(kind, next(iter(results.values())).detail)
    listed = "; ".join(f"{r}: {result.detail}" for r, result in results.items())
    total = len(item.recipients)
    return Result(kind, f"{len(refused)} of {total} recipients refused, nothing sent: {listed}")
