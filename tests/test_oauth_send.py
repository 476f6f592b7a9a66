"""``invite send`` over SMTP with SASL XOAUTH2, end to end through the CLI: signed in with
``mailer login``, tokens checked by the server through introspection; a revoked sign-in stops
before anything is sent (exit code 4, everything still queued)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from typer.testing import CliRunner

from mailer.cli import app
from tests.fixtures_oauth import (
    USER,
    AuthServer,
    NetworkGuard,
    XOAuth2Smtp,
    send_with_oauth,
    sign_in,
    use_oauth,
)
from tests.helpers import config_path, make_project, read_contacts, set_keys

runner = CliRunner()


def signed_in_project(tmp_path: Path, server: AuthServer, smtp: XOAuth2Smtp) -> Path:
    project = make_project(tmp_path / "project")
    send_with_oauth(project, "127.0.0.1", smtp.port)
    use_oauth(project, server)
    path = config_path(project)
    sign_in(server, path)
    return path


def test_invite_send_with_xoauth2(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    auth_server.state.expires_in = 60  # shorter than the 5 minutes: renewed for each connection
    path = signed_in_project(tmp_path, auth_server, xoauth2_smtp)
    before = auth_server.state.count("POST /token refresh_token")
    result = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert result.exit_code == 0, result.output
    assert xoauth2_smtp.messages, result.output
    assert xoauth2_smtp.logins and set(xoauth2_smtp.logins) == {f"ok {USER}"}
    assert auth_server.state.count("POST /token refresh_token") > before
    for token in auth_server.state.tokens:
        assert token.access_token not in result.output
    assert network_guard.blocked == []


def test_a_revoked_sign_in_stops_before_anything_is_sent(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    auth_server.state.expires_in = 60
    path = signed_in_project(tmp_path, auth_server, xoauth2_smtp)
    auth_server.revoke_user()
    result = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert result.exit_code == 4, result.output
    assert result.output.splitlines()[-1] == (
        f"error: {USER}: the sign-in has expired or was revoked; sign in again: mailer login"
    )
    assert xoauth2_smtp.messages == [] and xoauth2_smtp.logins == []
    # after signing in again the same round goes out: everything was still queued
    threading.Thread(target=auth_server.approve_pending, daemon=True).start()
    assert runner.invoke(app, ["-c", str(path), "login"]).exit_code == 0
    again = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert again.exit_code == 0, again.output
    assert xoauth2_smtp.messages
    assert network_guard.blocked == []


def test_a_sign_in_revoked_mid_run_stops_with_exit_4_and_keeps_the_rest_queued(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    """The administrator revokes the sign-in after the first message; the server then drops
    the connection, and the reconnect needs a new token (they last 60 s, under the 5 minutes
    kept in reserve), which the authorization server refuses: an account stop, exit 4."""
    auth_server.state.expires_in = 60
    path = signed_in_project(tmp_path, auth_server, xoauth2_smtp)
    set_keys(path.parent, "smtp", connections=1)
    xoauth2_smtp.drop_after = 1
    xoauth2_smtp.after_messages = auth_server.revoke_user
    result = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert result.exit_code == 4, result.output
    left = len(read_contacts(path.parent)) - 1
    assert (
        f"stopped: {USER}: the sign-in has expired or was revoked; sign in again: mailer login: "
        f"{left} messages left queued; then run 'mailer invite send' again"
    ) in result.output.splitlines()
    assert len(xoauth2_smtp.messages) == 1  # nothing more was sent
    status = runner.invoke(app, ["-c", str(path), "status", "--json"])
    counts = json.loads(status.output)["invitations"]
    total = len(read_contacts(path.parent))
    assert counts == {"sent": 1, "failed": 0, "in_doubt": 0, "pending": total - 1, "skipped": 0}
    # signed in again, the same round sends the rest and nothing twice
    threading.Thread(target=auth_server.approve_pending, daemon=True).start()
    assert runner.invoke(app, ["-c", str(path), "login"]).exit_code == 0
    xoauth2_smtp.drop_after = 0
    again = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert again.exit_code == 0, again.output
    assert len(xoauth2_smtp.messages) == total
    assert network_guard.blocked == []
