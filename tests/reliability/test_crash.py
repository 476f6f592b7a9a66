"""Crash and resume: the real CLI killed with SIGKILL at seeded random moments, then restarted.

``mailer invite send --yes`` over SMTP to 2,000 journalists is killed at least 20 times: a few
times while it starts and renders, once just after it reserved the journal rows, and then at
random message counts (and a random few milliseconds more, so that the kill lands anywhere in
claim / transmitting / DATA / sent). The officer then reruns it until nothing is pending. At
the server: nobody is missing, nobody got two copies; the in-doubt ones are exactly the ones
``mailer status --json`` lists; after ``--resend-in-doubt`` everybody has the invitation and
the only duplicates are among those listed.

``mailer release send-due`` is killed the same way, with three processes started together each
time (overlapping cron runs; some rounds with ``--no-lock`` so that the journal's claims alone
keep them apart).

The kill positions are drawn from the second half of the send: every restart renders every
message still to send again (about 5 ms each), and where in the list a kill lands does not
matter to the protocol, only where in the life of a message it lands. The programme.pdf is left
out of these projects for the same reason (the fault rounds send it).
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailer.models import Campaign
from mailer.store import Store
from tests.helpers import set_keys
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    FaultServer,
    audit,
    big_project,
    emails_of,
    fault_server,
    kill,
    no_traceback,
    run,
    schedule_past,
    start,
    status_json,
    wait_for,
)
from tests.reliability.test_faults import entries, rerun_until_done

pytestmark = pytest.mark.usefixtures("both_modes")  # BDAT; DATA and lock-step with --all

SEED = 62025
HEL = ZoneInfo("Europe/Helsinki")
SMTP = {"connections": 3, "timeout_seconds": 5.0, "max_attempts": 3}


def journal_rows(project: Path, campaign: Campaign) -> int:
    if not (project / "mailer.db").exists():
        return 0
    with Store(project / "mailer.db") as store:
        return sum(store.journal.counts(campaign).as_dict().values())


def received(server: FaultServer, count: float) -> bool:
    return len(server.messages) >= count


def stop_when(
    processes: subprocess.Popen[str] | list[subprocess.Popen[str]],
    condition: Callable[[], bool],
    *,
    timeout: float = 120,
) -> None:
    """Wait until *condition* holds or every process has ended (at most *timeout*)."""
    group = processes if isinstance(processes, list) else [processes]
    wait_for(lambda: all(p.poll() is not None for p in group) or condition(), timeout=timeout)


def kill_plan(rng: random.Random, count: int, kills: int) -> list[tuple[str, float]]:
    """(mode, value): 'time' kills after value seconds, 'reserved' once rows exist, 'count' when
    the server has received value messages in all."""
    early = [("time", rng.uniform(0.3, 2.0)) for _ in range(3)]
    targets = sorted(rng.sample(range(count // 2, count - 20), kills - 4))
    return [*early, ("reserved", 0.0), *(("count", float(t)) for t in targets)]


@pytest.mark.slow
def test_invite_send_killed_20_times_loses_and_repeats_nothing(
    tmp_path: Path, figures: Figures
) -> None:
    count, kills_wanted = 2000, 20
    rng = random.Random(SEED)
    with fault_server(rate=0.0, seed=SEED) as server:
        # Rate-limited so that the kills land mid-send however fast or loaded the machine is.
        project = big_project(
            tmp_path / "project", count, server=server, **SMTP, rate_per_minute=6000
        )
        set_keys(project, "invitation", attachments=[])
        emails = emails_of(project)
        killed: Counter[str] = Counter()
        logs = tmp_path / "logs"
        for number, (mode, value) in enumerate(kill_plan(rng, count, kills_wanted + 2)):
            process = start(project, "invite", "send", "--yes", log=logs / f"run{number}")
            value = max(value, len(server.messages) + 1) if mode == "count" else value
            if mode == "time":
                stop_when(process, lambda: False, timeout=value)
            elif mode == "reserved":
                stop_when(process, lambda: journal_rows(project, Campaign.INVITATION) > 0)
                time.sleep(rng.uniform(0, 0.05))
            else:
                stop_when(process, functools.partial(received, server, value))
                time.sleep(rng.uniform(0, 0.02))
            if kill(process):
                killed[mode] += 1
            else:
                assert process.returncode in (0, 3), (logs / f"run{number}.err").read_text()
        assert sum(killed.values()) >= kills_wanted, killed
        for log in logs.iterdir():
            no_traceback(log.read_text())
        before_rerun = len(server.messages)
        codes = rerun_until_done(project, Campaign.INVITATION, "invite", "send", "--yes")

        rows = entries(project, Campaign.INVITATION)
        first = audit(server.messages, rows)
        assert first.ok(), first.problems[:20]
        assert not first.duplicated  # nobody has two copies before any deliberate resend
        listed = {p["email"] for p in status_json(project)["problems"]}
        in_doubt = {r.email for r in rows if r.state.value == "in_doubt"}
        assert listed == in_doubt
        missing = {e for e in emails if first.copies[e] == 0}
        assert missing <= in_doubt  # nobody lost: the ones not received are listed

        codes += rerun_until_done(
            project, Campaign.INVITATION, "invite", "send", "--yes", "--resend-in-doubt"
        )
        final = audit(server.messages, entries(project, Campaign.INVITATION), resent=in_doubt)
        assert final.ok(), final.problems[:20]
        assert all(final.copies[e] >= 1 for e in emails)
        assert final.duplicated <= in_doubt
    figures.merge("kills (invite send, 2000)", killed)
    figures.add("kills (invite send, 2000)", "restarts to finish", len(codes))
    figures.add("kills (invite send, 2000)", "messages before the final reruns", before_rerun)
    figures.add("crash outcome (invite send, 2000)", "in doubt, listed", len(in_doubt))
    figures.add("crash outcome (invite send, 2000)", "of them not received", len(missing))
    figures.add("crash outcome (invite send, 2000)", "lost", 0)
    figures.add("crash outcome (invite send, 2000)", "duplicates before the resend", 0)
    figures.add(
        "crash outcome (invite send, 2000)",
        "duplicates after --resend-in-doubt",
        len(final.duplicated),
    )


@pytest.mark.slow
def test_release_send_due_killed_20_times_with_three_processes(
    tmp_path: Path, figures: Figures
) -> None:
    count, rounds = 2000, 20
    rng = random.Random(SEED + 1)
    with fault_server(rate=0.0, seed=SEED) as server:
        # A rate limit keeps the drain long enough for 20 kills on a fast or a loaded machine
        # (without one, a run could finish the whole release between two polls of the test).
        project = big_project(
            tmp_path / "project", count, server=server, **SMTP, rate_per_minute=6000
        )
        emails = emails_of(project)
        embargo = schedule_past(project)
        targets = sorted(rng.sample(range(count // 2, count - 20), rounds))
        killed = Counter[str]()
        logs = tmp_path / "logs"
        for number, goal in enumerate(targets):
            unlocked = number % 4 == 3  # every fourth round: the journal's claims alone
            args = ("release", "send-due", *(("--no-lock",) if unlocked else ()))
            target = max(goal, len(server.messages) + 1)
            group = [start(project, *args, log=logs / f"run{number}-{i}") for i in range(3)]
            stop_when(group, functools.partial(received, server, target))
            time.sleep(rng.uniform(0, 0.02))
            got = sum(kill(p) for p in group)
            for i, p in enumerate(group):
                if p.returncode >= 0:  # finished by itself: "another run holds the lock", or done
                    assert p.returncode in (0, 3), (logs / f"run{number}-{i}.err").read_text()
            killed["processes killed" + (" (--no-lock rounds)" if unlocked else "")] += got
            killed["rounds with a kill"] += got > 0
        assert killed["rounds with a kill"] >= rounds - 1, killed
        for log in logs.iterdir():
            no_traceback(log.read_text())
        for _ in range(10):
            done = run(project, "release", "send-due")
            no_traceback(done.stdout, done.stderr)
            if "done: the release" in done.stdout:
                break
        rows = entries(project, Campaign.RELEASE)
        result = audit(server.messages, rows)
        assert result.ok(), result.problems[:20]
        assert not result.duplicated  # in-doubt releases are never resent automatically
        assert min(m.at for m in server.messages) >= embargo.timestamp()
        shown = run(project, "release", "status", "--json")
        listed = {
            r["email"] for r in json.loads(shown.stdout)["recipients"] if r["state"] == "in_doubt"
        }
        in_doubt = {r.email for r in rows if r.state.value == "in_doubt"}
        assert listed == in_doubt
        missing = {e for e in emails if result.copies[e] == 0}
        assert missing <= in_doubt
    figures.merge("kills (release send-due, 2000, 3 processes per start)", killed)
    figures.add("crash outcome (release, 2000)", "in doubt, listed", len(in_doubt))
    figures.add("crash outcome (release, 2000)", "of them not received", len(missing))
    figures.add("crash outcome (release, 2000)", "lost", 0)
    figures.add("crash outcome (release, 2000)", "duplicates", 0)
