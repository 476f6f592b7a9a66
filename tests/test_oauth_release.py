"""The embargoed release with ``auth = "oauth2"``: ``release schedule`` proves the saved sign-in
can be renewed now and warns when it lapses unused before the embargo; the release fired by the
exact cron line under ``env -i`` signs in with the cached token (renewed in the armed minute,
before the embargo) and sends every message over SASL XOAUTH2."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.config import load_config
from mailer.models import Campaign
from mailer.store import Store
from tests.fixtures_oauth import (
    USER,
    AuthServer,
    NetworkGuard,
    XOAuth2Smtp,
    send_with_oauth,
    sign_in,
    use_oauth,
)
from tests.fixtures_smtp import DateServer
from tests.helpers import config_path, make_project, set_keys
from tests.test_release_e2e import MAILER, schedule_soon

runner = CliRunner()
HEL = ZoneInfo("Europe/Helsinki")


def releasing_project(tmp_path: Path, server: AuthServer, smtp: XOAuth2Smtp) -> Path:
    project = make_project(tmp_path / "press")
    send_with_oauth(project, "127.0.0.1", smtp.port)
    set_keys(project, "release", prebrief_tag="")
    use_oauth(project, server, ca_file=str(server.ca_file))  # cron has no REQUESTS_CA_BUNDLE
    path = config_path(project)
    sign_in(server, path)
    return path


def at(days: int) -> str:
    when = dt.datetime.now(HEL) + dt.timedelta(days=days)
    return f"{when:%Y-%m-%d} 10:00"


def test_schedule_renews_the_sign_in_and_warns_when_it_lapses_before_the_embargo(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    path = releasing_project(tmp_path, auth_server, xoauth2_smtp)
    before = auth_server.state.count("POST /token refresh_token")
    soon = runner.invoke(
        app,
        ["-c", str(path), "release", "schedule", "--at", at(10), "--yes"],
        env={"COLUMNS": "250"},
    )
    assert soon.exit_code == 0, soon.output
    assert auth_server.state.count("POST /token refresh_token") == before + 1  # renewed now
    assert "lapses if unused" not in soon.output
    config = load_config(path)
    assert config.oauth2 is not None
    stamp = json.loads(config.oauth2.token_cache.read_text())["last_refreshed"]
    lapses = dt.datetime.fromisoformat(stamp) + dt.timedelta(days=90)

    late = runner.invoke(
        app,
        ["-c", str(path), "release", "schedule", "--at", at(120), "--yes"],
        env={"COLUMNS": "250"},
    )
    assert late.exit_code == 0, late.output
    warning = (
        f"the sign-in of {USER} lapses if unused until {lapses.astimezone(HEL):%Y-%m-%d}, before "
        "the embargo: keep the cron line installed (each run renews it) or run 'mailer check' "
        "before then"
    )
    assert any(line.endswith(warning) for line in late.output.splitlines()), late.output
    assert network_guard.blocked == []


def test_schedule_with_a_revoked_sign_in_schedules_nothing(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    path = releasing_project(tmp_path, auth_server, xoauth2_smtp)
    auth_server.revoke_user()
    result = runner.invoke(app, ["-c", str(path), "release", "schedule", "--at", at(3), "--yes"])
    assert result.exit_code == 4, result.output
    assert result.stderr.splitlines()[-1] == (
        f"error: {USER}: the sign-in has expired or was revoked; sign in again: mailer login"
    )
    status = runner.invoke(app, ["-c", str(path), "release", "status"])
    assert status.output.splitlines()[0] == (
        "Release:   nothing scheduled (mailer release schedule)"
    )
    assert network_guard.blocked == []


@pytest.mark.slow
def test_the_cron_line_under_env_i_sends_the_release_with_the_cached_token(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    date_server: DateServer,
) -> None:
    if not os.access(MAILER, os.X_OK):
        pytest.skip(f"{MAILER} is not installed")
    path = releasing_project(tmp_path, auth_server, xoauth2_smtp)
    project = path.parent
    # A second source on the real time: the clock check is trusted, whatever this machine says.
    set_keys(project, "release", clock_url=date_server.url)
    printed = subprocess.run(
        [MAILER, "--config", str(path), "release", "cron"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert printed.returncode == 0, printed.stderr
    jobs = [line for line in printed.stdout.splitlines() if line.startswith("* * * * * ")]
    assert len(jobs) == 2  # logged; logged and the failures mailed (MAILTO): the first is run
    command = jobs[0].removeprefix("* * * * * ").replace("\\%", "%")  # what cron hands to sh

    refreshes = auth_server.state.count("POST /token refresh_token")
    embargo = schedule_soon(project, 1.5)
    home = tmp_path / "cron-home"
    home.mkdir()
    env = {"HOME": str(home), "LOGNAME": "officer", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    if os.environ.get("PYTHONPATH"):  # a development checkout runs its own code (not cron's)
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    ran = subprocess.run(
        ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), "/bin/sh", "-c", command],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr + (project / "release-cron.log").read_text()
    assert ran.stdout == ran.stderr == ""
    log = (project / "release-cron.log").read_text().splitlines()
    assert len(log) == 1
    assert "sent 7 now (7 of 7 in all) for the embargo " in log[0]
    assert len(xoauth2_smtp.messages) == 7
    assert set(xoauth2_smtp.logins) == {f"ok {USER}"}
    # the token was renewed once, in the armed minute, with the cached refresh token
    assert auth_server.state.count("POST /token refresh_token") == refreshes + 1
    with Store(load_config(path).store_path) as store:
        rows = store.journal.existing(Campaign.RELEASE, 0)
    assert all(r.sent_at is not None and r.sent_at >= embargo for r in rows.values())
    for token in auth_server.state.tokens:
        assert token.refresh_token not in "\n".join(log)


def test_the_preflight_hook_says_whether_the_sign_in_works(
    tmp_path: Path,
    auth_server: AuthServer,
    xoauth2_smtp: XOAuth2Smtp,
    network_guard: NetworkGuard,
) -> None:
    """``sign_in_problem`` (for send-due's pre-flight before the embargo): '' while the saved
    sign-in gives a token, the one line to show once it has lapsed."""
    from mailer.clock import SystemClock
    from mailer.oauth import sign_in_problem

    auth_server.state.expires_in = 60  # every check has to renew
    path = releasing_project(tmp_path, auth_server, xoauth2_smtp)
    assert sign_in_problem(load_config(path), SystemClock()) == ""
    auth_server.revoke_user()
    assert sign_in_problem(load_config(path), SystemClock()) == (
        f"{USER}: the sign-in has expired or was revoked; sign in again: mailer login"
    )
    set_keys(path.parent, "transport", kind="outbox")
    assert sign_in_problem(load_config(path), SystemClock()) == ""  # nothing to sign in to
    assert network_guard.blocked == []
