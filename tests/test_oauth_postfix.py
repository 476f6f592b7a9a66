"""``invite send`` through a real MTA: Postfix's submission service with Dovecot SASL, whose
``oauth2`` password database introspects every token at the local authorization server. Signed
in with ``mailer login``, sent over STARTTLS with SASL XOAUTH2; after the sign-in is revoked the
next send stops with exit code 4, and Postfix sees no connection."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import aiosmtplib
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from tests.fixtures_oauth import (
    USER,
    AuthServer,
    NetworkGuard,
    send_with_oauth,
    sign_in,
    use_oauth,
)
from tests.fixtures_postfix import OAuthPostfix
from tests.helpers import config_path, make_project, read_contacts, write_contacts

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


def signed_in_project(tmp_path: Path, server: AuthServer, postfix: OAuthPostfix) -> Path:
    """The starter project, sending through *postfix* with XOAUTH2 over STARTTLS, signed in."""
    project = make_project(tmp_path / "project")
    send_with_oauth(
        project,
        postfix.host,
        postfix.smtp_port,
        security="starttls",
        ca_file=str(postfix.ca_file),
        timeout_seconds=10.0,
    )
    use_oauth(project, server)
    path = config_path(project)
    sign_in(server, path)
    return path


def test_invite_send_through_postfix_with_xoauth2_and_a_revoked_sign_in(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_postfix: OAuthPostfix,
    network_guard: NetworkGuard,
) -> None:
    auth_server.state.expires_in = 60  # under the 5 minutes kept in reserve: renewed per send
    path = signed_in_project(tmp_path, auth_server, oauth_postfix)
    project = path.parent
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


def test_a_token_postfix_refuses_stops_the_round_with_what_to_do(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_postfix: OAuthPostfix,
    network_guard: NetworkGuard,
) -> None:
    """The access token is still fresh in the cache, but revoked at the authorization server:
    Dovecot's introspection says inactive, Postfix answers 535, the round stops (exit 3) with
    one line, and every invitation stays queued."""
    path = signed_in_project(tmp_path, auth_server, oauth_postfix)
    auth_server.revoke_user()
    result = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        f"stopped: 127.0.0.1:{oauth_postfix.smtp_port}: 535 5.7.8 Error: authentication failed: "
        "(reason unavailable): the server refused the access token: check [smtp] username, "
        "that SMTP AUTH is enabled for the mailbox, or sign in again: mailer login: "
        "7 messages left queued; run 'mailer invite send' again"
    ]
    assert f"SASL XOAUTH2 authentication failed: (reason unavailable), sasl_username={USER}" in (
        oauth_postfix.log()
    )
    assert "oauth2 failed: Introspection failed: Provided token is not valid" in (
        oauth_postfix.dovecot.log()
    )
    assert oauth_postfix.delivered() == []
    status = runner.invoke(app, ["-c", str(path), "status", "--json"])
    total = len(read_contacts(path.parent))
    counts = json.loads(status.output)["invitations"]
    assert counts == {"sent": 0, "failed": 0, "in_doubt": 0, "pending": total, "skipped": 0}
    assert network_guard.blocked == []


def test_postfix_refuses_mail_without_a_login(oauth_postfix: OAuthPostfix) -> None:
    """The service is no open relay: what arrives in the tests above was sent signed in."""

    async def send() -> None:
        context = ssl.create_default_context(cafile=str(oauth_postfix.ca_file))
        async with aiosmtplib.SMTP(
            hostname=oauth_postfix.host,
            port=oauth_postfix.smtp_port,
            tls_context=context,
            timeout=10,
        ) as smtp:
            await smtp.ehlo()
            assert smtp.server_auth_methods == ["xoauth2", "oauthbearer"]
            await smtp.sendmail(USER, [LATE], b"Subject: t\r\n\r\nhi\r\n")

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        asyncio.run(send())
    assert [(e.code, e.message) for e in refused.value.recipients] == [
        (554, f"5.7.1 <{LATE}>: Recipient address rejected: Access denied")
    ]
    assert oauth_postfix.delivered() == []


@pytest.mark.parametrize("oauth_postfix", ["oauthbearer"], indirect=True)
def test_a_server_that_offers_only_oauthbearer_gets_oauthbearer(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_postfix: OAuthPostfix,
    network_guard: NetworkGuard,
) -> None:
    """RFC 7628 where XOAUTH2 is not offered: every invitation delivered, signed in with
    OAUTHBEARER (aiosmtplib alone would refuse: "server does not support XOAUTH2")."""
    path = signed_in_project(tmp_path, auth_server, oauth_postfix)
    total = len(read_contacts(path.parent))

    checked = runner.invoke(app, ["-c", str(path), "check"])
    assert checked.exit_code == 0, checked.output
    assert f"logged in as {USER} with OAUTHBEARER" in checked.output

    result = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert result.exit_code == 0, result.output + oauth_postfix.log()
    assert len(oauth_postfix.wait_delivered(total)) == total
    assert f"sasl_method=OAUTHBEARER, sasl_username={USER}" in oauth_postfix.log()
    assert "sasl_method=XOAUTH2" not in oauth_postfix.log()
