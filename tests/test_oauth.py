"""Signing in against a real local authorization server (authlib on Flask, TLS): MSAL's device
flow, the installed-app flow (Google's way), the generic device flow, renewal with rotation,
revocation, and the token cache's permissions. No other host is ever contacted."""

from __future__ import annotations

import datetime as dt
import os
import threading
import urllib.request
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailer.clock import SystemClock
from mailer.config import Config, parse_config
from mailer.errors import ExitCode, SignInRequired
from mailer.oauth import Prompt, TokenSource, login, logout
from tests.fixtures_oauth import (
    DESKTOP_CLIENT,
    DESKTOP_SECRET,
    PUBLIC_CLIENT,
    USER,
    AuthServer,
    NetworkGuard,
)


def oauth_config(tmp_path: Path, server: AuthServer, **oauth2: Any) -> Config:
    data: dict[str, Any] = {
        "event": {
            "title": "Opening of the new library",
            "location": "City Hall",
            "start": "2027-06-25 13:00",
            "end": "2027-06-25 15:00",
            "timezone": "Europe/Helsinki",
        },
        "organizer": {"name": "City of Example", "email": USER},
        "transport": {"kind": "smtp"},
        "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none", "username": USER},
        "oauth2": {
            "provider": "microsoft",
            "client_id": PUBLIC_CLIENT,
            "authority_url": server.authority,
            "scopes": ["mail.send", "mail.read"],
            **oauth2,
        },
    }
    return parse_config(data, tmp_path / "config.toml")


@pytest.fixture
def prompts() -> list[Prompt]:
    return []


def approving(server: AuthServer, shown: list[Prompt], **kwargs: Any) -> Any:
    def show(prompt: Prompt) -> None:
        shown.append(prompt)
        threading.Thread(target=server.approve_pending, kwargs=kwargs, daemon=True).start()

    return show


def test_microsoft_device_flow_signs_in_and_renews_silently(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard, prompts: list[Prompt]
) -> None:
    config = oauth_config(tmp_path, auth_server)
    result = login(config, clock=SystemClock(), show=approving(auth_server, prompts))
    assert result.account == USER
    assert result.method == "OAuth 2.0 (Microsoft, MSAL)"
    assert result.warnings == ()
    assert prompts[0].url == f"{auth_server.base}/device"
    assert len(prompts[0].code) == 9  # like WDJB-MJHT
    cache = config.oauth2.token_cache if config.oauth2 else Path()
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    text = cache.read_text()
    token = TokenSource(config, SystemClock()).access_token()
    assert repr(token) == "'***'"
    assert str(token) not in repr(TokenSource(config, SystemClock()).__dict__)
    introspected = auth_server.introspect(str(token))
    assert introspected["active"] is True and introspected["username"] == USER
    assert "access_token" not in result.__repr__() and str(token) not in repr(result)
    assert text  # the cache holds MSAL's serialised state
    assert network_guard.blocked == []


def test_a_short_lived_token_is_renewed_with_a_rotated_refresh_token(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard, prompts: list[Prompt]
) -> None:
    auth_server.state.expires_in = 60  # under MSAL's 5 minutes: renewed at every use
    config = oauth_config(tmp_path, auth_server)
    login(config, clock=SystemClock(), show=approving(auth_server, prompts))
    refreshes = auth_server.state.count("POST /token refresh_token")
    source = TokenSource(config, SystemClock())
    first = source.access_token()
    second = TokenSource(config, SystemClock()).access_token()
    assert first != second
    assert auth_server.state.count("POST /token refresh_token") == refreshes + 2
    assert source.status().last_refreshed is not None
    # the first refresh token was rotated away: only the latest works
    live = [t for t in auth_server.state.tokens if not t.revoked]
    assert len(live) == 1 and live[0].access_token == str(second)
    assert network_guard.blocked == []


def test_a_revoked_sign_in_says_sign_in_again(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard, prompts: list[Prompt]
) -> None:
    auth_server.state.expires_in = 60
    config = oauth_config(tmp_path, auth_server)
    login(config, clock=SystemClock(), show=approving(auth_server, prompts))
    auth_server.revoke_user()
    with pytest.raises(SignInRequired) as info:
        TokenSource(config, SystemClock()).access_token()
    assert str(info.value) == (
        f"{USER}: the sign-in has expired or was revoked; sign in again: mailer login"
    )
    assert info.value.exit_code is ExitCode.SIGN_IN
    assert int(ExitCode.SIGN_IN) == 4
    assert network_guard.blocked == []


def test_a_declined_device_sign_in(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard, prompts: list[Prompt]
) -> None:
    config = oauth_config(tmp_path, auth_server)
    with pytest.raises(SignInRequired) as info:
        login(config, clock=SystemClock(), show=approving(auth_server, prompts, deny=True))
    assert str(info.value).startswith("the sign-in was declined")
    assert config.oauth2 is not None and not config.oauth2.token_cache.exists()


def test_not_signed_in_and_logout(
    tmp_path: Path, auth_server: AuthServer, prompts: list[Prompt]
) -> None:
    config = oauth_config(tmp_path, auth_server)
    with pytest.raises(SignInRequired) as info:
        TokenSource(config, SystemClock()).access_token()
    assert str(info.value) == f"{USER}: not signed in; run: mailer login"
    login(config, clock=SystemClock(), show=approving(auth_server, prompts))
    assert logout(config).forgotten is True
    assert logout(config).forgotten is False
    with pytest.raises(SignInRequired):
        TokenSource(config, SystemClock()).access_token()


def test_a_cache_others_can_read_is_refused(
    tmp_path: Path, auth_server: AuthServer, prompts: list[Prompt]
) -> None:
    config = oauth_config(tmp_path, auth_server)
    login(config, clock=SystemClock(), show=approving(auth_server, prompts))
    assert config.oauth2 is not None
    cache = config.oauth2.token_cache
    os.chmod(cache, 0o644)
    with pytest.raises(SignInRequired) as info:
        TokenSource(config, SystemClock()).access_token()
    assert str(info.value) == (
        f"{cache}: the token cache can be read by others (mode 0644), so it is not used; "
        "sign in again: mailer login"
    )
    # signing in again writes a private file
    login(config, clock=SystemClock(), show=approving(auth_server, prompts))
    assert cache.stat().st_mode & 0o777 == 0o600


def test_generic_device_flow_and_refresh_grant(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard, prompts: list[Prompt]
) -> None:
    config = oauth_config(
        tmp_path,
        auth_server,
        provider="generic",
        authority_url="",
        token_url=f"{auth_server.base}/token",
        device_authorization_url=f"{auth_server.base}/devicecode",
    )
    result = login(config, clock=SystemClock(), show=approving(auth_server, prompts))
    assert (result.account, result.method) == (USER, "OAuth 2.0")
    assert prompts[0].url.startswith(f"{auth_server.base}/device?user_code=")
    source = TokenSource(config, SystemClock())
    token = source.access_token()
    assert auth_server.introspect(str(token))["active"] is True
    # an expired saved token is renewed through the refresh grant, and the rotation is kept
    later = _Later(dt.timedelta(hours=2))
    renewed = TokenSource(config, later).access_token()
    assert renewed != token
    assert auth_server.introspect(str(renewed))["active"] is True
    auth_server.revoke_user()
    with pytest.raises(SignInRequired) as info:
        TokenSource(config, _Later(dt.timedelta(hours=4))).access_token()
    assert str(info.value) == (
        f"{USER}: the sign-in has expired or was revoked: The provided authorization grant "
        "is invalid, expired, or revoked; sign in again: mailer login"
    ) or "sign in again: mailer login" in str(info.value)
    assert network_guard.blocked == []


class _Later(SystemClock):
    def __init__(self, ahead: dt.timedelta) -> None:
        self.ahead = ahead

    def now(self) -> dt.datetime:
        return super().now() + self.ahead


@pytest.fixture
def fake_browser() -> Iterator[list[str]]:
    """Plays the browser: follows the authorization URL, which redirects to the loopback."""
    opened: list[str] = []

    class Browser(webbrowser.BaseBrowser):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            opened.append(url)

            def follow() -> None:
                import ssl

                context = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
                with urllib.request.urlopen(url, context=context, timeout=10) as answer:
                    answer.read()

            threading.Thread(target=follow, daemon=True).start()
            return True

    webbrowser.register("mailer-test", None, Browser(), preferred=True)
    yield opened


def test_google_style_installed_app_flow_with_pkce(
    tmp_path: Path,
    auth_server: AuthServer,
    network_guard: NetworkGuard,
    prompts: list[Prompt],
    fake_browser: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_GOOGLE_SECRET", DESKTOP_SECRET)
    config = oauth_config(
        tmp_path,
        auth_server,
        provider="google",
        client_id=DESKTOP_CLIENT,
        client_secret_env="TEST_GOOGLE_SECRET",
        authority_url="",
        authorization_url=f"{auth_server.base}/authorize",
        token_url=f"{auth_server.base}/token",
    )
    result = login(config, clock=SystemClock(), show=prompts.append)
    assert (result.account, result.method) == (USER, "OAuth 2.0 (Google)")
    assert "code_challenge=" in fake_browser[0] and "code_challenge_method=S256" in fake_browser[0]
    assert prompts[0].url == fake_browser[0] and prompts[0].code == ""
    token = TokenSource(config, _Later(dt.timedelta(hours=2))).access_token()  # google-auth refresh
    assert auth_server.introspect(str(token))["active"] is True
    assert network_guard.blocked == []
