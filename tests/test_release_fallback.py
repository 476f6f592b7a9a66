"""The release's fallback relay ([smtp.fallback]) with two real SMTP servers on 127.0.0.1.

The primary fails at the embargo (refuses connections, answers 421 at the greeting, refuses the
login with 535, throttles with 451 4.7.500): every message goes out exactly once, through the
fallback, never before the embargo, and each journal row names the relay that took it. The
primary fails midway: the rest goes through the fallback, and the message in doubt on the
primary is not resent without ``--resend-in-doubt``. A per-recipient 550 is not a reason to
switch. Both relays down: one clear line, exit code 1, everything still queued.

The clock is a FakeClock (its sleeps advance it), as in ``tests/test_release.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailer.cli import app
from mailer.clock import FakeClock
from mailer.config.load import load_config
from mailer.errors import ExitCode
from mailer.models import Campaign, State
from mailer.release.runner import Command, run_release
from mailer.release.status import release_status, status_json
from mailer.sending.probe import relay_trouble
from mailer.store import Store
from mailer.timesync import SyncStatus
from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import edit_config, set_keys
from tests.test_release import EMBARGO, EVERYONE, HookedClock, at, config_of, schedule

ORDER = [  # the starter's contacts.csv, in the order the release goes out over one connection
    "paivi.maki-jaakkola@keskipohjanmaa.example",
    "jyrki.hyvonen@yle.example",
    "riikka.lansimaki@teollisuusuutiset.example",
    "asa.sjoholm@ot.example",
    "jorgen.bystrom@yle.example",
    "mikael.bjorklund@nordiskenergi.example",
    "sarah.okafor@batteryinsider.example",
]
WHEN = "2027-06-25 13:00:00 EEST (10:00:00 UTC)"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from tests.helpers import make_project

    return make_project(tmp_path / "press")


@pytest.fixture
def clock() -> HookedClock:
    from tests.test_release import SCHEDULED_AT

    clock = HookedClock(SCHEDULED_AT.astimezone(dt.UTC))
    # A machine that keeps its clock synchronised: the clock check trusts it without a second
    # source (neither test relay states the time), so the run's line is about the relays only.
    clock.sync = SyncStatus(True, "timedatectl", "timedatectl: NTPSynchronized=yes")
    return clock


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_relays(project: Path, primary: dict[str, Any], fallback: dict[str, Any]) -> None:
    def change(data: dict[str, Any]) -> None:
        data["transport"] = {"kind": "smtp"}
        data["smtp"] = {**primary, "fallback": fallback}

    edit_config(project, change)


def refused(server: SmtpTestServer) -> dict[str, Any]:
    """The [smtp] keys of *server* with a port where nothing listens."""
    return server.smtp_section(port=closed_port())


def use_port(project: Path) -> int:
    """The primary's port in config.toml."""
    smtp = load_config(project / "config.toml").smtp
    assert smtp is not None
    return smtp.port


def rows(project: Path) -> dict[str, tuple[State, str]]:
    with Store(config_of(project).store_path) as store:
        found = store.journal.existing(Campaign.RELEASE, 0)
    return {email: (e.state, e.relay) for email, e in found.items()}


def received(server: SmtpTestServer) -> Counter[str]:
    return Counter(r for m in server.messages for r in m.rcpt_tos)


def arm_and_send(project: Path, clock: HookedClock, **kw: Any) -> Any:
    schedule(project, clock)
    at(clock, -59.5)  # cron's run of 12:59
    return run_release(config_of(project), command=Command.SEND_DUE, clock=clock, **kw)


def primary_refuses(server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return refused(server)


def primary_421(server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    server.fail_connect("421 4.3.2 Service not available, closing transmission channel", times=None)
    return server.smtp_section()


def primary_535(server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("PRIMARY_PASSWORD", "wrong")
    return server.smtp_section(
        username=SmtpTestServer.USERNAME, password_env="PRIMARY_PASSWORD", security="starttls"
    )


def primary_throttles(server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    server.fail_mail("451 4.7.500 Server busy. Please try again later", times=None)
    return server.smtp_section()


FAULTS = {
    "refused": (primary_refuses, "none", "cannot connect: Connection refused"),
    "421": (primary_421, "none", "421 4.3.2 Service not available, closing transmission channel"),
    "535": (primary_535, "starttls", "535 5.7.8 Authentication credentials invalid"),
    "451 4.7.500": (primary_throttles, "none", "451 4.7.500 Server busy. Please try again later"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_primary_failing_at_the_embargo_sends_all_through_the_fallback_exactly_once(
    fault: str,
    project: Path,
    clock: HookedClock,
    smtp_server: Callable[..., SmtpTestServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make, security, reason = FAULTS[fault]
    primary = smtp_server(security=security, auth=security != "none")
    fallback = smtp_server()
    use_relays(project, make(primary, monkeypatch), fallback.smtp_section())
    result = arm_and_send(project, clock)
    assert result.exit_code == ExitCode.OK, result.outcome
    assert received(fallback) == Counter(EVERYONE)  # each journalist exactly one copy
    assert primary.messages == []
    assert rows(project) == {email: (State.SENT, "fallback") for email in EVERYONE}
    with Store(config_of(project).store_path) as store:
        entries = store.journal.entries(Campaign.RELEASE, 0)
    assert {e.sent_at for e in entries} == {EMBARGO.astimezone(dt.UTC)}  # never early
    assert result.outcome.startswith(
        f"sent 7 now (7 of 7 in all) for the embargo {WHEN}; first +0.000 s, last +0.000 s; "
        f"primary relay failed (127.0.0.1:"
    )
    assert reason in result.outcome
    assert result.outcome.endswith(f"): the fallback 127.0.0.1:{fallback.port} took 7")


@pytest.mark.usefixtures("smtp_mode")
def test_the_primary_failing_midway_the_rest_goes_through_the_fallback_the_in_doubt_stays(
    project: Path, clock: HookedClock, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    primary, fallback = smtp_server(), smtp_server()
    primary.drop_in_data(times=1, address=ORDER[1])  # the data arrives, the answer never does
    primary.fail_rcpt(ORDER[3], "451 4.7.500 Server busy. Please try again later", times=None)
    use_relays(project, primary.smtp_section(), fallback.smtp_section())
    result = arm_and_send(project, clock)
    assert result.exit_code == ExitCode.FAILED  # one in doubt
    # Lock-step, ORDER[2] goes out on the primary's new connection before ORDER[3] is refused;
    # pipelined, its commands were on the wire that dropped, so it is tried again after
    # ORDER[3], on the fallback. Either way: every journalist exactly once, never both relays.
    on_primary, on_fallback = received(primary), received(fallback)
    assert on_primary + on_fallback == Counter(ORDER)
    assert set(ORDER[:2]) <= set(on_primary) and ORDER[3] in on_fallback
    assert [m.answered for m in primary.messages][:2] == [True, False]
    assert rows(project) == {
        ORDER[1]: (State.IN_DOUBT, "primary"),
        **{e: (State.SENT, "primary") for e in on_primary if e != ORDER[1]},
        **{e: (State.SENT, "fallback") for e in on_fallback},
    }
    assert result.outcome.endswith(
        f"; 1 in doubt; primary relay failed (127.0.0.1:{primary.port}: 451 4.7.500 Server busy. "
        f"Please try again later): the fallback 127.0.0.1:{fallback.port} took "
        f"{sum(on_fallback.values())}"
    )
    # Later runs do not resend it, through either relay.
    at(clock, 30)
    again = run_release(config_of(project), command=Command.SEND_DUE, clock=clock)
    assert again.decision == "done"
    primary.stop()  # the primary is down now: only the fallback can take it
    late = run_release(config_of(project), command=Command.SEND_NOW, clock=clock, late_ok=True)
    assert late.report is not None and late.report.sent == 0
    assert received(fallback) == on_fallback
    # Asked to: sent again, through the fallback since the primary is down.
    asked = run_release(
        config_of(project),
        command=Command.SEND_NOW,
        clock=clock,
        late_ok=True,
        resend_in_doubt=True,
    )
    assert asked.exit_code == ExitCode.OK, asked.outcome
    assert received(fallback) == on_fallback + Counter(ORDER[1:2])
    assert rows(project)[ORDER[1]] == (State.SENT, "fallback")


def test_a_recipient_refused_with_550_on_the_primary_is_no_reason_to_switch(
    project: Path, clock: HookedClock, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    primary, fallback = smtp_server(), smtp_server()
    primary.fail_rcpt(ORDER[2], "550 5.1.1 User unknown", times=None)
    use_relays(project, primary.smtp_section(), fallback.smtp_section())
    result = arm_and_send(project, clock)
    assert result.exit_code == ExitCode.FAILED
    assert fallback.messages == []
    assert received(primary) == Counter(e for e in ORDER if e != ORDER[2])
    assert rows(project) == {
        **{email: (State.SENT, "primary") for email in ORDER},
        ORDER[2]: (State.FAILED, ""),
    }
    assert "relay" not in result.outcome


@pytest.fixture
def cli(project: Path) -> Iterator[Callable[..., Any]]:
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, ["--config", str(project / "config.toml"), *args])

    yield invoke


def test_both_relays_down_stops_with_one_line_and_everything_queued(
    project: Path,
    smtp_server: Callable[..., SmtpTestServer],
    cli: Callable[..., Any],
) -> None:
    server = smtp_server()
    primary, fallback = refused(server), refused(server)
    use_relays(project, primary, fallback)
    # The CLI reads the system clock: an embargo an hour ago, scheduled two hours ago.
    real = dt.datetime.now(dt.UTC)
    embargo = (real - dt.timedelta(hours=1)).astimezone(EMBARGO.tzinfo)
    schedule(project, FakeClock(real - dt.timedelta(hours=2)), at_=f"{embargo:%Y-%m-%d %H:%M}")
    res = cli("release", "send-now", "--late-ok", "--yes")
    assert res.exit_code == ExitCode.FAILED  # 3: the release did not go out
    # (the last line may be the clock check's warning: no relay could state the time)
    line = next(x for x in res.stderr.splitlines() if "relay failed" in x)
    assert (
        f"7 still queued; primary relay failed (127.0.0.1:{primary['port']}: cannot connect: "
        f"Connection refused): the fallback 127.0.0.1:{fallback['port']} took 0; stopped: "
        f"127.0.0.1:{fallback['port']}: cannot connect: Connection refused (gave up after 3 "
        "attempts)"
    ) in line
    assert rows(project) == {email: (State.PENDING, "") for email in EVERYONE}
    assert server.messages == []


@pytest.mark.usefixtures("smtp_mode")
def test_status_shows_the_relay_of_each_message(
    project: Path,
    clock: HookedClock,
    smtp_server: Callable[..., SmtpTestServer],
    cli: Callable[..., Any],
) -> None:
    primary, fallback = smtp_server(), smtp_server()
    primary.fail_rcpt(ORDER[2], "421 4.7.0 Too many messages, closing", times=None)
    use_relays(project, primary.smtp_section(), fallback.smtp_section())
    result = arm_and_send(project, clock)
    assert result.exit_code == ExitCode.OK, result.outcome
    config = load_config(project / "config.toml")
    with Store(config.store_path) as store:
        st = release_status(config, store, now=clock.now())
    data = status_json(st)
    # Lock-step, the 421 to ORDER[2]'s RCPT gives the primary up there: the rest go through the
    # fallback. Pipelined, the 421 closes a used connection: the others go out on a new one,
    # and ORDER[2], tried again last, is refused on a fresh connection: the fallback takes it.
    relay = {r["email"]: r["relay"] for r in data["recipients"]}
    assert relay[ORDER[2]] == "fallback"
    assert {relay[e] for e in ORDER[:2]} == {"primary"}
    counts = Counter(relay.values())
    assert data["relays"] == dict(counts) and sum(counts.values()) == len(ORDER)
    primary_n, fallback_n = counts["primary"], counts["fallback"]
    shown = cli("release", "status")
    assert (
        f"Relays:    primary {primary_n} (127.0.0.1:{primary.port}), "
        f"fallback {fallback_n} (127.0.0.1:{fallback.port})" in shown.stdout.splitlines()
    )
    whole = json.loads(cli("status", "--json").stdout)
    assert whole["release_relays"] == dict(counts)
    line = next(x for x in cli("status").stdout.splitlines() if x.startswith("Release relays:"))
    assert sorted(line.removeprefix("Release relays: ").split("  ")) == [
        f"fallback {fallback_n}",
        f"primary {primary_n}",
    ]


def test_without_a_fallback_the_primary_is_retried_as_before(
    project: Path, clock: HookedClock, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    server.fail_connect("421 Service not available", times=2)  # then it recovers
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section())
    result = arm_and_send(project, clock)
    assert result.exit_code == ExitCode.OK, result.outcome
    assert received(server) == Counter(EVERYONE)
    assert rows(project) == {email: (State.SENT, "primary") for email in EVERYONE}


def test_a_fallback_without_its_password_cannot_take_over_and_says_why(
    project: Path,
    clock: HookedClock,
    smtp_server: Callable[..., SmtpTestServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server()
    monkeypatch.delenv("RELAY_PASSWORD", raising=False)
    fallback = server.smtp_section(username="press", password_env="RELAY_PASSWORD")
    use_relays(project, refused(server), fallback)
    result = arm_and_send(project, clock)
    assert result.exit_code == ExitCode.FAILED
    assert result.outcome.endswith(
        f"7 still queued; the fallback 127.0.0.1:{server.port} could not take over: 127.0.0.1: "
        "no password for press: the environment variable RELAY_PASSWORD ([smtp.fallback] "
        "password_env) is not set, and neither [smtp.fallback] keyring_service nor "
        "password_command gave one (mailer never prompts without a terminal); stopped: "
        f"127.0.0.1:{use_port(project)}: cannot connect: Connection refused (gave up after 3 "
        "attempts)"  # without a fallback to go on with, the primary is retried as always
    )
    assert server.messages == []
    assert rows(project) == {email: (State.PENDING, "") for email in EVERYONE}


# --- which replies are about the relay ------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text", "switch"),
    [
        (421, "4.3.2 Service not available, closing transmission channel", True),
        (421, "Too many concurrent connections", True),
        (451, "4.7.500 Server busy. Please try again later from [1.2.3.4]", True),
        (451, "4.7.0 Temporary server error. Please try again later. PRX4", True),
        (450, "4.7.1 Rate limit exceeded", True),
        (452, "4.5.3 Too many recipients", True),
        (452, "4.3.1 Insufficient system storage", True),
        (451, "Rate limit exceeded, try again later", True),
        (451, "4.4.5 Server congestion", True),
        (451, "4.3.0 Try again later", False),  # ambiguous: retried on the primary
        (450, "4.2.1 Mailbox busy", False),
        (450, "4.1.2 Recipient address rejected: Domain not found", False),
        (550, "5.1.1 User unknown", False),
        (554, "5.7.1 Rate limit exceeded", False),  # permanent: handled as a refusal
        (250, "2.0.0 OK", False),
    ],
)
def test_which_replies_switch_to_the_fallback(code: int, text: str, switch: bool) -> None:
    assert relay_trouble(code, text) is switch


@settings(max_examples=300, deadline=1000)
@given(code=st.integers(min_value=0, max_value=999), text=st.text(max_size=300))
def test_relay_trouble_never_switches_for_a_permanent_or_positive_reply(
    code: int, text: str
) -> None:
    found = relay_trouble(code, text)
    assert isinstance(found, bool)
    if not 400 <= code < 500:
        assert found is False
    if code in (421, 452):
        assert found is True


def test_three_connections_on_each_relay_still_exactly_once(
    project: Path, clock: HookedClock, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    primary, fallback = smtp_server(), smtp_server()
    primary.fail_rcpt(ORDER[4], "452 4.3.1 Insufficient system storage", times=None)
    use_relays(project, primary.smtp_section(connections=3), fallback.smtp_section(connections=3))
    result = arm_and_send(project, clock)
    assert result.exit_code == ExitCode.OK, result.outcome
    got = received(primary) + received(fallback)
    assert got == Counter(EVERYONE)  # nobody twice, nobody missing
    assert ORDER[4] in received(fallback)
    assert {email: relay for email, (_, relay) in rows(project).items()} == {
        **{e: "primary" for e in received(primary)},
        **{e: "fallback" for e in received(fallback)},
    }
    assert {state for state, _ in rows(project).values()} == {State.SENT}


def test_the_recipients_table_of_release_status_fits_80_columns(
    project: Path,
    clock: HookedClock,
    smtp_server: Callable[..., SmtpTestServer],
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tried at 80 columns, the table folded every heading ("roun d", "afte r emba rgo") and
    every time ("2026 -12- 05 05:4 9:00"): the day goes into the title when all went out on one
    day, and the round and note columns only appear when they say something."""
    primary, fallback = smtp_server(), smtp_server()
    use_relays(project, primary.smtp_section(), fallback.smtp_section())
    assert arm_and_send(project, clock).exit_code == ExitCode.OK
    monkeypatch.setenv("COLUMNS", "80")
    lines = cli("release", "status").stdout.splitlines()
    title = lines.index("Recipients (2027-06-25)")
    assert lines[title + 2].split() == ["recipient", "state", "sent", "at", "after"]
    rows = [line.split() for line in lines[title + 4 : title + 4 + len(ORDER)]]
    assert [r[0] for r in rows] == ORDER
    assert all(r[1] == "sent" and r[2] == "13:00:00.000" and r[3:] == ["+0.000", "s"] for r in rows)
    assert max(len(line) for line in lines[title : title + 4 + len(ORDER)]) <= 80
