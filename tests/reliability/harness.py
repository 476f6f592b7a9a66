"""The fault and crash harness of the reliability suite.

* :class:`FaultServer`: the test SMTP server (``tests/fixtures_smtp.py``) with a seeded fault mix
  at a given rate per SMTP command: 421 at connect and at MAIL, 451 / 452 / 550 at RCPT, 451
  after DATA, the connection dropped before DATA (at MAIL) or during DATA (the data was received
  and kept, no answer), a stall past the client's timeout before DATA and after DATA, and a
  connection limit whose extra connections get ``421 4.7.0 too many connections``. Every
  injected fault is counted by kind (:attr:`FaultServer.injected`) for ``docs/reliability.md``.
* :func:`big_project`: the starter project with *n* generated journalists, sending over SMTP.
* :func:`run` / :func:`start`: the real ``mailer`` executable in a subprocess (bounded by a
  timeout), :func:`status_json`.
* :func:`audit`: what the server received against what the journal says.

The seed fixes the sequence of fault decisions; with several connections the order in which
commands arrive varies a little, so the counts vary by a few percent between runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.smtp import SMTP

from mailer.contacts import load_project
from mailer.models import JournalEntry, State
from mailer.release import plan_schedule, save_schedule
from mailer.store import Store
from tests.fixtures_smtp import Received, SmtpTestServer, _Fault
from tests.helpers import contacts_text, make_project, set_keys

MAILER = str(Path(sys.executable).parent / "mailer")
LANGUAGES = ("fi", "sv", "en")
OUTLETS = 37

# stage -> (reply or action, kind counted in the figures)
FAULT_MIX: dict[str, tuple[tuple[str, str], ...]] = {
    "connect": (("421 4.7.0 Try again later, closing connection", "421 at connect"),),
    "mail": (
        ("421 4.7.0 Service shutting down, closing connection", "421 at MAIL"),
        ("451 4.3.0 Temporary failure", "451 at MAIL"),
        ("drop", "connection dropped before DATA"),
        ("stall", "stall past the timeout before DATA"),
    ),
    "rcpt": (
        ("451 4.3.0 Try again later", "451 at RCPT"),
        ("452 4.5.3 Too many recipients", "452 at RCPT"),
        ("550 5.1.1 No such user here", "550 at RCPT"),
    ),
    "data": (
        ("451 4.3.0 Queue problem, try again", "451 after DATA"),
        ("drop", "connection dropped during DATA"),
        ("stall", "stall past the timeout after DATA"),
    ),
}
EXTRA_CONNECTION = "421 4.7.0 Error: too many connections from 127.0.0.1"


class FaultServer(SmtpTestServer):
    """A test SMTP server that injects a seeded mix of faults at *rate* per SMTP command."""

    def __init__(
        self,
        *,
        rate: float,
        seed: int,
        stall_seconds: float = 1.5,
        connection_limit: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rate = rate
        self.rng = random.Random(seed)
        self.stall_seconds = stall_seconds
        self.connection_limit = connection_limit  # 0: no limit; else extra ones get a 421
        self.injected: Counter[str] = Counter()
        self.enabled = True

    def _draw(self, stage: str) -> tuple[str, str] | None:
        if not self.enabled or self.rng.random() >= self.rate:
            return None
        return self.rng.choice(FAULT_MIX[stage])

    def _fault(self, stage: str, address: str | None) -> str | None:
        with self._lock:
            if (
                stage == "connect"
                and self.connection_limit
                and (self.concurrent > self.connection_limit)
            ):
                self.injected["extra connection refused (421)"] += 1
                return EXTRA_CONNECTION
            drawn = self._draw(stage)
            if drawn is None:
                return None
            self.injected[drawn[1]] += 1
            return drawn[0]

    def _data_fault(self, rcpt_tos: list[str]) -> _Fault | None:
        with self._lock:
            drawn = self._draw("data")
            if drawn is None:
                return None
            self.injected[drawn[1]] += 1
        action = drawn[0]
        if action == "stall":
            return _Fault("data", "slow", 1, None, self.stall_seconds)
        return _Fault("data", action, 1)

    async def _act(self, smtp: SMTP, action: str) -> str:
        if action == "stall":
            await asyncio.sleep(self.stall_seconds)
            return "451 4.4.2 Timeout, closing"
        return await super()._act(smtp, action)


@contextlib.contextmanager
def fault_server(**kwargs: Any) -> Iterator[FaultServer]:
    server = FaultServer(**kwargs).start()
    assert isinstance(server, FaultServer)
    try:
        yield server
    finally:
        server.stop()


# --- projects --------------------------------------------------------------------------------


def journalists(count: int) -> list[dict[str, str]]:
    """*count* journalists with distinct addresses over 37 outlets, in fi, sv and en."""
    return [
        {
            "email": f"reporter{i:05d}@outlet{i % OUTLETS:02d}.example",
            "name": f"Reporter {i:05d}",
            "outlet": f"Outlet {i % OUTLETS}",
            "language": LANGUAGES[i % 3],
            "tags": "",
            "first_name": f"Reporter{i}",
        }
        for i in range(count)
    ]


def big_project(
    dest: Path,
    count: int,
    *,
    server: SmtpTestServer | None = None,
    **smtp: Any,
) -> Path:
    """The starter project with *count* generated contacts; SMTP through *server* if given."""
    make_project(dest)
    (dest / "contacts.csv").write_text(contacts_text(journalists(count)), encoding="utf-8")
    set_keys(dest, "release", prebrief_tag="", grace_minutes=120)
    if server is not None:
        set_keys(dest, "transport", kind="smtp")
        set_keys(dest, "smtp", **server.smtp_section(**smtp))
    return dest


def emails_of(project: Path) -> list[str]:
    lines = (project / "contacts.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split(",", 1)[0] for line in lines if line]


# --- the real command line -------------------------------------------------------------------


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
    env.pop("MAILER_CONFIG", None)
    env.update(extra or {})
    return env


def run(
    project: Path,
    *args: str,
    timeout: float = 240,
    env: Mapping[str, str] | None = None,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``mailer --config PROJECT/config.toml ARGS`` to completion (killed after *timeout*)."""
    return subprocess.run(
        [MAILER, "--config", str(project / "config.toml"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environment(env),
        stdin=subprocess.DEVNULL,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def start(
    project: Path, *args: str, log: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """The same, started in the background; output goes to *log*.out / .err (a full pipe
    would block it), or nowhere."""
    out: Any = subprocess.DEVNULL
    err: Any = subprocess.DEVNULL
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.with_name(log.name + ".out").open("w")
        err = log.with_name(log.name + ".err").open("w")
    try:
        return subprocess.Popen(
            [MAILER, "--config", str(project / "config.toml"), *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment(env),
        )
    finally:
        if log is not None:
            out.close()
            err.close()


def kill(process: subprocess.Popen[str]) -> bool:
    """SIGKILL *process* if it is still running; True if it was killed (and reaped)."""
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return process.returncode == -signal.SIGKILL


def wait_for(predicate: Any, *, timeout: float, step: float = 0.002) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def status_json(project: Path, *, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    done = run(project, "status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


# --- what the server got against the journal ------------------------------------------------


@dataclass
class Audit:
    """The server's record against the journal, for one campaign."""

    states: Counter[str] = field(default_factory=Counter)
    copies: Counter[str] = field(default_factory=Counter)  # per recipient address
    duplicated: set[str] = field(default_factory=set)  # addresses with more than one copy
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not self.problems


def audit(
    received: Sequence[Received],
    entries: Iterable[JournalEntry],
    *,
    resent: Iterable[str] = (),
    finished: bool = True,
) -> Audit:
    """Compare; *resent*: addresses whose in-doubt message the officer chose to send again.

    Rules: a message the journal calls sent reached the server exactly once; failed: never (its
    reason is the server's 5xx); in doubt: at most once (the server may have it); pending is a
    problem when the rounds are *finished*. Every copy at the server belongs to a journal row,
    addressed to that row's contact only. Nobody got two copies unless listed in *resent*.
    """
    again = set(resent)
    result = Audit()
    by_id: dict[str, list[Received]] = {}
    for message in received:
        by_id.setdefault(message.message_id, []).append(message)
    known = {}
    for entry in entries:
        known[entry.message_id] = entry
        result.states[entry.state.value] += 1
        got = by_id.get(entry.message_id, [])
        limit = 2 if entry.email in again else 1
        if entry.state is State.SENT and not 1 <= len(got) <= limit:
            result.problems.append(f"{entry.email}: sent, but the server has {len(got)} copies")
        elif entry.state is State.FAILED:
            if len(got) > limit - 1:
                result.problems.append(f"{entry.email}: failed, but the server has {len(got)}")
            if not re.match(r"5\d\d ", entry.last_error):
                result.problems.append(
                    f"{entry.email}: failed without the server's reason: {entry.last_error!r}"
                )
        elif entry.state is State.IN_DOUBT and len(got) > limit:
            result.problems.append(f"{entry.email}: in doubt with {len(got)} copies")
        elif finished and entry.state not in (State.SENT, State.FAILED, State.IN_DOUBT):
            result.problems.append(f"{entry.email}: left {entry.state.value}")
    for message in received:
        entry = known.get(message.message_id)
        if entry is None:
            result.problems.append(f"the server got {message.message_id}, not in the journal")
            continue
        if [r.lower() for r in message.rcpt_tos] != [entry.email.lower()]:
            result.problems.append(f"{message.message_id} went to {message.rcpt_tos}")
        for rcpt in message.rcpt_tos:
            result.copies[rcpt.lower()] += 1
    result.duplicated = {a for a, n in result.copies.items() if n > 1}
    if result.duplicated - {a.lower() for a in again}:
        result.problems.append(f"duplicates nobody asked for: {sorted(result.duplicated)[:10]}")
    return result


# --- scanning sent bytes ---------------------------------------------------------------------

ADDRESS = re.compile(rb"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def readable_texts(data: bytes) -> bytes:
    """The raw message and every part decoded (base64 calendars, quoted-printable bodies)."""
    out = [data]
    with contextlib.suppress(Exception):
        message = email.message_from_bytes(data, policy=policy.compat32)
        for part in message.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                out.append(payload)
    return b"\n".join(out)


def foreign_addresses(data: bytes, own: str, contacts: set[str]) -> set[str]:
    """Addresses of other contacts found anywhere in a message (decoded parts included)."""
    found = {m.decode("ascii", "replace").lower() for m in ADDRESS.findall(readable_texts(data))}
    return (found & contacts) - {own.lower()}


class Stopwatch:
    """Wall-clock time of a block, for the figures."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.seconds += time.monotonic() - began


HELSINKI = ZoneInfo("Europe/Helsinki")


def schedule_past(project: Path, *, seconds_ago: float = 5.0) -> dt.datetime:
    """A release whose embargo passed *seconds_ago* (scheduled, as it were, the day before)."""
    embargo = (dt.datetime.now(HELSINKI) - dt.timedelta(seconds=seconds_ago)).replace(microsecond=0)
    proj = load_project(project / "config.toml")
    day_before = embargo - dt.timedelta(days=1)
    with Store(proj.config.store_path) as store:
        proposal = plan_schedule(
            proj,
            store,
            at=f"{embargo:%Y-%m-%d %H:%M:%S}",
            tz=None,
            tag=None,
            now=day_before,
            prebrief=False,
        )
        save_schedule(store, proposal, now=day_before)
    return embargo
