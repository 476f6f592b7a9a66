"""Access tokens for SMTP and IMAP: renewed silently, saved after every refresh.

:class:`TokenSource` is what sending and reading use: :meth:`TokenSource.access_token` returns
the saved token while it has more than 5 minutes left and renews it otherwise, so a connection
that opens late in a long run gets a fresh one. It is safe to call from several threads.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from mailer.clock import Clock
from mailer.config import Config, OAuth2Config, Secret, command_output
from mailer.errors import ConfigError, SignInRequired, TransportError
from mailer.oauth.providers import RENEW_BEFORE, Grant, microsoft_token, refresh_token_grant
from mailer.oauth.store import SIGN_IN_AGAIN
from mailer.oauth.store import load as load_cache
from mailer.oauth.store import save as save_cache


@dataclass(frozen=True)
class TokenStatus:
    """What ``mailer check`` shows: who is signed in, how, and when the token was last renewed."""

    account: str
    method: str  # "Microsoft device sign-in", "token_command", ...
    last_refreshed: dt.datetime | None


METHODS = {
    "microsoft": "OAuth 2.0 (Microsoft, MSAL)",
    "google": "OAuth 2.0 (Google)",
    "generic": "OAuth 2.0",
}


def settings(config: Config) -> OAuth2Config:
    """The [oauth2] table, or one line saying what is missing."""
    oauth = config.oauth2
    if oauth is None:
        raise ConfigError(
            f"{config.path}: [oauth2]: missing; add it, or set [smtp] auth = 'password'"
        )
    if not oauth.configured:
        preset = config.smtp.preset if config.smtp is not None else ""
        raise ConfigError(
            f"{config.path}: [oauth2] client_id: missing; the {preset or 'configured'} setup "
            "signs in with OAuth 2.0: add an [oauth2] table with your app registration's "
            "client_id (see 'Signing in'), or set auth = 'password'"
        )
    return oauth


def mailbox(config: Config) -> str:
    """The mailbox to sign in as: [smtp] username, else [imap] username."""
    for server in (config.smtp, config.imap):
        if server is not None and server.auth == "oauth2" and server.username:
            return server.username
    return ""


class TokenSource:
    def __init__(self, config: Config, clock: Clock) -> None:
        self.oauth = settings(config)
        self.clock = clock
        self.username = mailbox(config)
        self._lock = threading.Lock()
        self._grant: Grant | None = None
        self._data: dict[str, Any] | None = None
        self.last_refreshed: dt.datetime | None = None

    @property
    def account(self) -> str:
        data = self._data or {}
        return str(data.get("account") or self.username)

    def status(self) -> TokenStatus:
        method = "token_command" if self.oauth.token_command else METHODS[self._provider()]
        return TokenStatus(self.account, method, self.last_refreshed)

    def _provider(self) -> str:
        return self.oauth.provider or "generic"

    def access_token(self, *, refresh: bool = False) -> Secret:
        """A token with more than 5 minutes left (*refresh*: a new one from the provider, which
        proves that the saved sign-in still works). Raises :class:`SignInRequired` (one line,
        "sign in again: mailer login") when the sign-in has lapsed or was refused."""
        with self._lock:
            if self.oauth.token_command:
                return Secret(command_output(self.oauth.token_command, "[oauth2] token_command"))
            now = self.clock.now()
            fresh = self._grant is not None and self._grant.expires - now > RENEW_BEFORE
            if self._grant is not None and fresh and not refresh:
                return self._grant.token
            data = self._data if self._data is not None else load_cache(self.oauth)
            if data is None:
                who = self.username or "the mailbox"
                raise SignInRequired(f"{who}: not signed in; run: mailer login")
            self._check_app(data)
            account = str(data.get("account") or self.username)
            if self._provider() == "microsoft":
                grant, kept = microsoft_token(self.oauth, data, account, now, force=refresh)
            else:
                grant, kept = refresh_token_grant(self.oauth, data, account, now, force=refresh)
            if grant.refreshed:
                kept = {**kept, "last_refreshed": now.isoformat()}
            if kept is not data:
                save_cache(self.oauth, kept)  # the refresh token rotates: keep the new one
            self._data, self._grant = kept, grant
            stamp = kept.get("last_refreshed")
            self.last_refreshed = dt.datetime.fromisoformat(stamp) if stamp else None
            return grant.token

    def _check_app(self, data: dict[str, Any]) -> None:
        if data.get("provider") != self._provider() or data.get("client_id") != (
            self.oauth.client_id
        ):
            raise SignInRequired(
                f"{self.oauth.token_cache}: signed in with another [oauth2] provider or "
                f"client_id; {SIGN_IN_AGAIN}"
            )


# How long a refresh token lasts when it is not used (each refresh starts the time again):
# Microsoft Entra ID 90 days of inactivity; Google six months unused (7 days in all while the
# Google Cloud app is in "Testing"). Other providers: unknown, so no warning.
LAPSES_UNUSED = {"microsoft": dt.timedelta(days=90), "google": dt.timedelta(days=182)}


@dataclass(frozen=True)
class SignInHealth:
    """Whether the saved sign-in works now, and until when it lasts without being used."""

    account: str
    problem: str  # one line ending in "sign in again: mailer login", or "" when it works
    last_refreshed: dt.datetime | None
    lapses: dt.datetime | None  # last refresh + the provider's inactivity limit
    signed_out: bool = False  # the problem is the sign-in itself (exit code 4), not the network

    def raise_problem(self) -> None:
        if self.signed_out:
            raise SignInRequired(self.problem)
        if self.problem:
            raise TransportError(self.problem)

    def lapse_warning(self, before: dt.datetime, zone: ZoneInfo) -> str:
        """A warning when the sign-in may lapse before *before* (the embargo), else ''."""
        if self.problem or self.lapses is None or self.lapses > before:
            return ""
        when = self.lapses.astimezone(zone).strftime("%Y-%m-%d")
        return (
            f"the sign-in of {self.account} lapses if unused until {when}, before the embargo: "
            "keep the cron line installed (each run renews it) or run 'mailer check' before then"
        )


def sign_in_health(config: Config, clock: Clock, *, refresh: bool) -> SignInHealth:
    """Get an access token (*refresh*: a new one from the provider, which proves that the saved
    refresh token still works) and say when the sign-in would lapse unused. Never raises for a
    lapsed sign-in or an unreachable provider: that is the *problem*."""
    try:
        source = TokenSource(config, clock)
    except ConfigError as exc:
        return SignInHealth(mailbox(config), exc.message, None, None)
    try:
        source.access_token(refresh=refresh)
    except SignInRequired as exc:
        return SignInHealth(source.account, exc.message, source.last_refreshed, None, True)
    except ConfigError as exc:
        return SignInHealth(source.account, exc.message, source.last_refreshed, None)
    except TransportError as exc:
        return SignInHealth(source.account, exc.message, source.last_refreshed, None)
    limit = LAPSES_UNUSED.get(source.oauth.provider or "")
    last = source.last_refreshed
    lapses = last + limit if last is not None and limit is not None else None
    return SignInHealth(source.account, "", last, lapses)


def sign_in_problem(config: Config, clock: Clock) -> str:
    """For the pre-flight of each ``send-due`` before the embargo: '' when the sign-in gives
    an access token now (renewed only when due, so about once an hour, which also keeps the
    refresh token from lapsing unused), else the one line to show. '' without OAuth 2.0."""
    smtp = config.smtp if config.transport.kind == "smtp" else None
    if smtp is None or smtp.auth != "oauth2":
        return ""
    return sign_in_health(config, clock, refresh=False).problem
