"""The release end to end with the real clock, the real CLI in subprocesses and a real SMTP server.

* Two ``mailer release send-due`` processes started at once (overlapping cron runs) against an
  aiosmtpd server on 127.0.0.1: nothing arrives before the embargo (server-side receive time),
  and every journalist gets exactly one copy (the trusted ones their pre-brief, before it).
* A run killed halfway (SIGKILL) and started again: still nobody gets two copies.
* The exact command of the printed crontab line, under ``env -i`` with cron's minimal
  environment, from ``/``: it sends the release.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailer.config.load import load_config
from mailer.contacts import load_project
from mailer.models import Campaign, State
from mailer.release.runner import plan_schedule, save_schedule
from mailer.store import Store
from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import make_project, set_keys

HEL = ZoneInfo("Europe/Helsinki")
MAILER = str(Path(sys.executable).parent / "mailer")
TRUSTED = {"paivi.maki-jaakkola@keskipohjanmaa.example", "asa.sjoholm@ot.example"}
EVERYONE = TRUSTED | {
    "jyrki.hyvonen@yle.example",
    "riikka.lansimaki@teollisuusuutiset.example",
    "jorgen.bystrom@yle.example",
    "mikael.bjorklund@nordiskenergi.example",
    "sarah.okafor@batteryinsider.example",
}

# Slow: each test waits on the real clock for an embargo a few seconds ahead and runs the CLI
# in several subprocesses (about 3 s a test); the everyday pytest leaves them out, --all runs them.
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _installed() -> None:
    """The console script is needed; without it, skip, except under CI (CI must run these)."""
    if not os.access(MAILER, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{MAILER} is not installed; CI is set, so this test must not be skipped")
        pytest.skip(f"{MAILER} is not installed")


def mailer(project: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAILER, "--config", str(project / "config.toml"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MAILER, "--config", str(project / "config.toml"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def schedule_soon(project: Path, seconds: float) -> dt.datetime:
    """Schedule the release for the first whole second *seconds* from now; return it (UTC).

    Scheduled in this process (the CLI's schedule is tested elsewhere) so that little real
    time passes before the send-due processes start.
    """
    now = dt.datetime.now(dt.UTC)
    embargo = (now + dt.timedelta(seconds=seconds + 1)).astimezone(HEL).replace(microsecond=0)
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        proposal = plan_schedule(
            proj, store, at=f"{embargo:%Y-%m-%d %H:%M:%S}", tz=None, tag=None, now=now
        )
        save_schedule(store, proposal, now=now)
    return embargo.astimezone(dt.UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "press")


def use_smtp(project: Path, server: SmtpTestServer, **smtp: object) -> None:
    # The server greets with the real time, as Microsoft 365 does: the clock check before the
    # release is trusted here whatever this machine says about its synchronisation.
    server.greeting_date = lambda: dt.datetime.now(dt.UTC)
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section(**smtp))
    set_keys(project, "log", file="release.log")


def test_two_send_due_processes_at_once_on_the_second_exactly_once(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    use_smtp(project, server, connections=2)
    # The officer scheduled it an hour ahead, which sent the pre-brief to the trusted outlets;
    # then moved the embargo to a few seconds from now.
    early = dt.datetime.now(HEL) + dt.timedelta(hours=1)
    done = mailer(project, "release", "schedule", "--at", f"{early:%Y-%m-%d %H:%M}", "--yes")
    assert done.returncode == 0, done.stderr
    embargo = schedule_soon(project, 1.5)
    pre = list(server.messages)
    assert sorted(r for m in pre for r in m.rcpt_tos) == sorted(TRUSTED)
    assert all(m.at < embargo.timestamp() for m in pre)  # pre-brief: early, on purpose

    runs = [start(project, "release", "send-due") for _ in range(2)]
    outputs = [p.communicate(timeout=30) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs

    release = server.messages[len(pre) :]
    got = Counter(r for m in server.messages for r in m.rcpt_tos)
    assert got == Counter(EVERYONE)  # each journalist exactly one copy
    assert sorted(r for m in release for r in m.rcpt_tos) == sorted(EVERYONE - TRUSTED)
    first = min(m.at for m in release)
    assert first >= embargo.timestamp(), f"{embargo.timestamp() - first:.6f} s early"
    assert max(m.at for m in release) - embargo.timestamp() < 5
    lines = [out.strip() for out, _ in outputs]
    assert all(len(out.splitlines()) == 1 and not err for out, err in outputs)  # one line each
    senders = [line for line in lines if "sent 5 now (5 of 5 in all)" in line]
    assert len(senders) == 1
    other = lines[1 - lines.index(senders[0])]
    # Normally the second run finds the lock taken; on a very slow machine it may start after
    # the first one finished, and find the release done.
    assert "another release run is in progress" in other or "was sent" in other, other
    with Store(load_config(project / "config.toml").store_path) as store:
        rows = store.journal.existing(Campaign.RELEASE, 0)
        assert {e: r.state for e, r in rows.items()} == dict.fromkeys(
            EVERYONE - TRUSTED, State.SENT
        )
        assert all(r.sent_at is not None and r.sent_at >= embargo for r in rows.values())
    log = (project / "release.log").read_text().splitlines()
    assert len(log) == 3  # the pre-brief, and one line for each send-due run


def test_without_the_lock_two_processes_still_send_each_message_once(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    server.slow_data(0.05, times=None)  # long enough for the two runs to interleave
    use_smtp(project, server, connections=2)
    set_keys(project, "release", prebrief_tag="")
    embargo = schedule_soon(project, 1.5)
    runs = [start(project, "release", "send-due", "--no-lock") for _ in range(2)]
    outputs = [p.communicate(timeout=30) for p in runs]
    assert all(p.returncode in (0, 3) for p in runs), outputs
    assert Counter(r for m in server.messages for r in m.rcpt_tos) == Counter(EVERYONE)
    assert min(m.at for m in server.messages) >= embargo.timestamp()


def test_a_run_killed_halfway_and_restarted_sends_nobody_two_copies(
    project: Path, smtp_server: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server()
    server.slow_data(0.4, times=3)  # the first three take 0.4 s each to be accepted
    use_smtp(project, server, connections=1)
    set_keys(project, "release", prebrief_tag="")
    embargo = schedule_soon(project, 1.5)
    victim = start(project, "release", "send-due")
    deadline = time.monotonic() + 20
    while len(server.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)  # in the middle of the third message's DATA
    victim.communicate(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    again = mailer(project, "release", "send-due")
    assert again.returncode == 3, again.stdout + again.stderr  # one message is in doubt
    assert "LATE: started" in again.stdout + again.stderr
    assert "1 in doubt" in again.stdout + again.stderr
    got = Counter(r for m in server.messages for r in m.rcpt_tos)
    assert got == Counter(EVERYONE)  # the in-doubt one had arrived: nobody has two
    assert min(m.at for m in server.messages) >= embargo.timestamp()
    with Store(load_config(project / "config.toml").store_path) as store:
        states = Counter(r.state for r in store.journal.existing(Campaign.RELEASE, 0).values())
    assert states == Counter({State.SENT: 6, State.IN_DOUBT: 1})


def test_the_printed_cron_line_works_under_crons_minimal_environment(
    project: Path, tmp_path: Path
) -> None:
    set_keys(project, "release", prebrief_tag="")
    printed = mailer(project, "release", "cron", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    jobs = [line for line in printed.stdout.splitlines() if line.startswith("* * * * * ")]
    assert len(jobs) == 2  # logged; logged and the failures mailed (MAILTO)
    command = jobs[0].removeprefix("* * * * * ").replace("\\%", "%")  # what cron hands to sh
    assert command.startswith("PATH=")
    assert f"{MAILER} --config {project / 'config.toml'} release send-due" in command

    embargo = schedule_soon(project, 1.5)
    home = tmp_path / "cron-home"
    home.mkdir()
    env = {"HOME": str(home), "LOGNAME": "officer", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    if "PYTHONPATH" in os.environ:  # a development checkout: the code under test, not the installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    ran = subprocess.run(
        ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), "/bin/sh", "-c", command],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ran.stderr == ""  # everything went to the log file
    log = (project / "release-cron.log").read_text().splitlines()
    assert len(log) == 1
    assert " mailer release send-due: " in log[0]
    assert "sent 7 now (7 of 7 in all) for the embargo " in log[0]
    written = sorted((project / "outbox").glob("release-*.eml"))
    assert len(written) == 7
    with Store(load_config(project / "config.toml").store_path) as store:
        rows = store.journal.existing(Campaign.RELEASE, 0)
    assert all(r.sent_at is not None and r.sent_at >= embargo for r in rows.values())


def test_the_mailed_cron_line_mails_a_failing_pre_flight_once(
    project: Path, tmp_path: Path
) -> None:
    """The second printed form: cron mails what the job prints, which is send-due's stderr;
    a pre-flight that fails is printed once, every run still goes to the log."""
    set_keys(project, "release", prebrief_tag="")
    set_keys(project, "transport", kind="smtp")
    set_keys(
        project,
        "smtp",
        host="127.0.0.1",
        port=1,
        security="none",
        username="viestinta@kokkola.example",
        password_env="MAILER_CRON_PASSWORD",
    )
    printed = mailer(project, "release", "cron", cwd=tmp_path)
    lines = printed.stdout.splitlines()
    jobs = [line for line in lines if line.startswith("* * * * * ")]
    assert lines[lines.index(jobs[1]) - 1] == "MAILTO=viestinta@kokkola.example"
    command = jobs[1].removeprefix("* * * * * ").replace("\\%", "%")
    schedule_soon(project, 3 * 3600)
    home = tmp_path / "cron-home"
    home.mkdir()
    env = {"HOME": str(home), "LOGNAME": "officer", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}
    if "PYTHONPATH" in os.environ:  # a development checkout: the code under test, not the installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]

    def cron() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), "/bin/sh", "-c", command],
            cwd="/",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    first, second = cron(), cron()
    failing = (
        "pre-flight FAIL: MAILER_CRON_PASSWORD is not set in cron's environment "
        "([smtp] password_env)"
    )
    assert first.stderr == second.stderr == ""
    assert f"; {failing}" in first.stdout  # what cron mails (then the clock check's warning)
    assert first.stdout.endswith("unchecked; set [release] clock_url to have it checked\n")
    assert " mailer release send-due: not yet: the embargo " in first.stdout
    assert second.stdout == ""  # the same failure: logged, not mailed again
    log = (project / "release-cron.log").read_text().splitlines()
    assert len(log) == 2 and all(failing in line for line in log)
