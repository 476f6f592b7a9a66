"""``mailer login`` / ``logout`` through the real CLI against the local authorization server."""

from __future__ import annotations

import threading
from pathlib import Path

from typer.testing import CliRunner

from mailer.cli import app
from tests.fixtures_oauth import USER, AuthServer, NetworkGuard, use_oauth
from tests.helpers import config_path, make_project, set_keys

runner = CliRunner()


def oauth_project(tmp_path: Path, server: AuthServer) -> Path:
    project = make_project(tmp_path / "project")
    set_keys(project, "organizer", email=USER)
    set_keys(project, "smtp", host="127.0.0.1", port=2525, security="none", username=USER)
    use_oauth(project, server)
    return config_path(project)


def test_login_shows_the_account_and_logout_forgets_it(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard
) -> None:
    path = oauth_project(tmp_path, auth_server)
    # the test plays the user: approve the code as soon as it is shown
    threading.Thread(target=auth_server.approve_pending, daemon=True).start()
    result = runner.invoke(app, ["-c", str(path), "login"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        f"To sign in, open {auth_server.base}/device in a browser and enter the code "
    )
    assert lines[1] == "Waiting for you to finish signing in ..."
    assert lines[2] == f"Signed in as {USER} (OAuth 2.0 (Microsoft, MSAL))."
    cache = path.parent / "oauth-token.json"
    assert lines[3] == (
        f"The sign-in is kept in {cache}; sending and reading renew it by themselves."
    )
    assert cache.stat().st_mode & 0o777 == 0o600
    for token in auth_server.state.tokens:  # no token ever reaches the output
        assert token.access_token not in result.output
        assert token.refresh_token not in result.output

    out = runner.invoke(app, ["-c", str(path), "logout"])
    assert (out.exit_code, out.output) == (
        0,
        f"Signed out: the sign-in in {cache} is forgotten.\n",
    )
    again = runner.invoke(app, ["-c", str(path), "logout"])
    assert again.output == f"Not signed in: nothing in {cache}.\n"
    assert network_guard.blocked == []


def test_a_declined_login_is_one_line_and_exit_code_4(
    tmp_path: Path, auth_server: AuthServer, network_guard: NetworkGuard
) -> None:
    path = oauth_project(tmp_path, auth_server)
    threading.Thread(target=auth_server.approve_pending, kwargs={"deny": True}, daemon=True).start()
    result = runner.invoke(app, ["-c", str(path), "login"])
    assert result.exit_code == 4
    assert result.output.splitlines()[-1].startswith("error: the sign-in was declined")
    assert "Traceback" not in result.output
    assert network_guard.blocked == []


def test_login_without_oauth2_names_the_key(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    path = set_keys(project, "smtp", preset="microsoft365", username=USER)
    result = runner.invoke(app, ["-c", str(path), "login"])
    assert result.exit_code == 1
    assert result.output == (
        f"error: {path}: [oauth2] client_id: missing; the microsoft365 setup signs in with "
        "OAuth 2.0: add an [oauth2] table with your app registration's client_id (see "
        "'Signing in'), or set auth = 'password'\n"
    )
