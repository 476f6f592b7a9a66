"""A real Dovecot IMAP server for tests, on 127.0.0.1, started and stopped by the test itself.

Follows /work/shared/reference/dovecot-test-server.md: an instance directory under /tmp
(mkdtemp + chmod 0755, short base_dir), trustme certificates, a 0644 passwd file, a Maildir
owned by nobody:nogroup, output redirected to a file, ``killpg`` of the master's process group
at teardown. Nothing in /etc/dovecot or /run/dovecot is used.

One server runs for the whole session (``dovecot_instance``); fixture ``dovecot`` gives each
test its own new user with an empty Maildir, so UIDs start at 1 and tests cannot see each
other's mail::

    def test_x(dovecot):
        dovecot.drop(raw_bytes)                    # a file into Maildir/new (0644)
        dovecot.deliver(raw_bytes, seen=True)      # doveadm save: the next UID, returned
        dovecot.imap_config(security="starttls")   # an ImapConfig for it (ca_file = test CA)
        dovecot.flags()                            # {uid: {"\\Seen", ...}} via doveadm
        dovecot.set_uidvalidity(4242)              # relabel INBOX (doveadm mailbox update)
        dovecot.messages("Processed")              # subjects per folder via doveadm

Tests that need it skip when the ``dovecot`` binary is absent, except when the environment
variable ``CI`` is set: then they fail, so that CI cannot pass by skipping them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailer.config.model import ImapConfig

USER = "testuser"
PASSWORD = "secret-Pa55"  # no ":" (the passwd-file separator)
USERS = 200  # one fresh mailbox user per test
DOVECOT_CANDIDATES = ("dovecot", "/usr/sbin/dovecot")

_CONF = """\
# Private Dovecot instance for tests: every path lives under @DIR@.
base_dir = @DIR@/run
state_dir = @DIR@/state
log_path = @DIR@/dovecot.log
protocols = imap
listen = 127.0.0.1

ssl = yes
ssl_cert = <@DIR@/server.crt
ssl_key = <@DIR@/server.key
ssl_min_protocol = TLSv1.2

disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0

mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:~/Maildir

passdb {
  driver = passwd-file
  args = scheme=PLAIN @DIR@/passwd
}
userdb {
  driver = static
  args = home=@DIR@/home/%u
}

service imap-login {
  inet_listener imap {
    port = @IMAP_PORT@
  }
  inet_listener imaps {
    port = @IMAPS_PORT@
    ssl = yes
  }
}

service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""


def dovecot_binary() -> str | None:
    for candidate in DOVECOT_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class DovecotServer:
    """One running instance, seen as one mailbox user (each test gets its own user)."""

    dir: Path
    imap_port: int
    imaps_port: int
    ca_file: Path
    master_pid: int
    user: str = USER
    password: str = PASSWORD

    host = "127.0.0.1"

    @property
    def conf(self) -> Path:
        return self.dir / "dovecot.conf"

    @property
    def maildir(self) -> Path:
        return self.dir / "home" / self.user / "Maildir"

    def imap_config(self, **overrides: object) -> ImapConfig:
        security = str(overrides.pop("security", "starttls"))
        values: dict[str, object] = {
            "host": self.host,
            "port": self.imaps_port if security == "tls" else self.imap_port,
            "security": security,
            "username": self.user,
            "password_env": "",
            "password_command": "",
            "keyring_service": "",
            "ca_file": self.ca_file,
            "allow_insecure": False,
            "folder": "INBOX",
            "processed_folder": "",
            "timeout_seconds": 10.0,
        }
        values.update(overrides)
        return ImapConfig(**values)  # type: ignore[arg-type]

    def drop(self, raw: bytes, *, seen: bool = False) -> None:
        """Write *raw* into the Maildir (tmp, then rename), world-readable as Dovecot needs.

        Dovecot numbers dropped files at its next sync in directory order, not in the order
        they were written: use :meth:`deliver` when the UIDs must follow the calls.
        """
        name = f"{int(time.time())}.{uuid.uuid4().hex}.test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chmod(tmp, 0o644)
        target = self.maildir / "cur" / f"{name}:2,S" if seen else self.maildir / "new" / name
        os.rename(tmp, target)

    def deliver(self, raw: bytes, *, seen: bool = False, folder: str = "INBOX") -> int:
        """Save *raw* with ``doveadm save`` (the next UID, in call order); return its UID."""
        done = subprocess.run(
            ["doveadm", "-c", str(self.conf), "save", "-u", self.user, "-m", folder],
            input=raw,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"doveadm save failed: {done.stderr.decode(errors='replace')}")
        uid = max(self.flags(folder))
        if seen:
            self.doveadm(
                "flags", "add", "-u", self.user, "\\Seen", "mailbox", folder, "uid", str(uid)
            )
        return uid

    def doveadm(self, *args: str) -> str:
        done = subprocess.run(
            ["doveadm", "-c", str(self.conf), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"doveadm {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        out = self.doveadm("fetch", "-u", self.user, "uid flags", "mailbox", folder, "all")
        result: dict[int, set[str]] = {}
        uid = 0
        for line in out.splitlines():
            if line.startswith("uid:"):
                uid = int(line.split(":", 1)[1])
                result[uid] = set()
            elif line.startswith("flags:"):
                result[uid] = set(line.split(":", 1)[1].split())
        return result

    def messages(self, folder: str = "INBOX") -> list[str]:
        """Message-IDs in *folder*, in UID order."""
        out = self.doveadm("fetch", "-u", self.user, "hdr.message-id", "mailbox", folder, "all")
        return [
            line.split(":", 1)[1].strip()
            for line in out.splitlines()
            if line.lower().startswith("hdr.message-id:")
        ]

    def uidvalidity(self, folder: str = "INBOX") -> int:
        out = self.doveadm("mailbox", "status", "-u", self.user, "uidvalidity", folder)
        return int(out.split("uidvalidity=")[1].split()[0])

    def set_uidvalidity(self, value: int, folder: str = "INBOX") -> None:
        self.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(value), folder)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chown_nobody(path: Path) -> None:
    os.chown(path, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)


def _prepare(directory: Path) -> Path:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(directory / "ca.crt"))
    cert.private_key_pem.write_to_path(str(directory / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "server.crt"))
    passwd = directory / "passwd"
    passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    os.chmod(passwd, 0o644)
    (directory / "home").mkdir()
    _chown_nobody(directory / "home")
    return directory / "ca.crt"


def _add_users(directory: Path, count: int) -> list[tuple[str, str]]:
    """*count* mailbox users with empty Maildirs, written before the server starts.

    (A passwd file changed while the server runs is not always re-read at once, so every
    test's user exists from the start.)
    """
    users = [(f"user{n:03d}", f"pw-{uuid.uuid4().hex[:16]}") for n in range(1, count + 1)]
    for user, _password in users:
        home = directory / "home" / user
        for path in (
            home,
            home / "Maildir",
            *(home / "Maildir" / sub for sub in ("cur", "new", "tmp")),
        ):
            path.mkdir()
            _chown_nobody(path)
    with (directory / "passwd").open("a") as passwd:
        passwd.writelines(f"{user}:{{PLAIN}}{password}\n" for user, password in users)
    return users


def add_user(server: DovecotServer, user: str, password: str) -> DovecotServer:
    """A new mailbox user with an empty Maildir (the server re-reads the passwd file)."""
    home = server.dir / "home" / user
    for path in (
        home,
        home / "Maildir",
        *(home / "Maildir" / sub for sub in ("cur", "new", "tmp")),
    ):
        path.mkdir()
        _chown_nobody(path)
    with (server.dir / "passwd").open("a") as passwd:
        passwd.write(f"{user}:{{PLAIN}}{password}\n")
    return dataclasses.replace(server, user=user, password=password)


def _start(directory: Path, binary: str) -> tuple[int, int, int]:
    """Start the master; return (imap port, imaps port, master pid)."""
    for _attempt in range(5):
        imap_port, imaps_port = _free_port(), _free_port()
        conf = (
            _CONF.replace("@DIR@", str(directory))
            .replace("@IMAP_PORT@", str(imap_port))
            .replace("@IMAPS_PORT@", str(imaps_port))
        )
        assert "base_dir = /" in conf and "state_dir = /" in conf
        (directory / "dovecot.conf").write_text(conf)
        startup = directory / "startup.log"
        with startup.open("wb") as out:
            code = subprocess.call(
                [binary, "-c", str(directory / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=30,
            )
        if code == 0:
            pid = _master_pid(directory, wait=5.0)
            if not pid:
                raise RuntimeError(f"dovecot started but wrote no master.pid: {directory}")
            _wait_ready(imap_port)
            _wait_ready(imaps_port, greeting=False)
            return imap_port, imaps_port, pid
        if code != 89 or "Address already in use" not in startup.read_text(errors="replace"):
            raise RuntimeError(f"dovecot did not start ({code}): {startup.read_text()}")
    raise RuntimeError("dovecot: no free ports after 5 attempts")


def _master_pid(directory: Path, *, wait: float) -> int:
    """The master writes run/master.pid shortly after ``dovecot -c`` returned."""
    path = directory / "run" / "master.pid"
    deadline = time.monotonic() + wait
    while True:
        try:
            text = path.read_text().strip()
            if text.isdigit():
                return int(text)
        except OSError:
            pass
        if time.monotonic() > deadline:
            return 0
        time.sleep(0.005)


def _wait_ready(port: int, *, greeting: bool = True) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if not greeting or sock.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot: port {port} not ready")
        time.sleep(0.01)


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


def _stop(master_pid: int) -> None:
    """SIGTERM to the master's process group (its pgid is its pid), then wait until it is gone."""
    try:
        os.killpg(master_pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while _group_alive(master_pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(master_pid, signal.SIGKILL)
            return
        time.sleep(0.01)


def require_dovecot() -> str:
    """The dovecot binary, or skip (fail under CI) with the reason."""
    binary = dovecot_binary()
    reason = ""
    if binary is None:
        reason = "dovecot is not installed (apt-get install dovecot-imapd)"
    elif os.geteuid() != 0:
        reason = "the Dovecot test server must be started as root"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so this test must not be skipped")
        pytest.skip(reason)
    assert binary is not None
    return binary


@dataclass
class _Instance:
    server: DovecotServer
    users: list[tuple[str, str]]


@pytest.fixture(scope="session")
def dovecot_instance() -> Iterator[_Instance]:
    """One Dovecot for the whole test session (started on first use)."""
    binary = require_dovecot()
    directory = Path(tempfile.mkdtemp(prefix="dovecot-test.", dir="/tmp"))
    os.chmod(directory, 0o755)
    pid = 0
    try:
        ca_file = _prepare(directory)
        users = _add_users(directory, USERS)
        imap_port, imaps_port, pid = _start(directory, binary)
        yield _Instance(DovecotServer(directory, imap_port, imaps_port, ca_file, pid), users)
    finally:
        if not pid and (directory / "run").exists():  # started, but _start failed after that
            pid = _master_pid(directory, wait=2.0)
        if pid:
            _stop(pid)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_instance: _Instance) -> DovecotServer:
    """The running Dovecot, as a fresh user with an empty INBOX (UIDs start at 1)."""
    if not dovecot_instance.users:
        pytest.fail(f"more than {USERS} tests use the dovecot fixture: raise USERS")
    user, password = dovecot_instance.users.pop(0)
    return dataclasses.replace(dovecot_instance.server, user=user, password=password)
