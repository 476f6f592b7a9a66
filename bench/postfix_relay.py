"""A private Postfix instance as an organisation's relay (smarthost), started and stopped by the
bench: it accepts mail from 127.0.0.1 on its own port, queues it on disk in a temporary folder and
relays everything to one SMTP server on 127.0.0.1 (the bench's sink).

Follows /work/shared/reference/oauth-mail-servers.md (sections 2, 6, 7 and pitfalls 1-3), as
``tests/fixtures_postfix.py`` does for the tests (the bench does not import tests/): everything in
one directory, ``postfix -c DIR/etc`` with ``queue_directory`` and ``data_directory`` outside the
config directory, ``maillog_file`` instead of syslog, main.cf and master.cf backdated (else
``postfix start`` waits ~2 s for them to settle), the master stopped by its PID (SIGTERM to its
process group, which is its PID). /etc/postfix and /var/spool/postfix are neither read (except
the package's read-only metadata) nor written, and no daemon outlives the bench: the instance is
a context manager, and a SIGTERM to the bench is turned into an exception so that it stops too.

No DNS anywhere: the relay is the literal ``[127.0.0.1]:PORT`` (no MX lookup),
``smtp_dns_support_level = disabled`` and ``smtp_host_lookup = native``, and smtpd does not look
up the client's name (``smtpd_peername_lookup = no``). Everything else is Postfix's default as
Debian ships it (20 connections per destination, ``in_flow_delay = 1s``, fsync of every queue
file), because that is what an organisation's relay does; ``extra`` main.cf lines can change it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench.common import LOOPBACK, free_port

POSTFIX_CANDIDATES = ("postfix", "/usr/sbin/postfix")

_MAIN_CF = """\
# Private Postfix relay of the bench (postfix -c @DIR@/etc).
compatibility_level = 3.6
queue_directory = @DIR@/queue
data_directory = @DIR@/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = @DIR@/postfix.log
maillog_file_prefixes = @DIR@

myhostname = relay.bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
biff = no
smtpd_banner = $myhostname ESMTP
smtpd_peername_lookup = no
# clients on 127.0.0.1 may relay; nobody else could connect anyway
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtpd_tls_security_level = none

# every message goes to the sink: a literal address (no MX), no DNS at all
relayhost = [127.0.0.1]:@SINK_PORT@
default_transport = smtp
relay_transport = smtp
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
"""

_MASTER_CF = """\
# service      type  private unpriv chroot wakeup maxproc command + args
127.0.0.1:@SMTP_PORT@ inet n      -      n      -      -       smtpd
pickup         unix  n       -      n      60     1       pickup
cleanup        unix  n       -      n      -      0       cleanup
qmgr           unix  n       -      n      300    1       qmgr
rewrite        unix  -       -      n      -      -       trivial-rewrite
bounce         unix  -       -      n      -      0       bounce
defer          unix  -       -      n      -      0       bounce
trace          unix  -       -      n      -      0       bounce
verify         unix  -       -      n      -      1       verify
flush          unix  n       -      n      1000?  0       flush
proxymap       unix  -       -      n      -      -       proxymap
showq          unix  n       -      n      -      -       showq
error          unix  -       -      n      -      -       error
retry          unix  -       -      n      -      -       error
discard        unix  -       -      n      -      -       discard
smtp           unix  -       -      n      -      -       smtp
relay          unix  -       -      n      -      -       smtp
anvil          unix  -       -      n      -      1       anvil
scache         unix  -       -      n      -      1       scache
postlog        unix-dgram n  -      n      -      1       postlogd
"""


def postfix_binary() -> str | None:
    for candidate in POSTFIX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
        if Path(candidate).is_absolute() and Path(candidate).exists():
            return candidate
    return None


@dataclass(frozen=True)
class Relay:
    """A running private Postfix: its directory, the port it listens on, its master's PID."""

    dir: Path
    port: int
    master_pid: int

    def log(self) -> str:
        path = self.dir / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def outcomes(self) -> dict[str, int]:
        """Deliveries in the log by status (sent, deferred, bounced)."""
        text = self.log()
        return {s: text.count(f"status={s}") for s in ("sent", "deferred", "bounced")}

    def queued(self) -> int:
        """Messages still in the queue (files under incoming, active, deferred, hold)."""
        total = 0
        for name in ("incoming", "active", "deferred", "hold", "maildrop"):
            folder = self.dir / "queue" / name
            if folder.exists():
                total += sum(1 for p in folder.rglob("*") if p.is_file())
        return total


def _group_alive(pgid: int) -> bool:
    """Whether a process of group *pgid* still runs (zombies waiting for PID 1 do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def stop_master(pid: int) -> None:
    """SIGTERM to the master's process group (its pgid is its PID); SIGKILL after 10 s."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while _group_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            return
        time.sleep(0.01)


def _wait_banner(port: int, log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=2) as sock:
                if sock.recv(200).startswith(b"220"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            text = log.read_text(errors="replace") if log.exists() else "(no log)"
            raise RuntimeError(f"postfix: 127.0.0.1:{port} gave no 220 banner:\n{text[-3000:]}")
        time.sleep(0.01)


def _render(directory: Path, sink_port: int, port: int, extra: Mapping[str, str]) -> None:
    etc = directory / "etc"
    etc.mkdir()
    (directory / "queue").mkdir()
    data = directory / "data"
    data.mkdir(mode=0o700)
    owner = pwd.getpwnam("postfix")
    os.chown(data, owner.pw_uid, owner.pw_gid)
    main = _MAIN_CF.replace("@DIR@", str(directory)).replace("@SINK_PORT@", str(sink_port))
    main += "".join(f"{key} = {value}\n" for key, value in extra.items())
    (etc / "main.cf").write_text(main)
    (etc / "master.cf").write_text(_MASTER_CF.replace("@SMTP_PORT@", str(port)))
    past = time.time() - 60  # else postfix waits ~2 s for a just-written main.cf (pitfall 1)
    for name in ("main.cf", "master.cf"):
        os.utime(etc / name, (past, past))


class Terminated(Exception):
    """SIGTERM reached the bench: unwind so that every ``finally`` stops what it started."""


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (Ctrl-C already raises
    KeyboardInterrupt), so the private Postfix is stopped whatever ends the bench."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def private_relay(sink_port: int, *, extra: Mapping[str, str] | None = None) -> Iterator[Relay]:
    """Start a private Postfix relaying to 127.0.0.1:*sink_port*; stop it and remove its folder
    on the way out (normal end, error, Ctrl-C or SIGTERM). Needs root and Debian's postfix."""
    binary = postfix_binary()
    if binary is None:
        raise RuntimeError("postfix is not installed: run bash bench/setup.sh")
    if os.geteuid() != 0:
        raise RuntimeError("a private Postfix instance must be started as root")
    directory = Path(tempfile.mkdtemp(prefix="pf-relay.", dir="/tmp"))  # short path
    os.chmod(directory, 0o755)
    pid = 0
    try:
        port = free_port()
        _render(directory, sink_port, port, extra or {})
        log = directory / "postfix.log"
        with (directory / "startup.log").open("wb") as out:
            code = subprocess.call(
                [binary, "-c", str(directory / "etc"), "start"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=60,
            )
        pid_file = directory / "queue" / "pid" / "master.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
        if code != 0 or not pid:  # errors go to maillog_file, not to a pipe (pitfall 2)
            text = log.read_text(errors="replace") if log.exists() else "(no log)"
            raise RuntimeError(f"postfix did not start ({code}):\n{text[-3000:]}")
        _wait_banner(port, log)
        yield Relay(directory, port, pid)
    finally:
        if pid:
            stop_master(pid)
        shutil.rmtree(directory, ignore_errors=True)
