"""Full rounds through the real CLI against a server that fails 10% of the SMTP commands.

The officer runs the command again until nothing is pending, as the README tells them to. At
the end, for every recipient: delivered exactly once, or failed with the server's reason, or in
doubt and listed by ``mailer status --json`` / ``mailer release status --json``; and the
server's own record agrees with the journal message by message. Then the officer resends the
in-doubt invitations deliberately: the only duplicates anywhere are those.

The long variants (1,000 recipients) are marked ``slow``; a 120-recipient variant of the
invitation round runs always.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mailer.contacts import load_project
from mailer.models import Campaign, JournalEntry
from mailer.release.runner import plan_schedule, save_schedule
from mailer.store import Store
from tests.reliability.conftest import Figures
from tests.reliability.harness import (
    FaultServer,
    audit,
    big_project,
    emails_of,
    fault_server,
    foreign_addresses,
    no_traceback,
    run,
    schedule_past,
    start,
    status_json,
)

pytestmark = pytest.mark.usefixtures("both_modes")  # BDAT; DATA and lock-step with --all

SEED = 20270625
RATE = 0.10
MAX_RUNS = 15  # the officer gives up after this many reruns (never reached in practice)
HEL = ZoneInfo("Europe/Helsinki")
SMTP = {
    "connections": 3,
    "timeout_seconds": 0.6,
    "max_attempts": 3,
    "retry_initial_seconds": 0.01,
    "retry_max_seconds": 0.05,
}


def entries(project: Path, campaign: Campaign) -> list[JournalEntry]:
    with Store(project / "mailer.db") as store:
        return store.journal.entries(campaign)


def pending(project: Path, campaign: Campaign) -> int:
    with Store(project / "mailer.db") as store:
        return store.journal.counts(campaign).pending


def rerun_until_done(
    project: Path, campaign: Campaign, *args: str, max_runs: int = MAX_RUNS
) -> list[int]:
    """Run the command until nothing is pending; return the exit codes."""
    codes = []
    for _ in range(max_runs):
        done = run(project, *args)
        no_traceback(done.stdout, done.stderr)
        assert done.returncode in (0, 3), done.stdout + done.stderr
        codes.append(done.returncode)
        if pending(project, campaign) == 0:
            return codes
    raise AssertionError(f"still pending after {max_runs} runs")


def check_one_message_per_journalist(server: FaultServer, project: Path) -> int:
    contacts = {e.lower() for e in emails_of(project)}
    scanned = 0
    for message in server.messages:
        (own,) = message.rcpt_tos
        assert not foreign_addresses(message.data, own, contacts), message.message_id
        scanned += 1
    return scanned


def report(figures: Figures, name: str, server: FaultServer, result: Any, runs: int) -> None:
    figures.merge(f"faults injected ({name})", server.injected)
    figures.add("faults injected (total)", "all kinds", sum(server.injected.values()))
    figures.merge(f"outcome ({name})", result.states)
    figures.add(f"outcome ({name})", "runs of the command", runs)


def invitation_round(tmp_path: Path, figures: Figures, count: int, name: str) -> None:
    with fault_server(rate=RATE, seed=SEED, connection_limit=2) as server:
        project = big_project(tmp_path / "project", count, server=server, **SMTP)
        emails = emails_of(project)
        codes = rerun_until_done(project, Campaign.INVITATION, "invite", "send", "--yes")

        first = audit(server.messages, entries(project, Campaign.INVITATION))
        assert first.ok(), first.problems[:20]
        assert not first.duplicated
        assert sum(first.states.values()) == count
        # Everything not delivered is listed, with the server's reason.
        listed = {p["email"]: p for p in status_json(project)["problems"]}
        rows = {e.email: e for e in entries(project, Campaign.INVITATION)}
        problems = {e for e, r in rows.items() if r.state.value in ("failed", "in_doubt")}
        assert set(listed) == problems
        for address in problems:
            assert listed[address]["state"] == rows[address].state.value
            assert listed[address]["error"] == rows[address].last_error != ""
        in_doubt = {e for e in problems if rows[e].state.value == "in_doubt"}
        lost = [e for e in emails if rows[e].state.value == "sent" and first.copies[e] != 1]
        assert not lost

        # The officer resends the in-doubt ones deliberately, once (the faults go on), and then
        # reruns the plain command until nothing is pending. (Passing --resend-in-doubt to every
        # rerun would resend a resend that ended in doubt again: a third copy, asked for.)
        resend = run(project, "invite", "send", "--yes", "--resend-in-doubt")
        no_traceback(resend.stdout, resend.stderr)
        assert resend.returncode in (0, 3), resend.stdout + resend.stderr
        codes.append(resend.returncode)
        if pending(project, Campaign.INVITATION):
            codes += rerun_until_done(project, Campaign.INVITATION, "invite", "send", "--yes")
        again = entries(project, Campaign.INVITATION)
        resent = {e.email for e in again if e.email in in_doubt}
        final = audit(server.messages, again, resent=resent)
        assert final.ok(), final.problems[:20]
        assert final.duplicated <= in_doubt
        undelivered = [e for e in emails if final.copies[e] == 0]
        assert all(
            {e.email: e for e in again}[a].state.value in ("failed", "in_doubt")
            for a in undelivered
        )
        scanned = check_one_message_per_journalist(server, project)

    report(figures, name, server, final, len(codes))
    figures.add(f"outcome ({name})", "in doubt before the resend", len(in_doubt))
    figures.add(
        f"outcome ({name})", "duplicates after the deliberate resend", len(final.duplicated)
    )
    figures.add(f"outcome ({name})", "lost", 0)
    figures.add("messages scanned for other contacts' addresses", name, scanned)
    assert sum(server.injected.values()) > count * 0.1  # the faults really happened
    kinds = set(server.injected)
    assert len(kinds) >= (12 if count >= 1000 else 6), server.injected  # 12: every kind


def test_invitation_round_under_faults(tmp_path: Path, figures: Figures) -> None:
    invitation_round(tmp_path, figures, 120, "invitations, 120")


@pytest.mark.slow
def test_invitation_round_of_1000_under_faults(tmp_path: Path, figures: Figures) -> None:
    invitation_round(tmp_path, figures, 1000, "invitations, 1000")


@pytest.mark.slow
def test_release_of_1000_under_faults(tmp_path: Path, figures: Figures) -> None:
    count = 1000
    with fault_server(rate=RATE, seed=SEED + 1, connection_limit=2) as server:
        project = big_project(tmp_path / "project", count, server=server, **SMTP)
        emails = emails_of(project)
        embargo = schedule_past(project)
        codes = rerun_until_done(
            project, Campaign.RELEASE, "release", "send-now", "--late-ok", "--yes"
        )
        rows = entries(project, Campaign.RELEASE)
        result = audit(server.messages, rows)
        assert result.ok(), result.problems[:20]
        assert not result.duplicated
        assert len(rows) == count
        assert min(m.at for m in server.messages) >= embargo.timestamp()
        # Listed by mailer release status, with the reason.
        shown = run(project, "release", "status", "--json")
        assert shown.returncode == 0, shown.stderr
        listed = {
            r["email"]: r for r in json.loads(shown.stdout)["recipients"] if r["round"] == "release"
        }
        for row in rows:
            assert listed[row.email]["state"] == row.state.value
            if row.state.value in ("failed", "in_doubt"):
                assert listed[row.email]["detail"] == row.last_error != ""
        assert [e for e in emails if result.copies[e] == 0] == sorted(
            r.email
            for r in rows
            if r.state.value in ("failed", "in_doubt") and result.copies[r.email] == 0
        )
        scanned = check_one_message_per_journalist(server, project)
    report(figures, "release, 1000", server, result, len(codes))
    figures.add("outcome (release, 1000)", "lost", 0)
    figures.add("outcome (release, 1000)", "duplicates", len(result.duplicated))
    figures.add("messages scanned for other contacts' addresses", "release, 1000", scanned)
    assert Counter(r.state.value for r in rows)["sent"] > count * 0.8


@pytest.mark.slow
def test_release_under_faults_never_goes_out_early(tmp_path: Path, figures: Figures) -> None:
    """Three send-due runs started together before the embargo, 10% faults: nothing early,
    nobody twice, everybody sent, failed or listed in doubt."""
    count = 150
    with fault_server(rate=RATE, seed=SEED + 2, connection_limit=2) as server:
        project = big_project(tmp_path / "project", count, server=server, **SMTP)
        now = dt.datetime.now(HEL)
        embargo = (now + dt.timedelta(seconds=6)).replace(microsecond=0)
        proj = load_project(project / "config.toml")
        with Store(proj.config.store_path) as store:
            proposal = plan_schedule(
                proj,
                store,
                at=f"{embargo:%Y-%m-%d %H:%M:%S}",
                tz=None,
                tag=None,
                now=now,
                prebrief=False,
            )
            save_schedule(store, proposal, now=now)
        runs = [start(project, "release", "send-due", log=tmp_path / f"run{i}") for i in range(3)]
        for process in runs:
            process.wait(timeout=120)
            assert process.returncode in (0, 3)
        codes = rerun_until_done(project, Campaign.RELEASE, "release", "send-due")
        rows = entries(project, Campaign.RELEASE)
        result = audit(server.messages, rows)
        assert result.ok(), result.problems[:20]
        assert not result.duplicated
        assert min(m.at for m in server.messages) >= embargo.timestamp()
        for log in tmp_path.glob("run*"):
            no_traceback(log.read_text())
    report(figures, "release at the embargo, 150", server, result, len(codes) + 3)
