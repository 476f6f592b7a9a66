"""A real OAuth 2.0 authorization server on 127.0.0.1 for the sign-in tests.

authlib's ``AuthorizationServer`` on a small Flask app, served over TLS (a trustme CA) from a
thread: the device authorization grant (RFC 8628), the authorization code with PKCE (RFC 7636),
the refresh grant with rotation, revocation (RFC 7009) and introspection (RFC 7662), plus an
OpenID discovery document so that MSAL can use it as its ``oidc_authority``. Test-only
endpoints play the user and the administrator: approve or deny a pending device code, revoke a
user's refresh tokens. Every request is recorded; no other host is ever contacted.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import trustme
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant
from flask import Flask, jsonify, redirect, request
from typer.testing import CliRunner
from werkzeug.serving import make_server

from mailer.cli import app
from tests.helpers import set_keys

PUBLIC_CLIENT = "mailer-test-client"  # like an Entra ID public client (no secret)
DESKTOP_CLIENT = "mailer-desktop.apps.example"  # like Google's Desktop app (has a secret)
DESKTOP_SECRET = "desktop-secret-not-very-secret"
RESOURCE_CLIENT = "mail-server"  # the SMTP/IMAP server introspecting tokens
RESOURCE_SECRET = "resource-secret"
USER = "viestinta@kokkola.example"
TENANT = "kokkola"
SCOPES = "mail.send mail.read"


@dataclass
class Client:
    client_id: str
    secret: str
    public: bool

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return "http://127.0.0.1"

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith("http://127.0.0.1:") or redirect_uri.startswith(
            "http://localhost:"
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return bool(self.secret) and secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return True


@dataclass
class Token:
    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.user

    def get_client(self) -> Client:
        return CLIENTS[self.client_id]


CLIENTS = {
    PUBLIC_CLIENT: Client(PUBLIC_CLIENT, "", True),
    DESKTOP_CLIENT: Client(DESKTOP_CLIENT, DESKTOP_SECRET, False),
    RESOURCE_CLIENT: Client(RESOURCE_CLIENT, RESOURCE_SECRET, False),
}


@dataclass
class AuthState:
    """What the server knows; tests read and change it."""

    base: str = ""
    tokens: list[Token] = field(default_factory=list)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # device_code -> data
    grants: dict[str, tuple[str, bool]] = field(default_factory=dict)  # user_code -> user, ok
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # "POST /token refresh_token", ...
    expires_in: int = 3600
    lock: threading.Lock = field(default_factory=threading.Lock)

    def live(self, access_token: str) -> Token | None:
        for token in self.tokens:
            if token.access_token == access_token and not token.revoked:
                return None if token.is_expired() else token
        return None

    def count(self, what: str) -> int:
        return sum(1 for line in self.requests if line == what)


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def make_app(state: AuthState) -> Flask:
    app = Flask("test-authorization-server")
    tokens = state.tokens

    def query_client(client_id: str) -> Client | None:
        return CLIENTS.get(client_id)

    def save_token(token: dict[str, Any], req: Any) -> None:
        tokens.append(
            Token(
                client_id=req.client.client_id,
                user=req.user or USER,
                scope=token.get("scope", ""),
                access_token=token["access_token"],
                refresh_token=token.get("refresh_token", ""),
                issued_at=time.time(),
                expires_in=token["expires_in"],
            )
        )

    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)

    def generate(
        grant_type: str,
        client: Client,
        user: str | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        who = user or USER
        return {
            "token_type": "Bearer",
            "access_token": "at-" + secrets.token_urlsafe(24),
            "refresh_token": "rt-" + secrets.token_urlsafe(24),
            "expires_in": state.expires_in,
            "scope": scope or SCOPES,
            "id_token": _unsigned_jwt(
                {
                    "iss": f"{state.base}/{TENANT}/v2.0",
                    "aud": client.client_id,
                    "sub": who,
                    "oid": "00000000-0000-0000-0000-000000000001",
                    "tid": TENANT,
                    "preferred_username": who,
                    "email": who,
                    "iat": int(time.time()),
                    "exp": int(time.time()) + 3600,
                }
            ),
        }

    server.register_token_generator("default", generate)

    class Device(DeviceCodeGrant):  # type: ignore[misc]
        def query_device_credential(self, device_code: str) -> Any:
            from authlib.oauth2.rfc8628 import DeviceCredentialDict

            data = state.devices.get(device_code)
            return DeviceCredentialDict(data) if data else None

        def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
            return state.grants.get(user_code)

        def should_slow_down(self, credential: Any) -> bool:
            return False

    class DeviceEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
        INTERVAL = 1

        def get_verification_uri(self) -> str:
            return f"{state.base}/device"

        def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
            state.devices[data["device_code"]] = {
                **data,
                "client_id": client_id,
                "scope": scope,
                "expires_at": int(time.time()) + data["expires_in"],
            }

    class Code(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar = [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ]

        def save_authorization_code(self, code: str, req: Any) -> None:
            state.codes[code] = {
                "client_id": req.client.client_id,
                "redirect_uri": req.payload.redirect_uri,
                "scope": req.payload.scope,
                "user": req.user,
                "code_challenge": req.payload.data.get("code_challenge"),
                "code_challenge_method": req.payload.data.get("code_challenge_method"),
            }

        def query_authorization_code(self, code: str, client: Client) -> Any:
            data = state.codes.get(code)
            if not data or data["client_id"] != client.client_id:
                return None
            return _CodeRecord(code, data)

        def delete_authorization_code(self, record: Any) -> None:
            state.codes.pop(record.code, None)

        def authenticate_user(self, record: Any) -> str:
            return str(record.data["user"])

    class Refresh(grants.RefreshTokenGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar = [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ]
        INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

        def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
            for token in tokens:
                if token.refresh_token == refresh_token and not token.revoked:
                    return token
            return None

        def authenticate_user(self, credential: Token) -> str:
            return credential.user

        def revoke_old_credential(self, credential: Token) -> None:
            credential.revoked = True

    class Revoke(RevocationEndpoint):  # type: ignore[misc]
        CLIENT_AUTH_METHODS: ClassVar = ["client_secret_basic", "client_secret_post", "none"]

        def query_token(self, token_string: str, hint: str | None) -> Token | None:
            for token in tokens:
                if token_string in (token.access_token, token.refresh_token):
                    return token
            return None

        def revoke_token(self, token: Token, req: Any) -> None:
            token.revoked = True

    class Introspect(IntrospectionEndpoint):  # type: ignore[misc]
        CLIENT_AUTH_METHODS: ClassVar = ["client_secret_basic", "client_secret_post"]

        def query_token(self, token_string: str, hint: str | None) -> Token | None:
            for token in tokens:
                if token_string in (token.access_token, token.refresh_token):
                    return token
            return None

        def check_permission(self, token: Token, client: Client, req: Any) -> bool:
            return client.client_id == RESOURCE_CLIENT

        def introspect_token(self, token: Token) -> dict[str, Any]:
            return {
                "active": True,
                "client_id": token.client_id,
                "username": token.user,
                "scope": token.scope,
                "exp": int(token.issued_at + token.expires_in),
            }

    server.register_grant(Device)
    server.register_grant(Code, [CodeChallenge(required=True)])
    server.register_grant(Refresh)
    server.register_endpoint(DeviceEndpoint)
    server.register_endpoint(Revoke)
    server.register_endpoint(Introspect)

    def log(what: str) -> None:
        with state.lock:
            state.requests.append(what)

    @app.get(f"/{TENANT}/v2.0/.well-known/openid-configuration")
    def discovery() -> Any:
        log("GET discovery")
        base = state.base
        return jsonify(
            issuer=f"{base}/{TENANT}/v2.0",
            authorization_endpoint=f"{base}/authorize",
            token_endpoint=f"{base}/token",
            device_authorization_endpoint=f"{base}/devicecode",
        )

    @app.post("/devicecode")
    def devicecode() -> Any:
        log("POST /devicecode")
        return server.create_endpoint_response(DeviceEndpoint.ENDPOINT_NAME)

    @app.post("/token")
    def token() -> Any:
        log(f"POST /token {request.form.get('grant_type', '').rpartition(':')[2]}")
        return server.create_token_response()

    @app.get("/authorize")
    def authorize() -> Any:
        log("GET /authorize")
        # The user is signed in and consents at once (the test plays the browser).
        if state.grants.get("browser", (USER, True))[1] is False:
            return server.create_authorization_response(grant_user=None)
        return server.create_authorization_response(
            grant_user=state.grants.get("browser", (USER, True))[0]
        )

    @app.post("/revoke")
    def revoke() -> Any:
        log("POST /revoke")
        return server.create_endpoint_response(Revoke.ENDPOINT_NAME)

    @app.post("/introspect")
    def introspect() -> Any:
        log("POST /introspect")
        return server.create_endpoint_response(Introspect.ENDPOINT_NAME)

    # --- test-only: the user and the administrator ---------------------------------------
    @app.post("/test/approve")
    def approve() -> Any:
        state.grants[request.form["user_code"]] = (request.form.get("user", USER), True)
        return jsonify(ok=True)

    @app.post("/test/deny")
    def deny() -> Any:
        state.grants[request.form["user_code"]] = (USER, False)
        return jsonify(ok=True)

    @app.post("/test/revoke-user")
    def revoke_user() -> Any:
        for t in tokens:
            if t.user == request.form.get("user", USER):
                t.revoked = True
        return jsonify(ok=True)

    @app.get("/device")
    def device_page() -> Any:
        return redirect("/")

    return app


@dataclass
class _CodeRecord:
    code: str
    data: dict[str, Any]

    def get_redirect_uri(self) -> str:
        return str(self.data["redirect_uri"])

    def get_scope(self) -> str:
        return str(self.data["scope"])

    @property
    def code_challenge(self) -> str | None:
        return self.data.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.data.get("code_challenge_method")

    def get_code_challenge(self) -> str | None:
        return self.data.get("code_challenge")

    def get_code_challenge_method(self) -> str | None:
        return self.data.get("code_challenge_method")

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> None:
        return None

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class AuthServer:
    base: str
    state: AuthState
    ca_file: Path
    ca: trustme.CA

    @property
    def authority(self) -> str:
        return f"{self.base}/{TENANT}/v2.0"

    def post(self, path: str, **form: str) -> dict[str, Any]:
        import requests

        response = requests.post(
            f"{self.base}{path}", data=form, verify=str(self.ca_file), timeout=10
        )
        return dict(response.json())

    def approve_pending(self, *, user: str = USER, deny: bool = False, timeout: float = 10) -> str:
        """Play the user: wait for a device code to be shown, then approve (or deny) it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pending = [
                d for d in self.state.devices.values() if d["user_code"] not in self.state.grants
            ]
            if pending:
                code = str(pending[-1]["user_code"])
                self.post("/test/deny" if deny else "/test/approve", user_code=code, user=user)
                return code
            time.sleep(0.02)
        raise AssertionError("no device code was requested")

    def revoke_user(self, user: str = USER) -> None:
        self.post("/test/revoke-user", user=user)

    def introspect(self, token: str) -> dict[str, Any]:
        import requests

        response = requests.post(
            f"{self.base}/introspect",
            data={"token": token},
            auth=(RESOURCE_CLIENT, RESOURCE_SECRET),
            verify=str(self.ca_file),
            timeout=10,
        )
        return dict(response.json())


# --- the network guard ---------------------------------------------------------------------

_LOOPBACK = ("127.", "::1", "localhost")


@dataclass
class NetworkGuard:
    blocked: list[str] = field(default_factory=list)


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Fail any connection or DNS lookup outside 127.0.0.0/8 (MSAL's authority discovery would
    call Microsoft from its constructor); the test asserts that nothing was blocked."""
    guard = NetworkGuard()
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOOPBACK):
            guard.blocked.append(f"connect {host}")
            raise OSError(f"network guard: no connection to {host}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not str(host).startswith(_LOOPBACK):
            guard.blocked.append(f"resolve {host}")
            raise socket.gaierror(f"network guard: no lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield guard


@pytest.fixture
def auth_server(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AuthServer]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("authserver")
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    state = AuthState()
    app = make_app(state)
    httpd = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    state.base = f"https://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    # This machine sets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE, which override verify= in
    # requests (MSAL's sessions too): point the first at the test CA, drop the second.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    try:
        yield AuthServer(state.base, state, ca_file, ca)
    finally:
        httpd.shutdown()
        thread.join(5)


# --- an SMTP server that checks bearer tokens by introspection ------------------------------


@dataclass
class XOAuth2Smtp:
    port: int
    logins: list[str] = field(default_factory=list)  # "ok user" / "refused user"
    messages: list[bytes] = field(default_factory=list)
    # After this many messages: call after_messages() (e.g. revoke the sign-in), then drop the
    # connection at the next MAIL FROM, so that the client has to reconnect.
    drop_after: int = 0
    after_messages: Callable[[], None] | None = None


@pytest.fixture
def xoauth2_smtp(auth_server: AuthServer) -> Iterator[XOAuth2Smtp]:
    """aiosmtpd with SASL XOAUTH2 only; each token is introspected at the local server."""
    import asyncio

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    record = XOAuth2Smtp(port)

    class Handler:
        async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
            raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
            fields = dict(p.split("=", 1) for p in raw.split("\x01") if "=" in p)
            user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
            answer = await asyncio.get_running_loop().run_in_executor(
                None, auth_server.introspect, token
            )
            if answer.get("active") and answer.get("username") == user:
                record.logins.append(f"ok {user}")
                return AuthResult(success=True, handled=False, auth_data=user)
            record.logins.append(f"refused {user}")
            error = base64.b64encode(b'{"status":"401","schemes":"bearer"}').decode()
            await server.push(f"334 {error}")
            await server._reader.readline()  # the client's empty answer
            return AuthResult(success=False, handled=False)

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            record.messages.append(bytes(envelope.content))
            if record.drop_after and len(record.messages) == record.drop_after:
                if record.after_messages is not None:
                    await asyncio.get_running_loop().run_in_executor(None, record.after_messages)
                session.drop_next = True
            return "250 2.0.0 Ok: queued"

        async def handle_MAIL(
            self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
        ) -> str:
            if getattr(session, "drop_next", False):  # the connection is gone: reconnect
                server.transport.close()
                return "421 4.4.2 closing"
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 OK"

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    controller.start()
    try:
        yield record
    finally:
        controller.stop()


# --- a project that signs in at the local authorization server ---------------------------------


def use_oauth(project: Path, server: AuthServer, **extra: object) -> None:
    """``[oauth2]`` for the local authorization server: Microsoft's shape, a public client."""
    set_keys(
        project,
        "oauth2",
        provider="microsoft",
        client_id=PUBLIC_CLIENT,
        authority_url=server.authority,
        scopes=["mail.send", "mail.read"],
        **extra,
    )


def send_with_oauth(
    project: Path, host: str, port: int, *, security: str = "none", **extra: object
) -> None:
    """The organizer is the signed-in user, and ``[smtp]`` sends with ``auth = "oauth2"``."""
    set_keys(project, "organizer", email=USER)
    set_keys(project, "transport", kind="smtp")
    settings: dict[str, object] = {"timeout_seconds": 5.0, **extra}
    set_keys(
        project,
        "smtp",
        host=host,
        port=port,
        security=security,
        username=USER,
        auth="oauth2",
        **settings,
    )


def sign_in(server: AuthServer, path: Path) -> None:
    """``mailer login``, with the device code approved as the user would."""
    threading.Thread(target=server.approve_pending, daemon=True).start()
    login = CliRunner().invoke(app, ["-c", str(path), "login"])
    assert login.exit_code == 0, login.output
