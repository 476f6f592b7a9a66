"""The three ways to sign in and to renew an access token.

* ``microsoft``: MSAL's ``PublicClientApplication`` with the device-code flow; silent acquisition
  afterwards (MSAL renews with the refresh token and rotates it).
* ``google``: google-auth-oauthlib's installed-app flow with a loopback redirect (Google's device
  flow does not allow mail scopes); google-auth's ``Credentials.refresh`` afterwards.
* ``generic``: the device authorization grant (RFC 8628) when ``device_authorization_url`` is
  set, else an authorization code with PKCE and a loopback redirect; the refresh grant afterwards.

Each returns the data to keep in the token cache. No token is ever put into a message: errors
quote only the server's error code and the first sentence of its description.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mailer.clock import Clock
from mailer.config import OAuth2Config, Secret, secret_from_keyring
from mailer.errors import ConfigError, SignInRequired, TransportError
from mailer.oauth.store import SIGN_IN_AGAIN

HTTP_TIMEOUT_SECONDS = 30.0
RENEW_BEFORE = dt.timedelta(minutes=5)  # an access token with less left is renewed first
GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - an address
MICROSOFT_LOGIN = "https://login.microsoftonline.com"
_MSAL_RESERVED = {"openid", "profile", "offline_access"}
LOGIN_WAIT_SECONDS = 300


@dataclass(frozen=True)
class Prompt:
    """What the officer must do in a browser to sign in."""

    url: str
    code: str  # the device code to type in; "" for a browser sign-in on this machine


Show = Callable[[Prompt], None]


@dataclass(frozen=True)
class Grant:
    """An access token with its expiry; ``refreshed``: it came from the server just now."""

    token: Secret
    expires: dt.datetime
    refreshed: bool


def refused(error: str, description: str = "") -> str:
    """What the identity provider said, in one line without trace IDs or tokens."""
    first = description.strip().splitlines()[0] if description.strip() else ""
    first = first.split(" Trace ID:")[0].split(". ")[0].strip().rstrip(".")
    if error in ("invalid_grant", "expired_token"):
        why = "the sign-in has expired or was revoked"
    elif error in ("interaction_required", "consent_required"):
        why = "the app needs consent (or a new sign-in)"
    elif error == "access_denied":
        why = "the sign-in was declined"
    elif error in ("invalid_client", "unauthorized_client"):
        why = "the identity provider does not know this app (check [oauth2] client_id and tenant)"
    else:
        why = f"the identity provider refused ({error or 'no reason given'})"
    return f"{why}: {first[:160]}" if first and first != error else why


def client_secret(oauth: OAuth2Config) -> Secret | None:
    if oauth.client_secret_env and os.environ.get(oauth.client_secret_env):
        return Secret(os.environ[oauth.client_secret_env])
    if oauth.keyring_service:
        return secret_from_keyring(oauth.keyring_service, oauth.client_id)
    return None


def _expiry(now: dt.datetime, expires_in: object) -> dt.datetime:
    seconds = expires_in if isinstance(expires_in, int | float) else 3600
    return now + dt.timedelta(seconds=float(seconds))


def _http() -> Any:
    import requests

    return requests


def _session(oauth: OAuth2Config) -> Any:
    """A requests session for the identity provider. With ``[oauth2] ca_file`` it trusts only
    that file, even where REQUESTS_CA_BUNDLE is set (which would otherwise win over verify=)."""
    requests = _http()
    ca_file = str(oauth.ca_file) if oauth.ca_file is not None else None
    if ca_file is not None and not oauth.ca_file.is_file():  # type: ignore[union-attr]
        raise ConfigError(f"[oauth2] ca_file: no such file: {oauth.ca_file}")

    class Session(requests.Session):  # type: ignore[misc,name-defined]
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
            settings = super().merge_environment_settings(*args, **kwargs)
            if ca_file is not None:
                settings["verify"] = ca_file
            return settings

    return Session()


# --- Microsoft -------------------------------------------------------------------------------


def _msal_app(oauth: OAuth2Config, serialized: str | None) -> tuple[Any, Any]:
    import msal

    cache = msal.SerializableTokenCache()
    if serialized:
        cache.deserialize(serialized)
    try:
        if oauth.authority_url:
            app = msal.PublicClientApplication(
                oauth.client_id,
                oidc_authority=oauth.authority_url,
                token_cache=cache,
                timeout=HTTP_TIMEOUT_SECONDS,
                http_client=_session(oauth),
            )
        else:
            app = msal.PublicClientApplication(
                oauth.client_id,
                authority=f"{MICROSOFT_LOGIN}/{oauth.tenant}",
                token_cache=cache,
                timeout=HTTP_TIMEOUT_SECONDS,
                http_client=_session(oauth),
            )
    except ValueError as exc:
        raise ConfigError(f"[oauth2] tenant: {exc}") from None
    except OSError as exc:
        raise TransportError(f"cannot reach the Microsoft sign-in service: {exc}") from None
    return app, cache


def _msal_scopes(oauth: OAuth2Config) -> list[str]:
    return [s for s in oauth.scopes if s not in _MSAL_RESERVED]


def microsoft_login(oauth: OAuth2Config, show: Show) -> tuple[str, dict[str, Any]]:
    app, cache = _msal_app(oauth, None)
    flow = app.initiate_device_flow(scopes=_msal_scopes(oauth))
    if "user_code" not in flow:
        raise SignInRequired(
            refused(flow.get("error", ""), flow.get("error_description", "")).replace(
                SIGN_IN_AGAIN, ""
            )
        )
    show(Prompt(url=flow.get("verification_uri", ""), code=flow["user_code"]))
    result = app.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        raise SignInRequired(refused(result.get("error", ""), result.get("error_description", "")))
    claims = result.get("id_token_claims") or {}
    account = claims.get("preferred_username") or ""
    if not account:
        accounts = app.get_accounts()
        account = accounts[0].get("username", "") if accounts else ""
    return account, {"msal": cache.serialize()}


def microsoft_token(
    oauth: OAuth2Config,
    data: dict[str, Any],
    account: str,
    now: dt.datetime,
    *,
    force: bool = False,
) -> tuple[Grant, dict[str, Any]]:
    app, cache = _msal_app(oauth, data.get("msal"))
    accounts = app.get_accounts(username=account) if account else app.get_accounts()
    if not accounts:
        raise SignInRequired(f"not signed in as {account or 'anyone'}; {SIGN_IN_AGAIN}")
    result = app.acquire_token_silent_with_error(
        _msal_scopes(oauth), account=accounts[0], force_refresh=force
    )
    if not result or "access_token" not in result:
        error = (result or {}).get("error", "invalid_grant")
        raise SignInRequired(
            f"{account}: {refused(error, (result or {}).get('error_description', ''))}; "
            f"{SIGN_IN_AGAIN}"
        )
    refreshed = result.get("token_source") == "identity_provider"
    grant = Grant(Secret(result["access_token"]), _expiry(now, result.get("expires_in")), refreshed)
    return grant, {**data, "msal": cache.serialize()} if cache.has_state_changed else data


# --- Google and generic: authorization code with PKCE, loopback redirect -----------------------


@contextlib.contextmanager
def _relaxed_scopes() -> Iterator[None]:
    """Google adds ``openid`` and others to the granted scopes; oauthlib would refuse that."""
    before = os.environ.get("OAUTHLIB_RELAX_TOKEN_SCOPE")
    os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"  # noqa: S105 - a switch
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OAUTHLIB_RELAX_TOKEN_SCOPE", None)
        else:
            os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = before


def _endpoints(oauth: OAuth2Config) -> tuple[str, str]:
    if oauth.provider == "google":
        return oauth.authorization_url or GOOGLE_AUTH_URL, oauth.token_url or GOOGLE_TOKEN_URL
    return oauth.authorization_url, oauth.token_url


def browser_login(oauth: OAuth2Config, show: Show, now: dt.datetime) -> dict[str, Any]:
    from google_auth_oauthlib.flow import InstalledAppFlow

    auth_uri, token_uri = _endpoints(oauth)
    secret = client_secret(oauth)
    if oauth.provider == "google" and secret is None:
        raise ConfigError(
            "[oauth2] client_secret_env: Google's Desktop app needs its client secret: set the "
            "environment variable named there (or keyring_service)"
        )
    client: dict[str, Any] = {
        "client_id": oauth.client_id,
        "auth_uri": auth_uri,
        "token_uri": token_uri,
        "redirect_uris": ["http://127.0.0.1"],
    }
    if secret is not None:
        client["client_secret"] = str(secret)
    flow = InstalledAppFlow.from_client_config(
        {"installed": client}, scopes=list(oauth.scopes), autogenerate_code_verifier=True
    )

    def shown(url: str) -> bool:
        show(Prompt(url=url, code=""))
        return True

    try:
        with _relaxed_scopes(), _browser(shown):
            creds = flow.run_local_server(
                host="127.0.0.1",
                port=0,
                open_browser=True,
                authorization_prompt_message="",
                success_message="Signed in. You can close this window and return to mailer.",
                timeout_seconds=LOGIN_WAIT_SECONDS,
            )
    except Exception as exc:  # oauthlib's errors: access_denied, invalid_grant, a timeout
        error = getattr(exc, "error", "") or type(exc).__name__
        raise SignInRequired(refused(str(error), getattr(exc, "description", "") or "")) from None
    if creds is None or not creds.refresh_token:
        raise SignInRequired("the sign-in did not finish in time (no refresh token)")
    expires = creds.expiry.replace(tzinfo=dt.UTC) if creds.expiry else now
    return {
        "token": {
            "access_token": creds.token,
            "refresh_token": creds.refresh_token,
            "expires": expires.isoformat(),
        }
    }


@contextlib.contextmanager
def _browser(shown: Callable[[str], bool]) -> Iterator[None]:
    """Show the address through mailer's console, then let the system open a browser (on a
    machine without one, the officer opens the address shown)."""
    import webbrowser

    original = webbrowser.get

    class Showing:
        def __init__(self, using: str | None) -> None:
            self.using = using

        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            shown(url)
            with contextlib.suppress(Exception):
                original(self.using).open(url, new, autoraise)
            return True

    webbrowser.get = Showing  # type: ignore[assignment]
    try:
        yield
    finally:
        webbrowser.get = original


# --- generic: device authorization grant (RFC 8628) --------------------------------------------


def _post(oauth: OAuth2Config, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    requests = _http()
    try:
        response = _session(oauth).post(url, data=form, timeout=HTTP_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise TransportError(
            f"{url}: cannot reach the identity provider: {type(exc).__name__}"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}


def device_login(oauth: OAuth2Config, show: Show, clock: Clock) -> dict[str, Any]:
    form = {"client_id": oauth.client_id, "scope": " ".join(oauth.scopes)}
    status, body = _post(oauth, oauth.device_authorization_url, form)
    if status != 200 or "device_code" not in body:
        raise SignInRequired(
            refused(body.get("error", f"HTTP {status}"), body.get("error_description", ""))
        )
    show(
        Prompt(
            url=body.get("verification_uri_complete") or body.get("verification_uri", ""),
            code=str(body.get("user_code", "")),
        )
    )
    interval = float(body.get("interval", 5))
    deadline = clock.monotonic() + float(body.get("expires_in", LOGIN_WAIT_SECONDS))
    poll = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": str(body["device_code"]),
        "client_id": oauth.client_id,
    }
    secret = client_secret(oauth)
    if secret is not None:
        poll["client_secret"] = str(secret)
    while True:
        clock.sleep_blocking(interval)
        status, token = _post(oauth, oauth.token_url, poll)
        if status == 200 and "access_token" in token:
            break
        error = token.get("error", f"HTTP {status}")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            raise SignInRequired(refused(error, token.get("error_description", "")))
        if clock.monotonic() > deadline:
            raise SignInRequired("the sign-in was not completed in time; run mailer login again")
    return {"token": _token_data(token, {}, clock.now())}


def _token_data(token: dict[str, Any], old: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    expires = token.get("expires_at") or _expiry(now, token.get("expires_in")).isoformat()
    return {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token") or old.get("refresh_token", ""),
        "expires": expires,
    }


def refresh_token_grant(
    oauth: OAuth2Config,
    data: dict[str, Any],
    account: str,
    now: dt.datetime,
    *,
    force: bool = False,
) -> tuple[Grant, dict[str, Any]]:
    """The saved access token while it has 5 minutes left (unless *force*), else a new one
    (google-auth for Google, the token endpoint's refresh grant otherwise); the rotated refresh
    token is kept."""
    saved = data.get("token") or {}
    if not saved.get("refresh_token"):
        raise SignInRequired(f"not signed in as {account or 'anyone'}; {SIGN_IN_AGAIN}")
    expires = dt.datetime.fromisoformat(saved.get("expires", "1970-01-01T00:00:00+00:00"))
    if saved.get("access_token") and expires - now > RENEW_BEFORE and not force:
        return Grant(Secret(saved["access_token"]), expires, False), data
    if oauth.provider == "google":
        token = _google_refresh(oauth, saved, account)
    else:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": saved["refresh_token"],
            "client_id": oauth.client_id,
        }
        secret = client_secret(oauth)
        if secret is not None:
            form["client_secret"] = str(secret)
        status, token = _post(oauth, oauth.token_url, form)
        if status != 200 or "access_token" not in token:
            why = refused(token.get("error", f"HTTP {status}"), token.get("error_description", ""))
            raise SignInRequired(f"{account}: {why}; {SIGN_IN_AGAIN}")
    kept = _token_data(token, saved, now)
    grant = Grant(Secret(kept["access_token"]), dt.datetime.fromisoformat(kept["expires"]), True)
    return grant, {**data, "token": kept}


def _google_refresh(oauth: OAuth2Config, saved: dict[str, Any], account: str) -> dict[str, Any]:
    from google.auth.exceptions import RefreshError
    from google.auth.exceptions import TransportError as GoogleTransportError
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    _, token_uri = _endpoints(oauth)
    secret = client_secret(oauth)
    creds = Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=saved["refresh_token"],
        token_uri=token_uri,  # from_authorized_user_file would ignore a saved token_uri
        client_id=oauth.client_id,
        client_secret=str(secret) if secret is not None else None,
        scopes=list(oauth.scopes),
    )
    try:
        creds.refresh(Request(session=_session(oauth)))  # type: ignore[no-untyped-call]
    except RefreshError as exc:
        error = str(exc.args[0]).split(":")[0] if exc.args else ""
        raise SignInRequired(f"{account}: {refused(error)}; {SIGN_IN_AGAIN}") from None
    except GoogleTransportError as exc:
        raise TransportError(
            f"{token_uri}: cannot reach the identity provider: {type(exc).__name__}"
        ) from None
    return {
        "access_token": creds.token,
        "refresh_token": creds.refresh_token,
        # google-auth's own expiry (naive UTC), from the answer's expires_in
        "expires_at": creds.expiry.replace(tzinfo=dt.UTC).isoformat() if creds.expiry else "",
    }
