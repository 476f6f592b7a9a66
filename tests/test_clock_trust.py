"""A clock the release can trust (issue 15, finding 4).

The machine's word (timedatectl, chronyc, adjtimex) through pure parsers; the second source
through real servers on 127.0.0.1: aiosmtpd whose greeting states a date the test chooses, and
``http.server`` whose ``Date:`` header does. The release runs on a FakeClock set wrong on purpose
(an hour ahead, as in the finding); one test runs the whole CLI on the real clock.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailer.cli import app
from mailer.clock import FakeClock, SystemClock
from mailer.config import SmtpConfig
from mailer.config.load import load_config
from mailer.contacts import load_project
from mailer.errors import ExitCode
from mailer.models import Campaign, State
from mailer.release.clocktrust import Verdict, judge
from mailer.release.runner import Command, plan_schedule, run_release, save_schedule
from mailer.release.status import release_status
from mailer.sending.timesource import StatedTime, ask_smtp, ask_url, date_in_text
from mailer.store import Store
from mailer.timesync import (
    UNKNOWN,
    SyncStatus,
    machine_sync,
    parse_adjtimex,
    parse_chronyc,
    parse_timedatectl,
)
from tests.fixtures_smtp import DateServer, SmtpTestServer, smtp_config
from tests.helpers import make_project, scheduled, set_keys, use_smtp

HEL = ZoneInfo("Europe/Helsinki")
EMBARGO = dt.datetime(2027, 6, 25, 13, 0, tzinfo=HEL).astimezone(dt.UTC)
SCHEDULED_AT = dt.datetime(2027, 6, 25, 9, 0, tzinfo=HEL).astimezone(dt.UTC)
HOUR = dt.timedelta(hours=1)
SYNCED = SyncStatus(True, "timedatectl", "timedatectl: NTPSynchronized=yes")
UNSYNCED = SyncStatus(False, "adjtimex", "adjtimex: not synchronised (STA_UNSYNC)")

CHRONY = """Reference ID    : C0A80101 (ntp.example)
Stratum         : 3
Ref time (UTC)  : Sat Dec 05 02:09:41 2026
System time     : 3600.000012345 seconds fast of NTP time
Last offset     : +0.000001234 seconds
Leap status     : Normal
"""


# --- the machine's word -----------------------------------------------------------------------


def test_timedatectl_chronyc_and_adjtimex_parsers() -> None:
    assert parse_timedatectl("yes\n") == SYNCED
    assert parse_timedatectl("no\n") == SyncStatus(
        False, "timedatectl", "timedatectl: NTPSynchronized=no"
    )
    assert parse_timedatectl("") is None
    assert parse_chronyc(CHRONY) == SyncStatus(
        True,
        "chronyc",
        "chronyc: leap status Normal, system time 3600 s fast of NTP time",
        3600.000012345,
    )
    slow = CHRONY.replace("3600.000012345 seconds fast", "0.25 seconds slow").replace(
        "Normal", "Not synchronised"
    )
    assert parse_chronyc(slow) == SyncStatus(
        False,
        "chronyc",
        "chronyc: leap status Not synchronised, system time 0.25 s slow of NTP time",
        -0.25,
    )
    assert parse_chronyc("506 Cannot talk to daemon") is None
    assert parse_adjtimex(0x40, 16_000_000, 16_000_000) == SyncStatus(
        False,
        "adjtimex",
        "adjtimex: not synchronised (STA_UNSYNC), maximum error 16 s, estimated error 16 s",
    )
    assert parse_adjtimex(0x2001, 12_000, 35).synchronised is True


def test_the_machine_is_asked_in_the_documented_order() -> None:
    asked: list[str] = []

    def run(answers: dict[str, str | None]) -> Callable[[Any], str | None]:
        def answer(argv: Any) -> str | None:
            asked.append(argv[0])
            return answers.get(argv[0])

        return answer

    assert machine_sync(run({"timedatectl": "yes\n"}), lambda: UNSYNCED) == SYNCED
    assert asked == ["timedatectl"]
    asked.clear()
    # no systemd (timedatectl fails): chronyc answers
    assert machine_sync(run({"chronyc": CHRONY}), lambda: UNSYNCED).source == "chronyc"
    assert asked == ["timedatectl", "chronyc"]
    asked.clear()
    assert machine_sync(run({}), lambda: UNSYNCED) == UNSYNCED
    assert machine_sync(run({}), lambda: None) == UNKNOWN


def test_this_machine_answers_something() -> None:
    # Whatever this machine is, the probe names who answered, or says nobody did.
    status = SystemClock().sync_status()
    assert status.source in ("timedatectl", "chronyc", "adjtimex", "")
    assert (status.source == "") == (status.synchronised is None)


# --- the greeting's date ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("greeting", "expected"),
    [
        (
            "220 HE1P190CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready at "
            "Sat, 5 Dec 2026 02:10:00 +0000",
            dt.datetime(2026, 12, 5, 2, 10, tzinfo=dt.UTC),
        ),
        (
            "220 mx.example ESMTP Exim 4.96 Sat, 05 Dec 2026 04:10:07 +0200",
            dt.datetime(2026, 12, 5, 2, 10, 7, tzinfo=dt.UTC),
        ),
        (
            "220 mail.example ESMTP Sendmail 8.17.1/8.17.1; Sat, 5 Dec 2026 02:10:00 GMT",
            dt.datetime(2026, 12, 5, 2, 10, tzinfo=dt.UTC),
        ),
        (
            "* OK IMAP4rev1 ready 5 Dec 2026 02:10 -0000",
            dt.datetime(2026, 12, 5, 2, 10, tzinfo=dt.UTC),
        ),
        ("220 smtp.gmail.com ESMTP a1-20020a - gsmtp", None),
        ("220 mail.test Python SMTP 1.4.6", None),
        ("220 x Sat, 45 Dec 2026 02:10:00 +0000", None),  # no such day
    ],
)
def test_date_in_a_greeting(greeting: str, expected: dt.datetime | None) -> None:
    assert date_in_text(greeting) == expected


@settings(max_examples=200, deadline=1000)
@given(
    st.datetimes(
        min_value=dt.datetime(1971, 1, 1),
        max_value=dt.datetime(2200, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
)
def test_a_stated_date_is_found_in_any_surrounding_text(
    moment: dt.datetime, before: str, after: str
) -> None:
    moment = moment.replace(microsecond=0)
    found = date_in_text(f"220 {before} {email.utils.format_datetime(moment)} \r\n{after}")
    # Text before it may hold a date of its own; else it is this one.
    assert found is not None
    if date_in_text(before) is None:
        assert found == moment


@settings(max_examples=300, deadline=1000)
@given(st.text(max_size=2000))
def test_any_greeting_is_read_without_an_error(text: str) -> None:
    found = date_in_text(text)
    assert found is None or found.tzinfo is not None


@pytest.mark.parametrize(
    "hostile",
    [
        "1 " * 100_000,
        "Sat, " * 40_000,
        "12 Dec 2026 " * 16_000,
        "5 Dec 2026 02:10" + " " * 200_000,
        "9" * 200_000,
    ],
)
def test_hostile_greetings_take_no_time(hostile: str) -> None:
    started = time.perf_counter()
    date_in_text(hostile)
    assert time.perf_counter() - started < 0.2


# --- the verdict -----------------------------------------------------------------------------


def stated(
    offset_s: float, round_trip: float = 0.1, *, source: str = "mx:25 (SMTP greeting)"
) -> StatedTime:
    """A source whose whole second is EMBARGO, asked when the machine read EMBARGO + 0.5 s +
    *offset_s* at the midpoint."""
    local = EMBARGO + dt.timedelta(seconds=0.5 + offset_s)
    return StatedTime(source, EMBARGO, local, round_trip, "220 mx ESMTP ...")


def test_offset_and_uncertainty_of_a_whole_second_source() -> None:
    s = stated(3600.0, round_trip=0.2)
    assert s.offset == pytest.approx(3600.0)
    assert s.uncertainty == pytest.approx(0.6)


def test_the_verdicts() -> None:
    ok = judge(UNSYNCED, (stated(0.3),), max_skew=2.0)
    assert (ok.verdict, ok.refused) == (Verdict.TRUSTED, False)
    assert ok.line == (
        "clock ok: 0.3 s ahead of mx:25 (SMTP greeting), ±0.6 s (at most 2 s); "
        "adjtimex: not synchronised (STA_UNSYNC)"
    )
    # 1.4 s + the 0.6 s uncertainty is still within 2 s; 1.5 s may be beyond it
    assert not judge(SYNCED, (stated(-1.4),), max_skew=2.0).refused
    late = judge(SYNCED, (stated(-1.5),), max_skew=2.0)
    assert (late.verdict, late.refused) == (Verdict.SKEWED, True)
    ahead = judge(SYNCED, (stated(3599.75),), max_skew=2.0)
    assert ahead.line == (
        "REFUSED: the clock is 3599.8 s ahead of mx:25 (SMTP greeting) (it says "
        "2027-06-25T10:00:00+00:00; ±0.6 s), more than [release] max_clock_skew_seconds = 2: "
        "not sent; set the clock right ('timedatectl set-ntp true', or 'sudo chronyc makestep'); "
        "if the source is wrong and the clock is right, run it with --trust-clock"
    )
    forced = judge(SYNCED, (stated(3599.75),), max_skew=2.0, trust=True)
    assert (forced.refused, forced.overridden) == (False, True)
    assert forced.line.endswith("max_clock_skew_seconds = 2; sent anyway: --trust-clock")
    # No source: the machine's word decides, chrony's offset included.
    chrony = parse_chronyc(CHRONY)
    assert chrony is not None
    assert judge(chrony, (), max_skew=2.0).verdict is Verdict.SKEWED
    assert judge(SYNCED, (), max_skew=2.0).line == (
        "clock ok: timedatectl: NTPSynchronized=yes (no second source stated the time)"
    )
    silent = StatedTime("mx:25 (SMTP greeting)", None, None, 0.01, "its greeting states no time")
    unverified = judge(UNSYNCED, (silent,), max_skew=2.0)
    assert (unverified.verdict, unverified.refused) == (Verdict.UNVERIFIED, False)
    assert unverified.line == (
        "clock UNVERIFIED: no second source stated the time (mx:25 (SMTP greeting): its "
        "greeting states no time) and adjtimex: not synchronised (STA_UNSYNC)"
    )
    strict = judge(UNKNOWN, (), max_skew=2.0, require=True)
    assert strict.refused and "require_clock_check = true: not sent" in strict.line


# --- the second source, for real -------------------------------------------------------------


def test_a_real_smtp_greeting_and_a_real_date_header(
    tmp_path: Path, smtp_server: Callable[..., SmtpTestServer], date_server: DateServer
) -> None:
    clock = FakeClock(EMBARGO + HOUR)
    server = smtp_server()
    server.greeting_date = lambda: EMBARGO
    config = smtp_of(tmp_path, server)
    got = ask_smtp(config, clock, timeout=5)
    assert got.stated == EMBARGO and got.source == f"127.0.0.1:{server.port} (SMTP greeting)"
    assert got.offset == pytest.approx(3599.5)
    assert got.text.startswith("220 mail.test ESMTP mailer-test-smtpd ")
    date_server.now = lambda: EMBARGO - dt.timedelta(seconds=10)
    header = ask_url(date_server.url, clock, timeout=5)
    assert header.stated == EMBARGO - dt.timedelta(seconds=10)
    assert header.text.startswith("Date: ")
    refused = ask_url("http://192.0.2.1/", clock, timeout=5)  # plain HTTP off this machine
    assert (refused.stated, refused.text) == (None, "not an https:// address")


def test_a_greeting_over_implicit_tls(
    tmp_path: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server(security="tls")
    server.greeting_date = lambda: EMBARGO
    got = ask_smtp(smtp_of(tmp_path, server), FakeClock(EMBARGO), timeout=5)
    assert got.stated == EMBARGO


def smtp_of(tmp_path: Path, server: SmtpTestServer) -> SmtpConfig:
    smtp = smtp_config(tmp_path, server).smtp
    assert smtp is not None
    return smtp


# --- the release on a wrong clock (finding 4) --------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "press")


def test_an_hour_ahead_the_release_does_not_go_out_and_status_says_why(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    scheduled(project, SCHEDULED_AT)
    # The machine's clock is an hour ahead: it reads 15 s before the embargo at 12:00:15 EEST,
    # and the server (on the right time) greets with 12:00:15.
    clock = FakeClock(EMBARGO - dt.timedelta(seconds=15))
    clock.sync = UNSYNCED
    server.greeting_date = lambda: clock.now() - HOUR
    config = load_config(project / "config.toml")
    result = run_release(config, command=Command.SEND_DUE, clock=clock)
    assert result.exit_code is ExitCode.CLOCK and result.decision == "clock"
    assert result.outcome.startswith(
        f"REFUSED: the clock is 3599.5 s ahead of 127.0.0.1:{server.port} (SMTP greeting) "
        "(it says 2027-06-25T08:59:45+00:00; ±0.5 s), more than [release] "
        "max_clock_skew_seconds = 2: not sent; set the clock right"
    )
    assert result.outcome.endswith("(the embargo 2027-06-25 13:00:00 EEST (10:00:00 UTC), arm)")
    assert server.messages == []
    with Store(config.store_path) as store:
        assert store.journal.counts(Campaign.RELEASE, 0).total == 0  # nothing even claimed
        status = release_status(config, store, now=clock.now())
    assert status.clock_check is not None and status.clock_check.refused
    assert status.clock_check.offset == pytest.approx(3599.5)
    assert status.clock_check.sync == UNSYNCED.detail
    assert status.schedule is not None and status.schedule.state.value == "scheduled"

    # Still wrong past the grace: not marked missed (the release is not due yet).
    clock.advance(20 * 60)
    again = run_release(config, command=Command.SEND_DUE, clock=clock)
    assert again.exit_code is ExitCode.CLOCK
    with Store(config.store_path) as store:
        assert store.releases.current().state.value == "scheduled"  # type: ignore[union-attr]

    # The CLI shows it in one line, with the next step, in both status commands.
    runner = CliRunner()
    cfg = str(project / "config.toml")
    shown = runner.invoke(app, ["--config", cfg, "release", "status"])
    assert shown.exit_code == 0
    assert "warning: clock check " in shown.stderr and "REFUSED: the clock is 3599.5 s ahead" in (
        shown.stderr
    )
    whole = runner.invoke(app, ["--config", cfg, "status"])
    assert "warning: clock check: REFUSED: the clock is 3599.5 s ahead" in whole.stderr
    data = json.loads(runner.invoke(app, ["--config", cfg, "release", "status", "--json"]).stdout)
    assert data["clock_check"]["verdict"] == "skewed" and data["clock_check"]["refused"] is True


def test_trust_clock_overrides_and_status_then_warns_of_early_deliveries(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    scheduled(project, SCHEDULED_AT)
    clock = FakeClock(EMBARGO - dt.timedelta(seconds=15))
    server.greeting_date = lambda: clock.now() - HOUR
    config = load_config(project / "config.toml")
    result = run_release(config, command=Command.SEND_DUE, clock=clock, trust_clock=True)
    assert result.exit_code is ExitCode.OK, result.outcome
    assert result.outcome.endswith("max_clock_skew_seconds = 2; sent anyway: --trust-clock")
    assert len(server.messages) == 7
    # The Date of every message is the embargo (by this clock), never before it.
    for m in server.messages:
        date = email.message_from_bytes(m.data, policy=email.policy.default)["Date"].datetime
        assert date == EMBARGO
    # The clock is set right: it now reads 59 min 30 s before the embargo.
    right = EMBARGO - dt.timedelta(minutes=59, seconds=30)
    with Store(config.store_path) as store:
        status = release_status(config, store, now=right)
        assert status.clock_check is not None and status.clock_check.overridden
    assert status.clock_warning.startswith(
        "CLOCK: 7 release messages are recorded as sent after the embargo, yet this clock says "
        "the embargo is in 59 min 30 s: the clock was ahead when they went out (they may have "
        "left up to 59 min "
    )
    shown = CliRunner().invoke(app, ["--config", str(project / "config.toml"), "release", "status"])
    # On the real clock (2025/2026), the embargo of 2027 is far ahead: the warning is there.
    assert "warning: CLOCK: 7 release messages are recorded as sent after the embargo" in (
        shown.stderr
    )
    assert "(by the clock of then: see the CLOCK warning)" in shown.stdout


def test_a_right_clock_sends_on_the_second_and_records_it(
    project: Path, smtp_server: Callable[..., SmtpTestServer], date_server: DateServer
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    set_keys(project, "release", clock_url=date_server.url)
    scheduled(project, SCHEDULED_AT)
    clock = FakeClock(EMBARGO - dt.timedelta(seconds=15))
    date_server.now = clock.now
    config = load_config(project / "config.toml")
    result = run_release(config, command=Command.SEND_DUE, clock=clock)
    assert result.exit_code is ExitCode.OK, result.outcome
    assert result.clock is not None and result.clock.verdict is Verdict.TRUSTED
    assert result.clock.source == f"{date_server.url} (Date header)"
    assert "clock" not in result.outcome  # a trusted clock adds nothing to the line
    assert server.greetings == 1  # the clock_url answered: the SMTP server was not asked
    assert len(server.messages) == 7


def test_an_unverified_clock_sends_with_a_warning_or_refuses_when_required(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()  # aiosmtpd's greeting states no time
    use_smtp(project, server)
    scheduled(project, SCHEDULED_AT)
    clock = FakeClock(EMBARGO - dt.timedelta(seconds=15))
    set_keys(project, "release", require_clock_check=True)
    strict = run_release(
        load_config(project / "config.toml"), command=Command.SEND_DUE, clock=clock
    )
    assert strict.exit_code is ExitCode.CLOCK and server.messages == []
    assert "require_clock_check = true: not sent" in strict.outcome
    set_keys(project, "release", require_clock_check=False)
    sent = run_release(load_config(project / "config.toml"), command=Command.SEND_DUE, clock=clock)
    assert sent.exit_code is ExitCode.OK and len(server.messages) == 7
    assert "; clock UNVERIFIED: no second source stated the time (127.0.0.1:" in sent.outcome


def test_clock_url_must_be_https(project: Path) -> None:
    set_keys(project, "release", clock_url="http://time.example/")
    res = CliRunner().invoke(app, ["--config", str(project / "config.toml"), "release", "send-due"])
    assert res.exit_code == ExitCode.ERROR
    assert (
        res.stderr.strip()
        .splitlines()[0]
        .endswith(
            f" mailer release send-due: error: {project}/config.toml: [release] clock_url: must be "
            "an https:// address whose Date header states the time, got 'http://time.example/'"
        )
    )


# --- the real clock, end to end ----------------------------------------------------------------


def test_real_clock_cli_refuses_a_contradicted_clock_then_sends_on_a_confirmed_one(
    project: Path, smtp_server: Callable[..., SmtpTestServer], date_server: DateServer
) -> None:
    server = smtp_server()
    use_smtp(project, server)
    set_keys(project, "release", clock_url=date_server.url)
    set_keys(project, "log", file="release.log")
    now = dt.datetime.now(dt.UTC)
    embargo = (now + dt.timedelta(seconds=2)).replace(microsecond=0)
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        local = embargo.astimezone(HEL)
        proposal = plan_schedule(
            proj, store, at=f"{local:%Y-%m-%d %H:%M:%S}", tz=None, tag=None, now=now
        )
        save_schedule(store, proposal, now=now)
    runner = CliRunner()
    cfg = str(project / "config.toml")
    # The web server's clock says this machine is an hour behind.
    date_server.now = lambda: dt.datetime.now(dt.UTC) + HOUR
    refused = runner.invoke(app, ["--config", cfg, "release", "send-due"])
    assert refused.exit_code == ExitCode.CLOCK, refused.output
    # whole seconds: the offset is 3600 s within the stated second's half and the round trip
    behind = re.compile(r"REFUSED: the clock is 3(599|600)\.\d s behind http://127\.0\.0\.1:")
    assert behind.search(refused.stderr), refused.stderr
    assert server.messages == []
    # Now it agrees (the real time): send-due sends at the embargo second, never before.
    date_server.now = lambda: dt.datetime.now(dt.UTC)
    sent = runner.invoke(app, ["--config", cfg, "release", "send-due"])
    assert sent.exit_code == 0, sent.output
    assert len(server.messages) == 7
    for m in server.messages:
        assert m.at >= embargo.timestamp()  # the server's receive time, on the real clock
        date = email.message_from_bytes(m.data, policy=email.policy.default)["Date"].datetime
        # Date: the embargo (whole second), never after the real hand-over
        assert date == embargo and date.timestamp() <= m.at
    log = (project / "release.log").read_text()
    assert behind.search(log), log
    with Store(proj.config.store_path) as store:
        entries = store.journal.entries(Campaign.RELEASE, 0)
        assert {e.state for e in entries} == {State.SENT}
        check = store.clock_checks.last(store.releases.current().id)  # type: ignore[union-attr]
    assert check is not None and check.verdict == "trusted"
    assert check.uncertainty is not None and check.uncertainty < 0.6


@pytest.mark.postfix
def test_a_real_postfix_greeting_states_no_time(tmp_path: Path, oauth_postfix: Any) -> None:
    # smtpd_banner expands only main.cf parameters: Postfix cannot state the date, so a
    # release through Postfix needs [release] clock_url for a second source.
    config = smtp_config(
        tmp_path,
        None,
        host="127.0.0.1",
        port=oauth_postfix.smtp_port,
        security="starttls",
        ca_file=str(oauth_postfix.ca_file),
    )
    assert config.smtp is not None
    got = ask_smtp(config.smtp, FakeClock(EMBARGO), timeout=5)
    assert (got.stated, got.offset) == (None, None)
    assert got.text == "its greeting states no time: 220 mail.example.test ESMTP"
    check = judge(UNKNOWN, (got,), max_skew=2.0)
    assert check.verdict is Verdict.UNVERIFIED and not check.refused
