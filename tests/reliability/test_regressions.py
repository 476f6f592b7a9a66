"""Regression tests, in process and fast, for defects the reliability suite found.

The others have their regression tests next to the suite that found them: header injection
(``test_injection``), template compile errors, recursion and includes, special attachment files
and the stray-quote warning (the bad-input corpus), the journal's "corrupt" message for damaged
pages (``test_journal``), the IMAP STARTTLS message (``test_tls``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mailer.clock import SystemClock
from mailer.errors import StoreError
from mailer.sending import send_batch
from mailer.store import Store
from mailer.store.journal import Journal
from tests.fixtures_smtp import SmtpTestServer, outgoing, smtp_config

pytestmark = pytest.mark.usefixtures("both_modes")  # BDAT; DATA and lock-step with --all


def test_a_worker_that_fails_ends_the_whole_send(
    smtp_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection's journal write fails (the journal was locked for longer than the busy
    timeout) while the other connection waits for a reply. The send used to hang for ever: the
    waiting worker's cancellation was lost in Python 3.11's ``asyncio.wait_for`` (which aiosmtplib
    uses) and it then waited for more work. Now the error ends the send within seconds."""
    assert callable(smtp_server)
    server: SmtpTestServer = smtp_server()
    server.slow_data(0.05, times=None)
    config = smtp_config(tmp_path, server, connections=2, timeout_seconds=5.0)
    with Store(tmp_path / "m.db") as store:
        emails = [f"r{i}@news.example" for i in range(60)]
        items = outgoing(store, emails, now=dt.datetime.now(dt.UTC))
    calls = {"n": 0}
    commit = Journal.commit_marks

    def flaky(self: Journal, **marks: Any) -> None:  # the group commit of the journal's marks
        calls["n"] += 1
        if calls["n"] == 10:
            time.sleep(0.3)  # SQLite's busy wait blocks the event loop like this
            raise sqlite3.OperationalError("database is locked")
        commit(self, **marks)

    monkeypatch.setattr(Journal, "commit_marks", flaky)
    outcome: dict[str, BaseException | None] = {}

    def send() -> None:
        try:
            with Store(tmp_path / "m.db") as store:  # SQLite objects stay in their thread
                send_batch(items, config=config, store=store, clock=SystemClock(), owner="me")
            outcome["error"] = None
        except BaseException as exc:  # what it raised is the point
            outcome["error"] = exc

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the send hangs after one worker failed"
    assert isinstance(outcome["error"], StoreError), outcome  # Store turns it into one line
    assert "locked" in str(outcome["error"])
    assert len(server.messages) < len(items)  # it stopped, it did not carry on to the end


# --- pending in the release files (being finished by their developer) -------------------------


def _released_with_one_in_doubt(tmp_path: Path, server: SmtpTestServer) -> Path:
    from tests.helpers import make_project, set_keys
    from tests.reliability.harness import schedule_past

    project = make_project(tmp_path / "project")
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section())
    set_keys(project, "release", prebrief_tag="")
    set_keys(project, "log", file="logs/release.log")
    server.drop_in_data(times=1, address="jyrki.hyvonen@yle.example")
    schedule_past(project)
    return project


def test_an_in_doubt_release_can_be_resent_deliberately(
    smtp_server: object, tmp_path: Path
) -> None:
    from tests.reliability.harness import run

    assert callable(smtp_server)
    server: SmtpTestServer = smtp_server()
    project = _released_with_one_in_doubt(tmp_path, server)
    first = run(project, "release", "send-now", "--late-ok", "--yes")
    assert first.returncode == 3 and "1 in doubt" in first.stdout + first.stderr
    again = run(project, "release", "send-now", "--late-ok", "--yes", "--resend-in-doubt")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(server.received_by("jyrki.hyvonen@yle.example")) == 2


def test_the_log_folder_is_private(smtp_server: object, tmp_path: Path) -> None:
    from tests.reliability.harness import run

    assert callable(smtp_server)
    server: SmtpTestServer = smtp_server()
    project = _released_with_one_in_doubt(tmp_path, server)
    done = run(project, "release", "send-now", "--late-ok", "--yes", umask=0o022)
    assert done.returncode == 3, done.stderr
    assert (project / "logs" / "release.log").stat().st_mode & 0o777 == 0o600
    assert (project / "logs").stat().st_mode & 0o777 == 0o700
