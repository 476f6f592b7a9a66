"""``mailer check`` with ``auth = "oauth2"``, through the real CLI: it signs in to SMTP (and,
in test_oauth_imap.py, IMAP) with the cached sign-in and shows the account, the method and when
the token was last refreshed; a revoked sign-in is exit code 4 with one line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from mailer.cli import app
from mailer.config import load_config
from tests.fixtures_oauth import (
    USER,
    AuthServer,
    NetworkGuard,
    XOAuth2Smtp,
    send_with_oauth,
    sign_in,
    use_oauth,
)
from tests.helpers import config_path, make_project

runner = CliRunner()


def signed_in(tmp_path: Path, server: AuthServer, smtp_port: int) -> Path:
    project = make_project(tmp_path / "project")
    send_with_oauth(project, "127.0.0.1", smtp_port)
    use_oauth(project, server)
    path = config_path(project)
    sign_in(server, path)
    return path


def refreshed_line(path: Path) -> str:
    """What check prints for the last refresh recorded in the token cache."""
    config = load_config(path)
    assert config.oauth2 is not None
    stamp = json.loads(config.oauth2.token_cache.read_text())["last_refreshed"]
    local = dt.datetime.fromisoformat(stamp).astimezone(config.zone)
    return (
        f"ok    sign-in     {USER}, OAuth 2.0 (Microsoft, MSAL), SASL XOAUTH2, "
        f"token last refreshed {local:%Y-%m-%d %H:%M %Z}"
    )


def test_check_signs_in_to_smtp_with_xoauth2(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    path = signed_in(tmp_path, auth_server, xoauth2_smtp.port)
    result = runner.invoke(app, ["-c", str(path), "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert refreshed_line(path) in lines
    assert (
        f"ok    smtp        127.0.0.1:{xoauth2_smtp.port} plain (no TLS), logged in as {USER} "
        "with XOAUTH2"
    ) in lines
    assert xoauth2_smtp.logins == [f"ok {USER}"]
    assert xoauth2_smtp.messages == []  # nothing is sent
    for token in auth_server.state.tokens:
        assert token.access_token not in result.output
        assert token.refresh_token not in result.output
    assert network_guard.blocked == []


def test_check_with_a_revoked_sign_in_is_exit_4(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    auth_server.state.expires_in = 60  # under MSAL's 5 minutes: check must refresh, and cannot
    path = signed_in(tmp_path, auth_server, xoauth2_smtp.port)
    auth_server.revoke_user()
    result = runner.invoke(app, ["-c", str(path), "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 4, result.output
    lines = result.output.splitlines()
    # (the clock's line follows: tests/test_clock_ahead.py)
    failed = lines.index(
        f"FAIL  sign-in     {USER}: the sign-in has expired or was revoked; "
        "sign in again: mailer login"
    )
    assert lines[failed + 1] == "FAIL  smtp        not tried: no access token (see sign-in above)"
    assert xoauth2_smtp.logins == []
    assert network_guard.blocked == []


def test_check_without_a_sign_in_says_to_log_in(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard
) -> None:
    path = signed_in(tmp_path, auth_server, 9)
    assert runner.invoke(app, ["-c", str(path), "logout"]).exit_code == 0
    result = runner.invoke(app, ["-c", str(path), "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 4, result.output
    assert f"FAIL  sign-in     {USER}: not signed in; run: mailer login" in (
        result.output.splitlines()
    )
