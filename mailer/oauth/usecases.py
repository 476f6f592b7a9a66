"""``mailer login`` and ``mailer logout``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailer.clock import Clock
from mailer.config import Config, load_config
from mailer.errors import ConfigError
from mailer.oauth.providers import Show, browser_login, device_login, microsoft_login
from mailer.oauth.store import forget, save
from mailer.oauth.tokens import METHODS, TokenSource, mailbox, settings


@dataclass(frozen=True)
class LoginResult:
    account: str
    method: str
    kept_in: str  # the token cache file, or "the keyring (SERVICE)"
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class LogoutResult:
    forgotten: bool
    kept_in: str


def _kept_in(config: Config) -> str:
    oauth = settings(config)
    if oauth.token_store == "keyring":  # noqa: S105 - a place, not a password
        return f"the keyring ({oauth.keyring_service})"
    return str(oauth.token_cache)


def login(config: Config, *, clock: Clock, show: Show) -> LoginResult:
    """Sign in once, at a terminal; the refresh token is kept for later runs (also cron)."""
    oauth = settings(config)
    if oauth.token_command:
        raise ConfigError(
            f"{config.path}: [oauth2] token_command: is set, so mailer asks it for tokens and "
            "does not sign in itself"
        )
    username = mailbox(config)
    provider = oauth.provider or "generic"
    now = clock.now()
    if provider == "microsoft":
        account, data = microsoft_login(oauth, show)
    elif provider == "generic" and oauth.device_authorization_url:
        data = device_login(oauth, show, clock)
        account = ""
    else:
        data = browser_login(oauth, show, now)
        account = ""
    account = account or username
    save(
        oauth,
        {
            **data,
            "provider": provider,
            "client_id": oauth.client_id,
            "account": account,
            "last_refreshed": now.isoformat(),
        },
    )
    warnings: list[str] = []
    if username and account.lower() != username.lower():
        warnings.append(
            f"signed in as {account}, but the mailbox in config.toml is {username}: the servers "
            "will refuse it; sign in as that mailbox, or correct [smtp] / [imap] username"
        )
    # The token works: one silent renewal proves the cache can be used later (cron).
    TokenSource(config, clock).access_token()
    return LoginResult(account, METHODS[provider], _kept_in(config), tuple(warnings))


def logout(config: Config) -> LogoutResult:
    """Forget the saved sign-in (the tokens on this machine; the app's consent stays)."""
    oauth = settings(config)
    return LogoutResult(forget(oauth), _kept_in(config))


def token_source(config: Config, clock: Clock) -> TokenSource:
    return TokenSource(config, clock)


def login_project(config_path: Path, *, clock: Clock, show: Show) -> LoginResult:
    """``mailer login``: :func:`login` with the project's config.toml."""
    return login(load_config(config_path), clock=clock, show=show)


def logout_project(config_path: Path) -> LogoutResult:
    """``mailer logout``: :func:`logout` with the project's config.toml."""
    return logout(load_config(config_path))
