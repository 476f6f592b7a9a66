"""BDAT (RFC 3030) against a real MTA: Postfix's submission service offers PIPELINING and
CHUNKING. ``invite send`` through it uses BDAT (or DATA with ``[smtp] chunking = false``), which
Postfix's own command counts at disconnect show ("mail=7 rcpt=7 bdat=7"), and every message
arrives in the Maildir, each once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from tests.fixtures_oauth import AuthServer, NetworkGuard, send_with_oauth, sign_in, use_oauth
from tests.fixtures_postfix import OAuthPostfix
from tests.helpers import config_path, make_project, read_contacts

runner = CliRunner()
pytestmark = pytest.mark.postfix


def commands(log: str) -> list[dict[str, int]]:
    """Postfix's per-session command counts, from each 'disconnect from' line."""
    sessions = []
    for line in log.splitlines():
        if " disconnect from " in line:
            sessions.append({k: int(v) for k, v in re.findall(r" (\w+)=(\d+)", line)})
    return sessions


@pytest.mark.parametrize("chunking", [True, False], ids=["bdat", "data"])
def test_invite_send_through_postfix_uses_bdat_where_offered(
    tmp_path: Path,
    auth_server: AuthServer,
    oauth_postfix: OAuthPostfix,
    network_guard: NetworkGuard,
    chunking: bool,
) -> None:
    project = make_project(tmp_path / "project")
    send_with_oauth(
        project,
        oauth_postfix.host,
        oauth_postfix.smtp_port,
        security="starttls",
        ca_file=str(oauth_postfix.ca_file),
        timeout_seconds=10.0,
        chunking=chunking,
    )
    use_oauth(project, auth_server)
    path = config_path(project)
    sign_in(auth_server, path)
    total = len(read_contacts(project))

    result = runner.invoke(app, ["-c", str(path), "invite", "send", "--yes"])
    assert result.exit_code == 0, result.output + oauth_postfix.log()
    delivered = oauth_postfix.wait_delivered(total)
    assert len(delivered) == total
    (session,) = [s for s in commands(oauth_postfix.log()) if s.get("mail")]
    end = "bdat" if chunking else "data"
    other = "data" if chunking else "bdat"
    assert session["mail"] == session["rcpt"] == session[end] == total, session
    assert other not in session
    # a wrong byte count would have put Postfix out of step (and the next MAIL into a body)
    ids = sorted(m.group(1) for d in delivered if (m := re.search(rb"\nMessage-I[dD]: (<.+?>)", d)))
    assert len(set(ids)) == total
    assert all(b"text/calendar" in d and b"\nMAIL FROM" not in d for d in delivered)
    assert network_guard.blocked == []
