"""Issue 13: the release's health under cron, finished releases, clock steps, what `status` says,
`mailer check`'s advice, and confirmations that fit their command.

The release tests share the starter project, the HookedClock and the helpers of
``tests/test_release.py``; every numbered finding of the issue has a test here named after it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.config import load_config, password_problem
from mailer.contacts import load_project
from mailer.errors import EmbargoGuardError, ExitCode, StoreError, TransportError
from mailer.models import ScheduleState, State
from mailer.release.audience import changed_inputs
from mailer.release.preflight import preflight
from mailer.release.runner import Command, cancel, plan_schedule, run_release, save_schedule
from mailer.release.status import release_status
from mailer.sending import NoProgress, check_smtp
from mailer.store import Store
from mailer.store import db as store_db
from mailer.timesync import SyncStatus
from tests.fixtures_smtp import SmtpTestServer, smtp_config
from tests.helpers import make_project, set_keys
from tests.test_release import (
    EMBARGO,
    SCHEDULED_AT,
    HookedClock,
    at,
    config_of,
    journal,
    outbox,
    run,
    schedule,
)

Server = Callable[..., SmtpTestServer]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "press")


@pytest.fixture
def clock() -> HookedClock:
    # A machine that says its clock is synchronised: the pre-flight's clock check (the test
    # servers' greetings state no time) finds it right (tests/test_clock_trust.py tests the rest).
    hooked = HookedClock(SCHEDULED_AT.astimezone(dt.UTC))
    hooked.sync = SyncStatus(True, "timedatectl", "timedatectl: NTPSynchronized=yes")
    return hooked


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


# --- finding 10: a clock that goes back during the release --------------------------------------


class StepBackAfter(NoProgress):
    """Steps the wall clock back (as NTP does) once *count* messages went out."""

    def __init__(self, clock: HookedClock, count: int, seconds: float) -> None:
        self.clock, self.count, self.seconds, self.seen = clock, count, seconds, 0

    def advance(self, delivery: Any) -> None:
        self.seen += 1
        if self.seen == self.count:
            self.clock.step(-self.seconds)


def test_finding_10_clock_back_mid_release_pauses_then_resumes(
    project: Path, clock: HookedClock
) -> None:
    set_keys(project, "log", file="mailer.log")
    schedule(project, clock)
    at(clock, -59.5)
    result = run(project, clock, progress=StepBackAfter(clock, 3, 3600))
    assert (result.decision, result.exit_code) == ("paused", ExitCode.FAILED)
    assert result.outcome == (
        "PAUSED: clock went back 3600 s at 12:00:00 EEST, before the embargo 2027-06-25 "
        "13:00:00 EEST (10:00:00 UTC): nothing more is sent until the clock is past it again; "
        "sent 3 now (3 of 7 in all); 4 still queued; pre-flight ok"
    )
    assert result.schedule is not None
    assert result.schedule.state is ScheduleState.PAUSED
    assert result.schedule.note == "clock went back 3600 s at 12:00:00 EEST; 3 of 7 sent"
    assert len(outbox(project)) == 3
    assert (
        sorted(r.state for r in journal(project).values()) == [State.PENDING] * 4 + [State.SENT] * 3
    )
    # The next cron run, a minute later by the corrected clock: not "not yet" as if nothing
    # happened, and nothing is sent early.
    clock.advance(60)
    again = run(project, clock)
    assert (again.decision, again.exit_code) == ("paused", ExitCode.OK)
    assert again.outcome == (
        "paused (clock went back 3600 s at 12:00:00 EEST; 3 of 7 sent): 3 of 7 sent; the other "
        "4 go out when the clock is past the embargo 2027-06-25 13:00:00 EEST (10:00:00 UTC) "
        "again, in 59 min 00 s; pre-flight ok"
    )
    assert len(outbox(project)) == 3
    with Store(config_of(project).store_path) as store:
        status = release_status(config_of(project), store, now=clock.now())
    assert status.schedule is not None and status.schedule.state is ScheduleState.PAUSED
    assert (status.release.sent, status.release.pending) == (3, 4)
    # Once the clock is past the embargo again the rest goes out, each journalist once.
    at(clock, -59.5)
    done = run(project, clock)
    assert (done.decision, done.exit_code) == ("arm", ExitCode.OK), done.outcome
    assert done.outcome.startswith("sent 4 now (7 of 7 in all)")
    rows = journal(project)
    assert len(outbox(project)) == 7 and {r.state for r in rows.values()} == {State.SENT}
    assert all(r.sent_at >= EMBARGO for r in rows.values())
    log = (project / "mailer.log").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[0] for line in log] == [
        "2027-06-25T09:00:00.000Z",  # written after the clock went back
        "2027-06-25T09:01:00.000Z",
        "2027-06-25T10:00:00.000Z",
    ]
    assert ": PAUSED: clock went back 3600 s at 12:00:00 EEST" in log[0]


def test_finding_10_wait_goes_on_waiting_after_the_clock_went_back(
    project: Path, clock: HookedClock
) -> None:
    schedule(project, clock)
    at(clock, -300)
    result = run(project, clock, Command.WAIT, progress=StepBackAfter(clock, 2, 30))
    assert (result.decision, result.exit_code) == ("arm", ExitCode.OK), result.outcome
    assert len(outbox(project)) == 7
    with Store(config_of(project).store_path) as store:
        runs = store.releases.runs()
    assert [(r.command, r.decision) for r in runs] == [("wait", "paused"), ("wait", "arm")]
    assert runs[0].outcome.startswith("PAUSED: clock went back 30 s at 12:59:30 EEST")


def test_finding_10_the_guard_without_a_clock_step_is_one_line(project: Path) -> None:
    with Store(config_of(project).store_path) as store:
        guarded = store.release_journal(schedule_id=None, embargo=EMBARGO, batches={})
        with pytest.raises(EmbargoGuardError) as caught:
            guarded.mark_transmitting("<x@y>", EMBARGO - dt.timedelta(microseconds=1))
    assert str(caught.value) == (
        "embargo guard: a message was about to be marked transmitting at 09:59:59 UTC, before "
        "the embargo 10:00:00 UTC; it was not sent"
    )


def test_finding_10_through_the_cli_over_smtp(
    project: Path, clock: HookedClock, smtp_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mailer release send-due`` over SMTP, its clock stepped back an hour after the second
    message: one line and exit 3 instead of a traceback; the next runs resume on time."""
    server = smtp_server()
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section(connections=1, rate_per_minute=600))
    schedule(project, clock)
    stepped: list[float] = []

    def ntp_correction() -> None:
        if not stepped and len(server.messages) == 2 and clock.now() >= EMBARGO:
            stepped.append(3600)
            clock.step(-3600)

    clock.on_sleep = ntp_correction
    monkeypatch.setattr("mailer.clock.SystemClock", lambda: clock)
    at(clock, -59.5)
    res = mailer(project, "release", "send-due")
    assert res.exit_code == 3, res.output
    assert res.stdout == ""
    stamp, _, line = res.stderr.partition(" ")
    assert re.fullmatch(r"2027-06-25T09:00:00\.\d{3}Z", stamp), stamp
    assert line == (
        "mailer release send-due: PAUSED: clock went back 3600 s at "
        "12:00:00 EEST, before the embargo 2027-06-25 13:00:00 EEST (10:00:00 UTC): nothing "
        "more is sent until the clock is past it again; sent 2 now (2 of 7 in all); 5 still "
        "queued; pre-flight ok\n"
    )
    status = mailer(project, "release", "status")
    assert status.stdout.splitlines()[1] == (
        "State:     paused (clock went back 3600 s at 12:00:00 EEST; 2 of 7 sent); the embargo "
        "is in 59 min 59 s"
    )
    clock.on_sleep = None
    at(clock, -59.5)
    res = mailer(project, "release", "send-due")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("2027-06-25T10:00:00.")
    assert " mailer release send-due: sent 5 now (7 of 7 in all) for the embargo" in res.stdout
    assert sorted(len(server.received_by(e)) for e in journal(project)) == [1] * 7


# --- findings 4 and 6: the pre-flight of every send-due run before the embargo ------------------


def cron_run(project: Path, clock: HookedClock, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """``mailer release send-due`` as cron runs it: its own environment, the clock *clock*."""
    monkeypatch.setattr("mailer.clock.SystemClock", lambda: clock)
    return mailer(project, "release", "send-due", env=env)


def test_finding_6_a_password_missing_in_crons_environment_shows_days_ahead(
    project: Path, clock: HookedClock, smtp_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server(auth=True)
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section(password_env="MAILER_SMTP_PASSWORD"))
    monkeypatch.delenv("MAILER_SMTP_PASSWORD", raising=False)
    schedule(project, clock)
    at(clock, -3 * 86400 + 120)  # three days ahead, at 13:02 on Tuesday
    res = cron_run(project, clock, monkeypatch)
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr == (
        "2027-06-22T10:02:00.000Z mailer release send-due: not yet: the embargo 2027-06-25 "
        "13:00:00 EEST (10:00:00 UTC) is in 2 d 23 h; pre-flight FAIL: MAILER_SMTP_PASSWORD is "
        "not set in cron's environment ([smtp] password_env)\n"
    )
    # Cheap: the clock check read the server's greeting (no login, nothing sent) ...
    assert (server.connections, server.greetings, server.messages) == (1, 1, [])
    clock.advance(60)
    again = cron_run(project, clock, monkeypatch)
    assert server.connections == 1  # ... and, this far ahead, not again for 10 minutes
    assert again.exit_code == 1
    assert again.stderr == ""  # said once: cron mails it when it starts failing, not every minute
    assert again.stdout.startswith("2027-06-22T10:03:00.000Z mailer release send-due: not yet")
    status = mailer(project, "release", "status").stdout.splitlines()
    assert (
        "Pre-flight: last check 13:03:00 EEST: FAIL: MAILER_SMTP_PASSWORD is not set in cron's "
        "environment ([smtp] password_env) (failing since 13:02:00 EEST)"
    ) in status
    whole = mailer(project, "status")
    assert (
        "Pre-flight:  last check 2027-06-22 13:03:00 EEST: FAIL: MAILER_SMTP_PASSWORD is not set "
        "in cron's environment ([smtp] password_env) (failing since 2027-06-22 13:02:00 EEST)"
    ) in whole.stdout.splitlines()
    assert "Embargo:     2027-06-25 13:00:00 EEST: scheduled" in whole.stdout.splitlines()
    data = json.loads(mailer(project, "status", "--json").stdout)["release_schedule"]
    assert data["last_check"]["ok"] is False
    assert data["last_check"]["failing_since"] == "2027-06-22T10:02:00+00:00"
    # The officer adds the variable to the crontab: the next run says so, on stdout.
    clock.advance(60)
    fixed = cron_run(project, clock, monkeypatch, MAILER_SMTP_PASSWORD=SmtpTestServer.PASSWORD)
    assert fixed.exit_code == 0
    assert fixed.stdout.endswith("is in 2 d 23 h; pre-flight ok\n")
    release = json.loads(mailer(project, "release", "status", "--json").stdout)
    assert release["last_check"] == {
        "at": "2027-06-22T10:04:00+00:00",
        "command": "send-due",
        "ok": True,
        "result": "ok",
        "failing_since": None,
        "summary": "last check 13:04:00 EEST: ok",
    }


def test_finding_4_the_pre_flight_names_changed_inputs(
    project: Path, clock: HookedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule(project, clock)
    at(clock, -3600)
    (project / "templates" / "release" / "sv.txt").write_text("Ny text", encoding="utf-8")
    res = cron_run(project, clock, monkeypatch)
    assert res.exit_code == 0  # it would still go out, with messages not checked since
    assert res.stdout.endswith(
        "is in 1 h 00 min; pre-flight WARN: templates/release changed since scheduling "
        "('mailer release schedule' checks the messages again now)\n"
    )


def test_finding_6_a_password_command_that_fails(
    project: Path, clock: HookedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_keys(project, "transport", kind="smtp")
    set_keys(
        project,
        "smtp",
        host="smtp.office365.com",
        port=587,
        username="viestinta@kokkola.example",
        password_command="false",
    )
    schedule(project, clock)
    at(clock, -7200)
    res = cron_run(project, clock, monkeypatch)
    assert res.exit_code == 1
    assert res.stderr.endswith(
        "pre-flight FAIL: [smtp] password_command: false failed with exit status 1; run it "
        "yourself to see why (its output is not shown here)\n"
    )


def test_status_warns_when_no_send_due_run_checks(
    project: Path, clock: HookedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule(project, clock)
    monkeypatch.setattr("mailer.clock.SystemClock", lambda: clock)
    res = mailer(project, "release", "status")
    assert res.stderr == (
        "warning: no send-due run has checked the release yet: is the cron job installed "
        "('mailer release cron'), or 'mailer release wait' running?\n"
    )
    assert cron_run(project, clock, monkeypatch).exit_code == 0
    assert mailer(project, "release", "status").stderr == ""
    clock.advance(600)
    assert mailer(project, "release", "status").stderr == (
        "warning: no send-due run has checked the release since 09:00:00 EEST: is the cron job "
        "installed ('mailer release cron'), or 'mailer release wait' running?\n"
    )


def test_send_due_errors_carry_a_time_stamp(
    project: Path, clock: HookedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "config.toml").write_text("[event\n", encoding="utf-8")
    res = cron_run(project, clock, monkeypatch)
    assert res.exit_code == 1
    assert re.fullmatch(
        r"2027-06-25T06:00:00\.000Z mailer release send-due: error: \S*config\.toml:1: TOML .*\n",
        res.stderr,
    ), res.stderr


def test_release_cron_shows_how_to_get_the_failures_mailed(project: Path) -> None:
    res = mailer(project, "release", "cron")
    out = res.stdout.splitlines()
    start = out.index(
        "To have cron mail you the failures too (every run is still logged), paste these instead:"
    )
    assert out[start + 3] == "MAILTO=viestinta@kokkola.example"
    log = project / "release-cron.log"
    assert out[start + 4].endswith(f"release send-due 2>&1 >> {log} | tee -a {log}")
    assert out[start + 5].startswith(
        "Note: cron mails to viestinta@kokkola.example what send-due writes to stderr: "
    )
    systemd = mailer(project, "release", "cron", "--systemd").stdout
    assert "journalctl --user -u mailer-release.service" in systemd


# --- finding 9: mailer status shows the follow-up rounds and a due update -----------------------


def test_finding_9_status_shows_every_round_and_a_due_update(project: Path) -> None:
    assert mailer(project, "invite", "send", "--yes").exit_code == 0
    assert mailer(project, "invite", "remind", "--yes").exit_code == 0
    first = mailer(project, "status").stdout.splitlines()
    assert "Reminder 1:  sent 7  failed 0  in doubt 0  pending 0  skipped 0" in first
    assert not any(line.startswith("Update due:") for line in first)
    set_keys(project, "event", location="Kokkolan kaupungintalo, valtuustosali")
    due = mailer(project, "status").stdout.splitlines()
    assert (
        "Update due:  [event] changed since the invitations went out (mailer invite update)" in due
    )
    data = json.loads(mailer(project, "status", "--json").stdout)
    assert data["update_due"] == {
        "due": True,
        "reason": "[event] changed since the invitations went out (mailer invite update)",
    }
    assert mailer(project, "invite", "update", "--yes").exit_code == 0
    updated = mailer(project, "status").stdout.splitlines()
    assert "Update 1:    sent 7  failed 0  in doubt 0  pending 0  skipped 0" in updated
    assert not any(line.startswith("Update due:") for line in updated)
    set_keys(project, "event", location="Kokkolan kirjasto")
    assert (
        "Update due:  [event] changed since the last update went out (mailer invite update)"
        in mailer(project, "status").stdout.splitlines()
    )
    assert mailer(project, "invite", "cancel", "--yes").exit_code == 0
    done = mailer(project, "status")
    lines = done.stdout.splitlines()
    assert "Cancel:      sent 7  failed 0  in doubt 0  pending 0  skipped 0" in lines
    assert not any(line.startswith("Update due:") for line in lines)
    data = json.loads(mailer(project, "status", "--json").stdout)
    counts = {"sent": 7, "failed": 0, "in_doubt": 0, "pending": 0, "skipped": 0}
    assert data["followups"] == {
        "reminder": [{"round": 1, **counts}],
        "update": [{"round": 1, **counts}],
        "cancel": [{"round": 0, **counts}],
    }
    assert data["update_due"] == {
        "due": False,
        "reason": "the event was cancelled (mailer invite cancel)",
    }


# --- finding 12: a read-only journal ------------------------------------------------------------


def _without_write_access() -> list[str]:
    """How to run a command that file permissions bind: as root (CI, this sandbox) without the
    capabilities that let root ignore them; as anyone else, as is."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a chmod cannot stop root")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    config = str(project / "config.toml")
    return subprocess.run(
        [*_without_write_access(), sys.executable, "-m", "mailer", "--config", config, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def read_only_project(project: Path) -> Iterator[Path]:
    """The starter project after its invitations went out, its folder and journal read-only."""
    assert mailer(project, "invite", "send", "--yes").exit_code == 0
    journal_file = project / "mailer.db"
    assert journal_file.exists() and not Path(f"{journal_file}-wal").exists()
    journal_file.chmod(0o400)
    project.chmod(0o555)
    try:
        yield project
    finally:
        project.chmod(0o755)
        journal_file.chmod(0o600)


def test_finding_12_reading_commands_work_with_a_read_only_journal(
    read_only_project: Path,
) -> None:
    project = read_only_project
    status = _cli(project, "status")
    assert (status.returncode, status.stderr) == (0, "")
    assert "Invitations: sent 7  failed 0  in doubt 0  pending 0  skipped 0" in status.stdout
    assert _cli(project, "status", "--json").returncode == 0
    listed = _cli(project, "rsvp", "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert "Sarah Okafor" in listed.stdout
    summary = _cli(project, "rsvp", "summary")
    assert (summary.returncode, summary.stderr) == (0, "")
    assert summary.stdout.startswith("Invited:      7 (sent 7)")
    release = _cli(project, "release", "status")
    assert (release.returncode, release.stderr) == (0, "")
    assert sorted(p.name for p in project.iterdir()) == [
        "config.toml",
        "contacts.csv",
        "mailer.db",
        "outbox",
        "programme.pdf",
        "templates",
    ]


def test_finding_12_writing_commands_name_the_read_only_folder(read_only_project: Path) -> None:
    project = read_only_project
    res = _cli(project, "invite", "remind", "--yes")
    assert res.returncode == 1
    assert res.stderr == (
        f"error: {project / 'mailer.db'}: cannot write the journal: its folder {project} is "
        "read-only (SQLite writes its -wal and -shm files there)\n"
        "hint: this command records what it does there; 'mailer status', 'mailer release "
        "status', 'mailer rsvp list' and 'mailer rsvp summary' only read it and work as they "
        "are\n"
    )
    due = _cli(project, "release", "send-due")
    assert due.returncode == 1
    assert due.stderr.endswith(
        f" mailer release send-due: error: {project / 'mailer.db.release.lock'}: cannot open "
        f"the release lock: its folder {project} is read-only\n"
    )


def test_finding_12_a_read_only_journal_with_a_live_write_ahead_log(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A -wal file that still holds changes cannot be read from a read-only folder: one line,
    not a stale view."""
    assert mailer(project, "invite", "send", "--yes").exit_code == 0
    journal_file = project / "mailer.db"
    writer = Store(journal_file)  # open: its -wal file stays until it closes
    try:
        writer.journal.set_meta("held", "open")
        monkeypatch.setattr(store_db, "_writable", lambda path: False)
        real = store_db._read_only

        def no_shared_memory(uri: str) -> sqlite3.Connection:
            if "mode=ro" in uri:  # as SQLite answers without a -shm file it may create
                raise sqlite3.OperationalError("unable to open database file")
            return real(uri)

        monkeypatch.setattr(store_db, "_read_only", no_shared_memory)
        with pytest.raises(StoreError) as caught:
            store_db.connect_reader(journal_file)
    finally:
        writer.close()
    assert str(caught.value) == (
        f"{journal_file}: the journal's folder is read-only and mailer.db-wal holds changes "
        "not yet written into the journal; they cannot be read without write access"
    )


# --- the pre-flight's parts, one by one ---------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({}, ""),  # the variable is set in this environment
        (
            {"password_env": "MAILER_MISSING_PASSWORD"},
            "MAILER_MISSING_PASSWORD is not set in cron's environment ([smtp] password_env)",
        ),
        (
            {"password_env": "", "keyring_service": "mailer"},
            "the keyring gave no password for officer@city.example in cron's environment ([smtp] "
            "keyring_service = 'mailer': no entry, locked, or no keyring reachable without a "
            "desktop session)",
        ),
        (
            {"password_env": "MAILER_MISSING_PASSWORD", "keyring_service": "mailer"},
            "MAILER_MISSING_PASSWORD is not set in cron's environment ([smtp] password_env), and "
            "the keyring gave no password for officer@city.example ([smtp] keyring_service)",
        ),
        (
            {"password_env": "", "password_command": "true"},
            "[smtp] password_command: true printed nothing",
        ),
    ],
)
def test_password_problem_names_the_source_that_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str], expected: str
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # no keyring here
    monkeypatch.setenv("MAILER_SET_PASSWORD", "secret")
    monkeypatch.delenv("MAILER_MISSING_PASSWORD", raising=False)
    smtp = {"password_env": "MAILER_SET_PASSWORD", **keys}
    config = smtp_config(
        tmp_path, None, host="smtp.example.org", username="officer@city.example", **smtp
    )
    assert password_problem(config, where="cron's environment") == expected


def test_a_stuck_send_due_holding_the_lock_fails_the_pre_flight(
    project: Path, clock: HookedClock
) -> None:
    sched = schedule(project, clock)
    config = config_of(project)
    now = clock.now()
    old = (now - dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fresh = (now - dt.timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    stuck = preflight(
        config, sched, now=now, lock_holder=f"host:42:9 send-due since {old}", where="here"
    )
    assert stuck.text == (
        f"FAIL: the release lock is held by send-due (process host:42:9) since {old}, though "
        "nothing is due: a stuck run would keep the release from going out; end that process"
    )
    for holder in (f"host:42:9 wait since {old}", f"host:42:9 send-due since {fresh}", ""):
        assert preflight(config, sched, now=now, lock_holder=holder, where="here").text == "ok"
