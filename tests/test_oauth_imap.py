"""``rsvp fetch`` and ``mailer check`` with IMAP ``AUTHENTICATE XOAUTH2`` against a real Dovecot
whose ``oauth2`` password database introspects every token at the local authorization server;
a revoked sign-in is exit code 4 with one line, and nothing is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from tests.fixtures_oauth import (
    USER,
    AuthServer,
    NetworkGuard,
    XOAuth2Smtp,
    sign_in,
    use_oauth,
)
from tests.fixtures_oauth_imap import OAuthDovecot
from tests.helpers import config_path, make_project, set_keys
from tests.test_cli_rsvp import RIIKKA, RIIKKA_TEXT, invited, text_reply
from tests.test_oauth_check import refreshed_line

runner = CliRunner()
pytestmark = pytest.mark.imap


def reading_project(tmp_path: Path, server: AuthServer, dovecot: OAuthDovecot) -> Path:
    """The starter project, its invitations sent to the outbox, reading replies with OAuth."""
    project = make_project(tmp_path / "project")
    path = config_path(project)
    sent = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert sent.exit_code == 0, sent.output
    set_keys(
        project,
        "imap",
        host=dovecot.host,
        port=dovecot.imap_port,
        security="starttls",
        username=USER,
        auth="oauth2",
        ca_file=str(dovecot.ca_file),
    )
    use_oauth(project, server)
    sign_in(server, path)
    return path


def test_rsvp_fetch_with_xoauth2(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_dovecot: OAuthDovecot,
    network_guard: NetworkGuard,
) -> None:
    path = reading_project(tmp_path, auth_server, oauth_dovecot)
    inv = invited(path.parent / "mailer.db")
    oauth_dovecot.drop(text_reply(inv[RIIKKA], RIIKKA_TEXT))
    result = runner.invoke(app, ["-c", str(path), "rsvp", "fetch"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + oauth_dovecot.log()
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{USER}@127.0.0.1 INBOX: 1 message (the whole folder was read: first fetch, or the "
        "server renumbered it)"
    )
    assert [line.split()[:5] for line in lines if line.startswith("imap:")] == [
        ["imap:INBOX/1", "text", "reply", "applied", RIIKKA]
    ]
    listed = runner.invoke(app, ["-c", str(path), "rsvp", "list", "--json"])
    assert f'"email": "{RIIKKA}"' in listed.stdout
    # Dovecot checked the token at the authorization server and logged the mechanism
    assert f"Login: user=<{USER}>, method=XOAUTH2" in oauth_dovecot.log()
    assert auth_server.state.count("POST /introspect") >= 1
    for token in auth_server.state.tokens:
        assert token.access_token not in result.output
    assert network_guard.blocked == []


def test_rsvp_fetch_with_a_revoked_sign_in_is_exit_4(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_dovecot: OAuthDovecot,
    network_guard: NetworkGuard,
) -> None:
    auth_server.state.expires_in = 60  # under 5 minutes left: the fetch must renew, and cannot
    path = reading_project(tmp_path, auth_server, oauth_dovecot)
    auth_server.revoke_user()
    result = runner.invoke(app, ["-c", str(path), "rsvp", "fetch"])
    assert result.exit_code == 4, result.output
    assert result.stderr.splitlines() == [
        f"error: {USER}: the sign-in has expired or was revoked; sign in again: mailer login"
    ]
    assert "Login:" not in oauth_dovecot.log()  # nothing was read
    assert network_guard.blocked == []


def test_a_token_the_server_refuses_is_one_line_with_what_to_do(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_dovecot: OAuthDovecot,
    network_guard: NetworkGuard,
) -> None:
    """The access token is still fresh in the cache but the server no longer accepts it."""
    path = reading_project(tmp_path, auth_server, oauth_dovecot)
    auth_server.revoke_user()
    result = runner.invoke(app, ["-c", str(path), "rsvp", "fetch"])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"error: imap 127.0.0.1:{oauth_dovecot.imap_port}: [AUTHENTICATIONFAILED] "
        "Authentication failed.",
        "hint: the server refused the access token: check [imap] username, that the app may "
        "use IMAP (IMAP.AccessAsUser.All), or sign in again: mailer login",
    ]
    assert network_guard.blocked == []


def test_check_signs_in_to_smtp_and_imap(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_dovecot: OAuthDovecot,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    path = reading_project(tmp_path, auth_server, oauth_dovecot)
    set_keys(path.parent, "transport", kind="smtp")
    set_keys(
        path.parent,
        "smtp",
        host="127.0.0.1",
        port=xoauth2_smtp.port,
        security="none",
        username=USER,
        auth="oauth2",
        timeout_seconds=5.0,
    )
    set_keys(path.parent, "organizer", email=USER)
    result = runner.invoke(app, ["-c", str(path), "check"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output + oauth_dovecot.log()
    lines = result.output.splitlines()
    # the clock's line comes last (tests/test_clock_ahead.py); nothing confirms this one
    assert lines[-1].startswith("warn  clock       nothing confirms the clock")
    assert lines[-4:-1] == [
        refreshed_line(path),
        f"ok    smtp        127.0.0.1:{xoauth2_smtp.port} plain (no TLS), logged in as {USER} "
        "with XOAUTH2",
        f"ok    imap        127.0.0.1:{oauth_dovecot.imap_port} STARTTLS TLSv1.3, logged in as "
        f"{USER} with XOAUTH2, folder INBOX (0 messages)",
    ]
    assert network_guard.blocked == []
