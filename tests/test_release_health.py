"""Issue 13: the release's health under cron, finished releases, clock steps, what `status` says,
`mailer check`'s advice, and confirmations that fit their command.

The release tests share the starter project, the HookedClock and the helpers of
``tests/test_release.py``; every numbered finding of the issue has a test here named after it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.config import load_config
from mailer.contacts import load_project
from mailer.errors import ExitCode, TransportError
from mailer.models import ScheduleState, State
from mailer.release.audience import changed_inputs
from mailer.release.runner import Command, cancel, plan_schedule, run_release, save_schedule
from mailer.release.status import release_status
from mailer.sending import NoProgress, check_smtp
from mailer.store import Store
from tests.fixtures_smtp import SmtpTestServer, smtp_config
from tests.helpers import make_project, set_keys
from tests.test_release import (
    SCHEDULED_AT,
    HookedClock,
    at,
    config_of,
    run,
    schedule,
)

Server = Callable[..., SmtpTestServer]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "press")


@pytest.fixture
def clock() -> HookedClock:
    return HookedClock(SCHEDULED_AT.astimezone(dt.UTC))


def mailer(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["--config", str(project / "config.toml"), *args], env=env)


# --- finding 7: the refusal without a terminal fits the command ---------------------------------


def test_finding_7_cancel_without_a_terminal_says_nothing_was_cancelled(project: Path) -> None:
    assert mailer(project, "release", "schedule", "--yes", "--no-prebrief").exit_code == 0
    res = mailer(project, "release", "cancel")
    assert res.exit_code == 2
    assert res.stderr == (
        "error: not a terminal: nothing was cancelled. Add --yes to cancel without asking "
        "(for example from a script), or run it in a terminal\n"
    )
    assert "scheduled" in mailer(project, "release", "status").stdout.splitlines()[1]


def test_finding_7_schedule_without_a_terminal_says_nothing_was_scheduled(project: Path) -> None:
    res = mailer(project, "release", "schedule", "--no-prebrief")
    assert res.exit_code == 2
    assert res.stderr.endswith(
        "error: not a terminal: nothing was scheduled. Add --yes to schedule without asking "
        "(for example from a script), or run it in a terminal\n"
    )


# --- finding 8: mailer check's advice fits [smtp] security --------------------------------------


def test_finding_8_no_login_on_a_plain_server_without_starttls(
    smtp_server: Server, tmp_path: Path
) -> None:
    server = smtp_server(auth=True, login_needs_tls=True)  # no STARTTLS, AUTH only after it
    smtp = smtp_config(tmp_path, server, security="none").smtp
    assert smtp is not None
    with pytest.raises(TransportError) as caught:
        check_smtp(smtp, SmtpTestServer.PASSWORD, timeout=5)
    assert str(caught.value) == (
        f"127.0.0.1:{server.port}: the server offers no login (AUTH) nor STARTTLS on this "
        "unencrypted connection (security = 'none'): leave [smtp] username empty if it lets "
        "this machine send without one; otherwise use its submission port: 587 with "
        "security = 'starttls', or 465 with security = 'tls'"
    )
    assert "use security = 'tls'" not in str(caught.value)


def test_finding_8_login_only_after_starttls_with_security_none(
    smtp_server: Server, tmp_path: Path
) -> None:
    server = smtp_server(security="starttls", auth=True)
    smtp = smtp_config(tmp_path, server, security="none").smtp
    assert smtp is not None
    with pytest.raises(TransportError) as caught:
        check_smtp(smtp, SmtpTestServer.PASSWORD, timeout=5)
    assert str(caught.value) == (
        f"127.0.0.1:{server.port}: the server offers login (AUTH) only after STARTTLS, and "
        "[smtp] security is 'none': set security = 'starttls'"
    )


def test_finding_8_starttls_asked_of_a_server_without_it(
    smtp_server: Server, tmp_path: Path
) -> None:
    server = smtp_server()
    smtp = smtp_config(tmp_path, server, security="starttls").smtp
    assert smtp is not None
    with pytest.raises(TransportError) as caught:
        check_smtp(smtp, None, timeout=5)
    assert str(caught.value) == (
        f"127.0.0.1:{server.port}: the server does not offer STARTTLS (security = 'starttls'); "
        "if it expects TLS from the first byte (usually port 465), set [smtp] security = 'tls'"
    )


def test_finding_8_through_mailer_check(project: Path, smtp_server: Server) -> None:
    server = smtp_server(auth=True, login_needs_tls=True)
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section(security="none"))
    res = mailer(project, "check", env={"MAILER_TEST_SMTP_PASSWORD": SmtpTestServer.PASSWORD})
    assert res.exit_code == 1
    smtp = [line for line in res.stdout.splitlines() if line.startswith("FAIL  smtp")]
    assert smtp == [
        f"FAIL  smtp        127.0.0.1:{server.port}: the server offers no login (AUTH) nor "
        "STARTTLS on this unencrypted connection (security = 'none'): leave [smtp] username "
        "empty if it lets this machine send without one; otherwise use its submission port: "
        "587 with security = 'starttls', or 465 with security = 'tls'"
    ]


# --- finding 4: the inputs are compared by content, never by path ------------------------------


def test_finding_4_scheduled_from_the_folder_run_by_cron_with_an_absolute_config(
    project: Path, clock: HookedClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(project)
    relative = load_project(Path("config.toml"))
    assert not relative.config.path.is_absolute()
    with Store(relative.config.store_path) as store:
        proposal = plan_schedule(relative, store, at=None, tz=None, tag=None, now=clock.now())
        save_schedule(store, proposal, now=clock.now())
    monkeypatch.chdir(tmp_path)  # cron starts in the home folder, with --config absolute
    absolute = load_config(project / "config.toml")
    assert changed_inputs(absolute, proposal.fingerprint) == ()
    at(clock, -59.5)
    result = run_release(absolute, command=Command.SEND_DUE, clock=clock)
    assert result.outcome == (
        "sent 7 now (7 of 7 in all) for the embargo 2027-06-25 13:00:00 EEST (10:00:00 UTC); "
        "first +0.000 s, last +0.000 s"
    )


def test_finding_4_a_real_change_is_named(project: Path, clock: HookedClock) -> None:
    set_keys(project, "release", attachments=["programme.pdf"])
    fingerprint = schedule(project, clock).fingerprint
    config = config_of(project)
    assert changed_inputs(config, fingerprint) == ()
    contacts = project / "contacts.csv"
    contacts.write_text(contacts.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    (project / "templates" / "release" / "fi.txt").write_text("Uusi teksti", encoding="utf-8")
    with (project / "programme.pdf").open("ab") as pdf:
        pdf.write(b"%% one more line\n")
    assert changed_inputs(config, fingerprint) == (
        "contacts.csv changed since scheduling",
        "templates/release changed since scheduling",
        "programme.pdf changed since scheduling",
    )
    (project / "programme.pdf").unlink()
    assert changed_inputs(config, fingerprint)[-1] == (
        "cannot read programme.pdf: No such file or directory"
    )
    # a fingerprint of an earlier mailer hashed paths too: not compared, nothing claimed
    assert changed_inputs(config, "0" * 64) == ()


# --- finding 5: a finished release is never rewritten -------------------------------------------


def test_finding_5_schedule_after_a_finished_release_is_refused(
    project: Path, clock: HookedClock
) -> None:
    schedule(project, clock)
    at(clock, -59.5)
    assert run(project, clock).exit_code == ExitCode.OK
    before = mailer(project, "release", "status", "--json").stdout
    res = mailer(project, "release", "schedule", "--yes", "--at", "2027-06-26 13:00")
    assert res.exit_code == 1
    assert res.stderr == (
        "error: the release of Friday 2027-06-25 13:00:00 EEST (UTC+03:00, Europe/Helsinki) = "
        "10:00:00 UTC was sent (7 sent, 0 failed, 0 in doubt); a finished release is never "
        "scheduled again\n"
        "hint: 'mailer release status' shows who got it when; a new press release needs a "
        "project folder of its own ('mailer init')\n"
    )
    after = json.loads(mailer(project, "release", "status", "--json").stdout)
    assert after == json.loads(before) | {
        "decision_now": after["decision_now"],
        "seconds_to_embargo": after["seconds_to_embargo"],
    }
    assert after["schedule"]["state"] == "done"
    assert {r["after_embargo_s"] for r in after["recipients"]} == {0.0}


def test_finding_5_rescheduled_after_a_cancel_shows_no_negative_delivery(
    project: Path, clock: HookedClock
) -> None:
    schedule(project, clock)
    at(clock, -59.5)

    class CancelAfterTwo(NoProgress):
        sent = 0

        def advance(self, delivery: Any) -> None:
            self.sent += 1
            if self.sent == 2:
                with Store(config_of(project).store_path) as store:
                    cancel(config_of(project), store, now=clock.now())

    result = run(project, clock, progress=CancelAfterTwo())
    assert result.counts is not None and result.counts.sent == 2
    later = schedule(project, clock, at_="2027-06-25 15:00")
    with Store(config_of(project).store_path) as store:
        status = release_status(config_of(project), store, now=clock.now())
    assert later.state is ScheduleState.SCHEDULED
    earlier = [p for p in status.recipients if p.state is State.SENT]
    assert len(earlier) == 2
    assert {(p.after_embargo, p.detail) for p in earlier} == {(None, "sent for an earlier embargo")}
    assert status.first is None and status.last is None
