"""The password never leaks; files with personal data are private.

A distinctive password is used for a whole working session through the real CLI: a pre-flight
check, an invitation round with a refused recipient and a lost connection, the status, a
preview, a release, an RSVP import and export, then a wrong password (authentication failure),
a failing password command that prints the password, and Ctrl-C in the middle of a send.
Afterwards the password (and its base64 forms, as AUTH PLAIN / LOGIN would carry it) is searched
for in every file under the project folder, in a dump of the journal, and in every output.

All of it runs under umask 022 (what most systems have): the journal and its WAL files, the
release lock, the log, the outbox and its messages, exports and previews must still come out
readable by their owner only (0600, folders 0700).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trustme

from mailer.models import Campaign
from mailer.store import Store
from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import make_project, set_keys
from tests.reliability.conftest import Figures
from tests.reliability.harness import MAILER, environment, no_traceback, run, schedule_past

PASSWORD = "Zq7!correct-HORSE-4711-sekret"
WRONG = "Wr0ng-Passw0rd-9981-xyzzy"
HEL = ZoneInfo("Europe/Helsinki")
PAIVI = "paivi.maki-jaakkola@keskipohjanmaa.example"
ASA = "asa.sjoholm@ot.example"


def forms(secret: str, user: str) -> list[bytes]:
    """The password as it could show up: plain, UTF-8, and the base64 of AUTH PLAIN / LOGIN."""
    raw = secret.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.b64encode(f"\0{user}\0{secret}".encode()),
        base64.b64encode(f"{user}\0{user}\0{secret}".encode()),
        secret.encode("utf-16-le"),
    ]


def scan(project: Path, outputs: list[str], secrets: list[bytes]) -> int:
    """Every file under *project*, the journal's dump and *outputs*; return the files read."""
    files = 0
    for path in sorted(project.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            files += 1
            for secret in secrets:
                assert secret not in data, f"{path} holds the password"
    for db in project.rglob("*.db"):
        with contextlib.closing(sqlite3.connect(db)) as conn:  # the test's own connection
            dump = "\n".join(conn.iterdump()).encode()
        for secret in secrets:
            assert secret not in dump, f"the dump of {db} holds the password"
    for text in outputs:
        for secret in secrets:
            assert secret.decode("latin-1") not in text
    return files


def reply(uid: str, attendee: str, sender: str, message_id: str) -> bytes:
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//test//EN",
            "METHOD:REPLY",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20270301T100000Z",
            "SEQUENCE:0",
            f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{attendee}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    return (
        f"From: {sender}\r\nTo: viestinta@kokkola.example\r\nSubject: Accepted\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 01 Mar 2027 10:00:00 +0200\r\n"
        "Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" + ics
    ).encode()


@pytest.fixture
def server(tmp_path: Path) -> SmtpTestServer:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    started = SmtpTestServer(
        security="starttls",
        auth=True,
        cert=ca.issue_cert("127.0.0.1"),
        ca_file=tmp_path / "ca.pem",
    )
    started.PASSWORD = PASSWORD  # type: ignore[misc]  # the one account that may log in
    started.start()
    yield started  # type: ignore[misc]
    started.stop()


# Slow (about 10 s): a whole working session, some twenty runs of the real CLI in subprocesses.
# The everyday pytest keeps the quicker checks below (the outbox, the IMAP password).
@pytest.mark.slow
def test_the_password_appears_nowhere_and_files_are_private(
    server: SmtpTestServer, tmp_path: Path, figures: Figures
) -> None:
    project = make_project(tmp_path / "project")
    set_keys(project, "transport", kind="smtp")
    set_keys(
        project,
        "smtp",
        **server.smtp_section(
            username=SmtpTestServer.USERNAME, password_env="MAILER_TEST_SMTP_PASSWORD"
        ),
    )
    set_keys(project, "store", path="state/mailer.db")
    set_keys(project, "log", file="mailer.log")
    set_keys(project, "release", prebrief_tag="")
    server.fail_rcpt(ASA, "550 5.1.1 No such user", times=None)
    server.drop_in_data(times=1, address="jyrki.hyvonen@yle.example")
    good = {"MAILER_TEST_SMTP_PASSWORD": PASSWORD}
    outputs: list[str] = []

    def mailer(*args: str, env: dict[str, str] = good, codes: tuple[int, ...] = (0,)) -> str:
        done = run(project, *args, env=env, umask=0o022)
        outputs.extend([done.stdout, done.stderr])
        no_traceback(done.stdout, done.stderr)
        assert done.returncode in codes, (args, done.stdout, done.stderr)
        return done.stdout + done.stderr

    assert "logged in as officer@city.example" in mailer("check")
    mailer("invite", "send", "--yes", codes=(3,))
    mailer("status")
    mailer("status", "--json")
    mailer("invite", "preview", "--out", str(project / "preview.eml"))
    schedule_past(project)
    mailer("release", "send-now", "--late-ok", "--yes", codes=(3,))
    mailer("release", "status", "--json")
    with Store(project / "state" / "mailer.db") as store:
        uid = store.journal.existing(Campaign.INVITATION, 0)[PAIVI].ics_uid
    assert uid
    (project / "reply.eml").write_bytes(reply(uid, PAIVI, PAIVI, "<r1@keskipohjanmaa.example>"))
    mailer("rsvp", "import", str(project / "reply.eml"))
    mailer("rsvp", "export", str(project / "answers.csv"))

    # The wrong password: refused by the server, said in one line, never echoed.
    bad = {"MAILER_TEST_SMTP_PASSWORD": WRONG}
    assert "535" in mailer("check", env=bad, codes=(1,))
    assert "535" in mailer("invite", "send", "--yes", "--resend-in-doubt", env=bad, codes=(1, 3))
    # A password command that fails after printing the password.
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(PASSWORD)
    script = tmp_path / "getpw.sh"
    script.write_text(f"#!/bin/sh\ncat {secret_file}\ncat {secret_file} >&2\nexit 1\n")
    script.chmod(0o700)
    set_keys(project, "smtp", password_env="", password_command=str(script))
    assert "its output is not shown here" in mailer("check", env={}, codes=(1,))
    set_keys(project, "smtp", password_env="MAILER_TEST_SMTP_PASSWORD", password_command="")

    # Ctrl-C in the middle of a send (the server takes 3 s per message).
    server._faults.clear()
    server.slow_data(3.0, times=None)
    received = len(server.messages)
    process = subprocess.Popen(
        [
            MAILER,
            "--config",
            str(project / "config.toml"),
            "invite",
            "send",
            "--yes",
            "--retry-failed",
            "--resend-in-doubt",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(good),
        preexec_fn=lambda: os.umask(0o022),
    )
    deadline = time.monotonic() + 60
    while len(server.messages) == received:  # until its first message is waiting for a reply
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    outputs.extend([out, err])
    no_traceback(out, err)
    assert process.returncode == 130, out + err
    assert "interrupted: the journal is consistent; run the command again to resume" in err

    secrets = forms(PASSWORD, SmtpTestServer.USERNAME) + forms(WRONG, SmtpTestServer.USERNAME)
    files = scan(project, outputs, secrets)
    figures.add("password searched for", "files", files)
    figures.add("password searched for", "outputs", len(outputs))
    figures.add("password searched for", "found", 0)

    private = {
        "state/mailer.db": 0o600,
        "state/mailer.db.release.lock": 0o600,
        "mailer.log": 0o600,
        "preview.eml": 0o600,
        "answers.csv": 0o600,
        "state": 0o700,
    }
    for side in ("state/mailer.db-wal", "state/mailer.db-shm"):
        if (project / side).exists():
            private[side] = 0o600
    for name, mode in private.items():
        got = (project / name).stat().st_mode & 0o777
        assert got == mode, f"{name}: {got:o}"
    figures.add("private files checked (mode)", "smtp project", len(private))


def test_the_outbox_is_private(tmp_path: Path, figures: Figures) -> None:
    project = make_project(tmp_path / "project")
    done = run(project, "invite", "send", "--yes", umask=0o022)
    assert done.returncode == 0, done.stderr
    outbox = project / "outbox"
    assert outbox.stat().st_mode & 0o777 == 0o700
    files = list(outbox.iterdir())
    assert len(files) == 7
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    assert (project / "mailer.db").stat().st_mode & 0o777 == 0o600
    figures.add("private files checked (mode)", "outbox project", len(files) + 2)


@pytest.mark.imap
def test_the_imap_password_appears_nowhere(
    dovecot: object, tmp_path: Path, figures: Figures
) -> None:
    from tests.fixtures_imap import DovecotServer, add_user

    assert isinstance(dovecot, DovecotServer)
    user = "leak-check@kokkola.example"
    server = add_user(dovecot, user, PASSWORD)
    project = make_project(tmp_path / "project")
    set_keys(
        project,
        "imap",
        host=server.host,
        port=server.imaps_port,
        security="tls",
        username=user,
        password_env="MAILER_TEST_IMAP_PASSWORD",
        ca_file=str(server.ca_file),
    )
    outputs = []
    for password, code in ((PASSWORD, 0), (WRONG, 1)):
        done = run(project, "rsvp", "fetch", env={"MAILER_TEST_IMAP_PASSWORD": password})
        outputs += [done.stdout, done.stderr]
        no_traceback(done.stdout, done.stderr)
        assert done.returncode == code, done.stdout + done.stderr
    files = scan(project, outputs, forms(PASSWORD, user) + forms(WRONG, user))
    figures.add("password searched for", "files (imap)", files)
