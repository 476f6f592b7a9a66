"""``invite send`` through a real MTA: Postfix's submission service with Dovecot SASL, whose
``oauth2`` password database introspects every token at the local authorization server. Signed
in with ``mailer login``, sent over STARTTLS with SASL XOAUTH2; after the sign-in is revoked the
next send stops with exit code 4, and Postfix sees no connection."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from tests.fixtures_oauth import PUBLIC_CLIENT, USER, AuthServer, NetworkGuard
from tests.fixtures_postfix import OAuthPostfix
from tests.helpers import config_path, make_project, read_contacts, set_keys, write_contacts

runner = CliRunner()
pytestmark = pytest.mark.postfix

LATE = "myohastynyt@toimitus.example"
SASL_LOGIN = f"sasl_method=XOAUTH2, sasl_username={USER}"


def delivered_to(log: str) -> list[str]:
    """The recipients Postfix delivered to the Maildir, from its log."""
    return sorted(
        line.split("to=<", 1)[1].split(">", 1)[0]
        for line in log.splitlines()
        if "status=sent (delivered to maildir)" in line
    )


def sign_in(server: AuthServer, path: Path) -> None:
    threading.Thread(target=server.approve_pending, daemon=True).start()
    login = runner.invoke(app, ["-c", str(path), "login"])
    assert login.exit_code == 0, login.output


def test_invite_send_through_postfix_with_xoauth2_and_a_revoked_sign_in(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_postfix: OAuthPostfix,
    network_guard: NetworkGuard,
) -> None:
    auth_server.state.expires_in = 60  # under the 5 minutes kept in reserve: renewed per send
    project = make_project(tmp_path / "project")
    set_keys(project, "organizer", email=USER)
    set_keys(project, "transport", kind="smtp")
    set_keys(
        project,
        "smtp",
        host=oauth_postfix.host,
        port=oauth_postfix.smtp_port,
        security="starttls",
        ca_file=str(oauth_postfix.ca_file),
        username=USER,
        auth="oauth2",
        timeout_seconds=10.0,
    )
    set_keys(
        project,
        "oauth2",
        provider="microsoft",
        client_id=PUBLIC_CLIENT,
        authority_url=auth_server.authority,
        scopes=["mail.send", "mail.read"],
    )
    path = config_path(project)
    sign_in(auth_server, path)
    contacts = read_contacts(project)
    total = len(contacts)

    result = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert result.exit_code == 0, result.output + oauth_postfix.log()
    delivered = oauth_postfix.wait_delivered(total)
    assert len(delivered) == total
    log = oauth_postfix.log()
    assert delivered_to(log) == sorted(c["email"] for c in contacts)
    log = oauth_postfix.log()
    assert SASL_LOGIN in log  # Postfix's smtpd logged the XOAUTH2 login Dovecot checked
    assert "TLS connection established from localhost[127.0.0.1]: TLSv1.3" in log
    assert auth_server.state.count("POST /introspect") >= 1
    for token in auth_server.state.tokens:
        assert token.access_token not in result.output
    logins = log.count(SASL_LOGIN)

    # A late contact, then the administrator revokes the sign-in: the next send stops
    write_contacts(project, [*contacts, {**contacts[0], "email": LATE}], columns=contacts[0])
    auth_server.revoke_user()
    stopped = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert stopped.exit_code == 4, stopped.output
    assert stopped.output.splitlines()[-1] == (
        f"error: {USER}: the sign-in has expired or was revoked; sign in again: mailer login"
    )
    assert oauth_postfix.log().count(SASL_LOGIN) == logins  # Postfix saw no new login
    assert len(oauth_postfix.delivered()) == total  # and nothing arrived
    status = runner.invoke(app, ["-c", str(path), "status", "--json"])
    counts = json.loads(status.output)["invitations"]
    assert counts == {"sent": total, "failed": 0, "in_doubt": 0, "pending": 1, "skipped": 0}

    # signed in again, the late invitation goes out, and nothing twice
    sign_in(auth_server, path)
    again = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert again.exit_code == 0, again.output
    assert len(oauth_postfix.wait_delivered(total + 1)) == total + 1
    assert network_guard.blocked == []
