"""A real Postfix submission service that accepts only OAuth 2.0 bearer tokens, as
organisations run it: ``smtpd`` with Dovecot SASL (a unix socket to the private Dovecot of
``fixtures_oauth_imap``), whose ``oauth2`` password database introspects every token at the
local authorization server of ``fixtures_oauth``.

Follows /work/shared/reference/oauth-mail-servers.md (sections 2, 6 and 7, pitfalls 1 to 8):
one temporary directory (mode 0755, short path) holds Dovecot's instance and Postfix's
``pf/etc`` (config, backdated so ``postfix start`` does not wait for it to settle), ``pf/queue``
and ``pf/data`` (outside the config directory), and ``pf/postfix.log`` (``maillog_file``; there
is no syslog). Nothing in /etc/postfix or /var/spool/postfix is used or changed. STARTTLS is
offered with a trustme certificate. Every recipient domain is a virtual mailbox domain mapped to
the signed-in user's one Maildir, so everything accepted lands there and a test counts it;
nothing can leave the machine (no smtp/lmtp/local service, default transport ``discard``).
Start about 0.5 s; teardown stops Postfix by its master's PID first, then Dovecot (pitfall 7).

Tests that need it skip when ``postfix`` or ``dovecot`` is absent, except when the
environment variable ``CI`` is set: then they fail, so that CI cannot pass by skipping them.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures_imap import _free_port, _stop, require_dovecot
from tests.fixtures_oauth import AuthServer
from tests.fixtures_oauth_imap import OAuthDovecot, start_oauth_dovecot

POSTFIX_CANDIDATES = ("postfix", "/usr/sbin/postfix")

# The SASL socket for Postfix's smtpd (runs as user postfix); relative to Dovecot's base_dir.
_DOVECOT_SASL = """
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
"""

_MAIN_CF = """\
# Private Postfix instance (postfix -c @DIR@/pf/etc); nothing is read from /etc/postfix except
# the package's read-only metadata (postfix-files, dynamicmaps.cf).
compatibility_level = 3.6
queue_directory = @DIR@/pf/queue
data_directory = @DIR@/pf/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = @DIR@/pf/postfix.log
maillog_file_prefixes = @DIR@

myhostname = mail.example.test
mydomain = example.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
biff = no
smtpd_banner = $myhostname ESMTP

# SASL through the private Dovecot's auth service (oauth2 passdb: bearer tokens only)
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = @DIR@/run/auth-postfix
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_cert_file = @DIR@/server.crt
smtpd_tls_key_file = @DIR@/server.key
# only signed-in clients may send: without AUTH, RCPT gets 554
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions =

# every recipient lands in the signed-in user's one Maildir (as nobody:nogroup, what Dovecot
# reads); nothing can be delivered off the machine
virtual_mailbox_domains = static:all
virtual_mailbox_base = @DIR@/home
virtual_mailbox_maps = static:@MAILBOX@/Maildir/
virtual_uid_maps = static:@NOBODY_UID@
virtual_gid_maps = static:@NOBODY_GID@
virtual_minimum_uid = 100
default_transport = discard
relay_transport = discard
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
virtual        unix  -       n      n      -      -       virtual
anvil          unix  -       -      n      -      1       anvil
scache         unix  -       -      n      -      1       scache
tlsmgr         unix  -       -      n      1000?  1       tlsmgr
postlog        unix-dgram n  -      n      -      1       postlogd
"""


@dataclass
class OAuthPostfix:
    """The running submission service and the Dovecot behind it."""

    dir: Path
    smtp_port: int
    ca_file: Path
    master_pid: int
    dovecot: OAuthDovecot
    host = "127.0.0.1"

    def log(self) -> str:
        path = self.dir / "pf" / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def delivered(self) -> list[bytes]:
        """The messages in the Maildir (every accepted recipient is one file)."""
        new = self.dovecot.maildir / "new"
        return [p.read_bytes() for p in sorted(new.iterdir())]

    def wait_delivered(self, count: int, timeout: float = 10.0) -> list[bytes]:
        """Wait until *count* deliveries are logged (Postfix delivers a few ms after 250)."""
        deadline = time.monotonic() + timeout
        while self.log().count("status=sent (delivered to maildir)") < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} deliveries:\n{self.log()}")
            time.sleep(0.02)
        return self.delivered()


def postfix_binary() -> str | None:
    for candidate in POSTFIX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def require_postfix() -> str:
    """The postfix binary, or skip (fail under CI) with the reason."""
    binary = postfix_binary()
    reason = ""
    if binary is None:
        reason = "postfix is not installed (see scripts/test.sh)"
    elif os.geteuid() != 0:
        reason = "the Postfix test server must be started as root"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so this test must not be skipped")
        pytest.skip(reason)
    assert binary is not None
    return binary


def _wait_banner(port: int, log: Path) -> None:
    """A TCP connect succeeds before smtpd can work (pitfall 5): wait for the 220 banner."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(200).startswith(b"220"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            text = log.read_text(errors="replace") if log.exists() else "(no log)"
            raise RuntimeError(f"postfix: port {port} gave no 220 banner:\n{text}")
        time.sleep(0.01)


def _master_pid(directory: Path) -> int:
    path = directory / "pf" / "queue" / "pid" / "master.pid"
    try:
        text = path.read_text().split()
    except OSError:
        return 0
    return int(text[0]) if text and text[0].isdigit() else 0


def _start_postfix(binary: str, directory: Path, mailbox: str) -> tuple[int, int]:
    """Render the config, start the master; return (submission port, master pid)."""
    etc, queue, data = (
        directory / "pf" / "etc",
        directory / "pf" / "queue",
        directory / "pf" / "data",
    )
    etc.mkdir(parents=True)
    queue.mkdir()
    data.mkdir(mode=0o700)
    postfix = pwd.getpwnam("postfix")
    os.chown(data, postfix.pw_uid, postfix.pw_gid)
    nobody = pwd.getpwnam("nobody")
    port = _free_port()
    main = (
        _MAIN_CF.replace("@DIR@", str(directory))
        .replace("@MAILBOX@", mailbox)
        .replace("@NOBODY_UID@", str(nobody.pw_uid))
        .replace("@NOBODY_GID@", str(nobody.pw_gid))
    )
    (etc / "main.cf").write_text(main)
    (etc / "master.cf").write_text(_MASTER_CF.replace("@SMTP_PORT@", str(port)))
    past = time.time() - 60  # else postfix waits ~2 s for a just-written main.cf (pitfall 1)
    for name in ("main.cf", "master.cf"):
        os.utime(etc / name, (past, past))
    log = directory / "pf" / "postfix.log"
    with (directory / "pf" / "startup.log").open("wb") as out:
        code = subprocess.call(
            [binary, "-c", str(etc), "start"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            timeout=30,
        )
    if code != 0:  # errors go to maillog_file, not to a non-terminal stderr (pitfall 2)
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        raise RuntimeError(f"postfix did not start ({code}):\n{text}")
    pid = _master_pid(directory)
    if not pid:
        raise RuntimeError(f"postfix started but wrote no master.pid: {directory}")
    try:
        _wait_banner(port, log)
    except BaseException:
        _stop(pid)
        raise
    return port, pid


@pytest.fixture
def oauth_postfix(
    auth_server: AuthServer, request: pytest.FixtureRequest
) -> Iterator[OAuthPostfix]:
    """Postfix submission (STARTTLS offered) whose logins Dovecot checks at ``auth_server``;
    the SASL mechanisms offered are ``xoauth2 oauthbearer`` unless the test parametrizes the
    fixture indirectly with others."""
    mechanisms = str(getattr(request, "param", "xoauth2 oauthbearer"))
    binary = require_postfix()
    require_dovecot()
    directory = Path(tempfile.mkdtemp(prefix="pf-oauth.", dir="/tmp"))
    os.chmod(directory, 0o755)
    try:
        dovecot = start_oauth_dovecot(
            directory, auth_server, extra_conf=_DOVECOT_SASL, mechanisms=mechanisms
        )
        try:
            mailbox = dovecot.user.lower()
            assert re.fullmatch(r"[\w.@-]+", mailbox)
            port, pid = _start_postfix(binary, directory, mailbox)
            try:
                yield OAuthPostfix(directory, port, dovecot.ca_file, pid, dovecot)
            finally:
                _stop(pid)  # Postfix first: its smtpd processes hold Dovecot's auth socket
        finally:
            _stop(dovecot.master_pid)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
