"""A wrong clock found ahead of time (issue 15, finding 4): the pre-flight, ``release schedule``,
``wait`` and the status commands say it hours before the embargo; the arming run reuses a fresh
check, so the clock check adds no round trip between the embargo second and the first message.

Through the real CLI where the clock can be faked (``mailer.clock.SystemClock`` patched to a
FakeClock, as cron's runs in tests/test_release_health.py), with real servers on 127.0.0.1:
aiosmtpd whose greeting states the date the test chooses, and an ``http.server`` Date header.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.clock import FakeClock
from mailer.config.load import load_config
from mailer.errors import ExitCode
from mailer.release.clocktrust import (
    Verdict,
    clock_due,
    forecast,
    reusable,
)
from mailer.release.runner import Command, run_release
from mailer.store import ClockRecord, Store
from mailer.timesync import SyncStatus
from tests.fixtures_smtp import DateServer, SmtpTestServer
from tests.helpers import make_project, scheduled, set_keys, use_smtp

HEL = ZoneInfo("Europe/Helsinki")
EMBARGO = dt.datetime(2027, 6, 25, 13, 0, tzinfo=HEL).astimezone(dt.UTC)
SCHEDULED_AT = dt.datetime(2027, 6, 22, 9, 0, tzinfo=HEL).astimezone(dt.UTC)
HOUR = dt.timedelta(hours=1)
WHEN = "2027-06-25 13:00:00 EEST (10:00:00 UTC)"
SYNCED = SyncStatus(True, "timedatectl", "timedatectl: NTPSynchronized=yes")


def ahead(server: SmtpTestServer) -> str:
    """What the pre-flight says when this machine's clock is an hour ahead of *server*'s."""
    return (
        f"the clock is 1 h 00 min ahead of 127.0.0.1:{server.port}'s time (its SMTP greeting): "
        f"the release will not go out at {WHEN} unless the clock is set right ('timedatectl "
        "set-ntp true', or 'sudo chronyc makestep'), or, if that source is wrong, it is sent "
        "with --trust-clock ('mailer release wait --trust-clock')"
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "press")


def cli(project: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """``mailer --config ... <args>`` on the fake clock."""
    monkeypatch.setattr("mailer.clock.SystemClock", lambda: clock)
    return CliRunner().invoke(app, ["--config", str(project / "config.toml"), *args])


def at(clock: FakeClock, seconds_to_embargo: float) -> None:
    clock.advance(
        (EMBARGO - dt.timedelta(seconds=seconds_to_embargo) - clock.now()).total_seconds()
    )


def last_clock(project: Path) -> ClockRecord | None:
    with Store(load_config(project / "config.toml").store_path) as store:
        current = store.releases.current()
        assert current is not None
        return store.clock_checks.last(current.id)


# --- pure: when to ask, what to reuse, what to say ----------------------------------------------


def record(
    verdict: str,
    at_: dt.datetime,
    *,
    offset: float | None = 0.2,
    refused: bool = False,
    source: str = "smtp.office365.com:587 (SMTP greeting)",
) -> ClockRecord:
    return ClockRecord(
        schedule_id=1,
        at=at_,
        command="send-due pre-flight",
        verdict=verdict,
        refused=refused,
        overridden=False,
        offset=offset,
        uncertainty=0.6,
        source=source,
        sync=SYNCED.detail,
        line=f"clock ok: 0.2 s ahead of {source}, ±0.6 s (at most 2 s); {SYNCED.detail}",
    )


def test_when_the_pre_flight_asks_the_sources_again() -> None:
    far = EMBARGO - dt.timedelta(days=2)
    ok = record("trusted", far)
    assert clock_due(None, embargo=EMBARGO, now=far)
    assert not clock_due(ok, embargo=EMBARGO, now=far + dt.timedelta(minutes=9, seconds=59))
    assert clock_due(ok, embargo=EMBARGO, now=far + dt.timedelta(minutes=10))
    assert clock_due(ok, embargo=EMBARGO, now=far - dt.timedelta(seconds=1))  # clock went back
    # every run while the clock is found wrong, and every run in the last 15 minutes
    wrong = record("skewed", far, offset=3600.0, refused=True)
    assert clock_due(wrong, embargo=EMBARGO, now=far + dt.timedelta(seconds=60))
    late = EMBARGO - dt.timedelta(minutes=15)
    assert clock_due(record("trusted", late), embargo=EMBARGO, now=late)


def test_what_the_arming_run_reuses() -> None:
    now = EMBARGO - dt.timedelta(seconds=59)
    fresh = record("trusted", now - dt.timedelta(seconds=61))
    reused = reusable(fresh, now=now, max_skew=2.0, require=False, trust=False)
    assert reused is not None and (reused.verdict, reused.refused) == (Verdict.TRUSTED, False)
    assert reused.line == (
        "clock ok: 0.2 s ahead of smtp.office365.com:587 (SMTP greeting), ±0.6 s (at most 2 s); "
        "timedatectl: NTPSynchronized=yes (checked 61 s before, send-due pre-flight)"
    )
    stale = record("trusted", now - dt.timedelta(seconds=151))
    assert reusable(stale, now=now, max_skew=2.0, require=False, trust=False) is None
    # a limit lowered since: 0.2 + 0.6 > 0.5, asked again
    assert reusable(fresh, now=now, max_skew=0.5, require=False, trust=False) is None
    wrong = record("skewed", now - dt.timedelta(seconds=30), offset=3600.0, refused=True)
    assert reusable(wrong, now=now, max_skew=2.0, require=False, trust=True) is None
    unverified = record("unverified", now - dt.timedelta(seconds=30), offset=None)
    assert reusable(unverified, now=now, max_skew=2.0, require=True, trust=False) is None
    forced = reusable(unverified, now=now, max_skew=2.0, require=True, trust=True)
    assert forced is not None and forced.line.endswith("; sent anyway: --trust-clock")
    assert reusable(None, now=now, max_skew=2.0, require=False, trust=False) is None


def test_what_the_forecast_says() -> None:
    now = EMBARGO - HOUR
    assert forecast(record("trusted", now), when=WHEN) == ""
    behind = record("skewed", now, offset=-95.0, refused=True)
    assert forecast(behind, when=WHEN).startswith(
        "the clock is 2 min behind smtp.office365.com:587's time (its SMTP greeting): the release "
        "will not go out"
    )
    chrony = record("skewed", now, offset=3.4, refused=True, source="chronyc")
    assert forecast(chrony, when=WHEN).startswith("the clock is 3 s ahead of NTP time (chronyc):")
    strict = record("unverified", now, offset=None, refused=True)
    assert forecast(strict, when=WHEN).startswith(
        "nothing confirms the clock (no second source stated the time; timedatectl: "
        "NTPSynchronized=yes): with [release] require_clock_check = true the release will not "
        f"go out at {WHEN} unless [release] clock_url is set"
    )
    assert "by this clock, unchecked" in forecast(record("unverified", now, offset=None), when=WHEN)


# --- days ahead, through the CLI ------------------------------------------------------------------


def test_an_hour_ahead_is_said_days_before_the_embargo_by_every_command(
    project: Path, smtp_server: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    said = ahead(server)
    # The machine's clock reads an hour ahead of the server's (which is right).
    clock = FakeClock(SCHEDULED_AT)
    server.greeting_date = lambda: clock.now() - HOUR
    shown = cli(project, clock, monkeypatch, "release", "schedule", "--no-prebrief", "--yes")
    assert shown.exit_code == 0, shown.output
    assert f"warning: {said}" in " ".join(shown.stderr.split())
    checked = last_clock(project)
    assert checked is not None and (checked.command, checked.verdict) == ("schedule", "skewed")
    assert checked.line == said and checked.refused

    at(clock, 3 * 86400 - 120)
    first = cli(project, clock, monkeypatch, "release", "send-due")
    assert first.exit_code == ExitCode.ERROR
    assert first.stdout == ""
    assert first.stderr == (
        "2027-06-22T10:02:00.000Z mailer release send-due: not yet: the embargo "
        f"{WHEN} is in 2 d 23 h; pre-flight FAIL: {said}\n"
    )
    greeted = server.greetings
    clock.advance(60)
    again = cli(project, clock, monkeypatch, "release", "send-due")
    # Asked again every minute while wrong; the same words: cron mails it once (stdout now).
    assert server.greetings == greeted + 1
    assert again.exit_code == ExitCode.ERROR and again.stderr == ""
    assert again.stdout.endswith(f"pre-flight FAIL: {said}\n")
    assert server.messages == []

    status = cli(project, clock, monkeypatch, "release", "status")
    assert status.exit_code == 0
    assert f"Pre-flight: last check 13:03:00 EEST: FAIL: {said} (failing since 13:02:00 EEST)" in (
        " ".join(status.stdout.split())
    )
    assert f"warning: clock check 2027-06-22 13:03:00 EEST (send-due pre-flight): {said}" in (
        " ".join(status.stderr.split())
    )
    whole = cli(project, clock, monkeypatch, "status")
    assert f"warning: clock check: {said}" in " ".join(whole.stderr.split())
    data = json.loads(cli(project, clock, monkeypatch, "status", "--json").stdout)
    assert data["release_schedule"]["clock_check"]["summary"] == said
    assert data["release_schedule"]["check_overdue"] is False

    # Set right: the next run finds it so, the pre-flight is ok, and the check is spaced again.
    server.greeting_date = clock.now
    clock.advance(60)
    fixed = cli(project, clock, monkeypatch, "release", "send-due")
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout.endswith("; pre-flight ok\n")
    greeted = server.greetings
    for _ in range(9):
        clock.advance(60)
        assert cli(project, clock, monkeypatch, "release", "send-due").exit_code == 0
    assert server.greetings == greeted  # a right clock: not asked for 10 minutes
    clock.advance(60)
    cli(project, clock, monkeypatch, "release", "send-due")
    assert server.greetings == greeted + 1


def test_mailer_status_says_when_no_pre_flight_has_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(SCHEDULED_AT)
    scheduled(project, clock.now())
    clock.advance(6 * 60)
    whole = cli(project, clock, monkeypatch, "status")
    assert whole.exit_code == 0
    assert (
        "warning: no send-due run has checked the release yet: is the cron job installed "
        "('mailer release cron'), or 'mailer release wait' running?"
    ) in " ".join(whole.stderr.split())
    data = json.loads(cli(project, clock, monkeypatch, "status", "--json").stdout)
    assert data["release_schedule"]["check_overdue"] is True
    assert cli(project, clock, monkeypatch, "release", "send-due").exit_code == 0
    calm = cli(project, clock, monkeypatch, "status")
    assert "no send-due run has checked" not in calm.stderr
    assert (
        json.loads(cli(project, clock, monkeypatch, "status", "--json").stdout)["release_schedule"][
            "check_overdue"
        ]
        is False
    )


# --- the last minutes: no round trip after the embargo second ------------------------------------


def test_the_arming_run_reuses_the_pre_flights_check(
    project: Path,
    smtp_server: Callable[..., SmtpTestServer],
    date_server: DateServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    set_keys(project, "release", clock_url=date_server.url)
    clock = FakeClock(SCHEDULED_AT)
    date_server.now = clock.now
    scheduled(project, clock.now())
    at(clock, 120)  # cron's run at 12:58: the last 15 minutes, the clock is checked
    before = cli(project, clock, monkeypatch, "release", "send-due")
    assert before.exit_code == 0 and before.stdout.endswith("; pre-flight ok\n")
    assert date_server.requests == 1
    at(clock, 59.5)  # 12:59: arms, reuses that check, waits for 13:00:00, sends
    sent = cli(project, clock, monkeypatch, "release", "send-due")
    assert sent.exit_code == 0, sent.output
    assert date_server.requests == 1  # no new question: nothing between the embargo and sending
    assert len(server.messages) == 7
    checked = last_clock(project)
    assert checked is not None and checked.command == "send-due"
    assert checked.verdict == "trusted" and checked.line.endswith(
        "(checked 60 s before, send-due pre-flight)"
    )


def test_a_wrong_clock_found_by_the_pre_flight_is_checked_again_when_it_arms(
    project: Path, smtp_server: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    clock = FakeClock(SCHEDULED_AT)
    scheduled(project, clock.now())
    server.greeting_date = lambda: clock.now() - HOUR
    at(clock, 120)
    assert cli(project, clock, monkeypatch, "release", "send-due").exit_code == ExitCode.ERROR
    server.greeting_date = clock.now  # set right in the last minutes
    at(clock, 59.5)
    sent = cli(project, clock, monkeypatch, "release", "send-due")
    assert sent.exit_code == 0, sent.output
    assert len(server.messages) == 7
    checked = last_clock(project)
    assert checked is not None and checked.verdict == "trusted" and "checked" not in checked.line


def test_wait_runs_the_pre_flight_every_minute_and_arms_on_its_check(
    project: Path, smtp_server: Callable[..., SmtpTestServer], date_server: DateServer
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    set_keys(project, "release", clock_url=date_server.url)
    clock = FakeClock(SCHEDULED_AT)
    date_server.now = clock.now
    scheduled(project, clock.now())
    at(clock, 300)
    said: list[str] = []
    config = load_config(project / "config.toml")
    result = run_release(config, command=Command.WAIT, clock=clock, on_check=said.append)
    assert result.exit_code is ExitCode.OK, result.outcome
    assert said == ["ok"] * 4  # at 12:55, 12:56, 12:57, 12:58
    assert date_server.requests == 4  # the arming at 12:59 asked nothing new
    assert len(server.messages) == 7
    with Store(config.store_path) as store:
        current = store.releases.current()
        assert current is not None
        check = store.releases.last_check(current.id)
    assert check is not None and (check.command, check.ok) == ("wait", True)


def test_wait_shows_a_wrong_clock_during_its_countdown_and_refuses_at_the_embargo(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    clock = FakeClock(SCHEDULED_AT)
    server.greeting_date = lambda: clock.now() - HOUR
    scheduled(project, clock.now())
    at(clock, 150)
    said: list[str] = []
    config = load_config(project / "config.toml")
    result = run_release(config, command=Command.WAIT, clock=clock, on_check=said.append)
    assert said == [f"FAIL: {ahead(server)}"] * 2
    assert result.exit_code is ExitCode.CLOCK and server.messages == []


def test_mailer_check_connect_says_whether_the_release_would_go_out_on_this_clock(
    project: Path, smtp_server: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    clock = FakeClock(SCHEDULED_AT)
    server.greeting_date = lambda: clock.now() - HOUR
    wrong = cli(project, clock, monkeypatch, "check", "--connect")
    assert wrong.exit_code == ExitCode.ERROR
    expected = "FAIL  clock       " + ahead(server).replace(WHEN, "its embargo")
    assert expected in " ".join(wrong.stdout.split()).replace("FAIL clock", "FAIL  clock      ")
    server.greeting_date = clock.now
    right = cli(project, clock, monkeypatch, "check", "--connect")
    assert right.exit_code == 0, right.output
    assert f"ok    clock       clock ok: 0.5 s behind 127.0.0.1:{server.port} (SMTP greeting)" in (
        right.stdout
    )
