"""A real Dovecot IMAP server that accepts only OAuth 2.0 bearer tokens, checked by Dovecot's
``oauth2`` password database introspecting (RFC 7662) at the local authorization server of
``fixtures_oauth`` over HTTPS, as organisations run it.

Follows /work/shared/reference/oauth-mail-servers.md (sections 4 and 5) on top of the private
instance of ``fixtures_imap``: everything in one temporary directory (mode 0755, short path),
``auth_mechanisms = xoauth2 oauthbearer``, ``userdb static`` (whoever the token names gets a
home), the master's process group stopped by PID at teardown. One instance per test, because the
authorization server (and its CA) is per test; it starts in about 0.1 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures_imap import (
    _chown_nobody,
    _free_port,
    _master_pid,
    _stop,
    _wait_ready,
    require_dovecot,
)
from tests.fixtures_oauth import RESOURCE_CLIENT, RESOURCE_SECRET, USER, AuthServer

_CONF = """\
# Private Dovecot instance for tests: OAuth 2.0 bearer tokens only, every path under @DIR@.
base_dir = @DIR@/run
state_dir = @DIR@/state
log_path = @DIR@/dovecot.log
protocols = imap
listen = 127.0.0.1

ssl = yes
ssl_cert = <@DIR@/server.crt
ssl_key = <@DIR@/server.key

auth_mechanisms = @MECHANISMS@
auth_failure_delay = 0
auth_verbose = yes

mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:~/Maildir

passdb {
  driver = oauth2
  mechanisms = @MECHANISMS@
  args = @DIR@/dovecot-oauth2.conf.ext
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
    port = 0
  }
}

service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""

_OAUTH2 = """\
introspection_mode = post
introspection_url = @BASE@/introspect
client_id = @CLIENT_ID@
client_secret = @CLIENT_SECRET@
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
# the authorization server's test CA, for the HTTPS introspection request
tls_ca_cert_file = @DIR@/auth-ca.pem
"""


@dataclass
class OAuthDovecot:
    dir: Path
    imap_port: int
    ca_file: Path
    master_pid: int
    user: str = USER
    host = "127.0.0.1"

    @property
    def maildir(self) -> Path:
        return self.dir / "home" / self.user.lower() / "Maildir"

    def drop(self, raw: bytes) -> None:
        """A message into the mailbox's Maildir/new, world-readable as Dovecot needs."""
        name = f"{int(time.time())}.{uuid.uuid4().hex}.test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.maildir / "new" / name)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _prepare(directory: Path, server: AuthServer, user: str) -> Path:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(directory / "ca.crt"))
    cert.private_key_pem.write_to_path(str(directory / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "server.crt"))
    shutil.copyfile(server.ca_file, directory / "auth-ca.pem")
    os.chmod(directory / "auth-ca.pem", 0o644)
    oauth2 = (
        _OAUTH2.replace("@BASE@", server.base)
        .replace("@CLIENT_ID@", RESOURCE_CLIENT)
        .replace("@CLIENT_SECRET@", RESOURCE_SECRET)
        .replace("@DIR@", str(directory))
    )
    (directory / "dovecot-oauth2.conf.ext").write_text(oauth2)
    os.chmod(directory / "dovecot-oauth2.conf.ext", 0o644)
    home = directory / "home"
    for path in (
        home,
        home / user.lower(),
        home / user.lower() / "Maildir",
        *(home / user.lower() / "Maildir" / sub for sub in ("cur", "new", "tmp")),
    ):
        path.mkdir()
        _chown_nobody(path)
    return directory / "ca.crt"


def start_oauth_dovecot(
    directory: Path,
    server: AuthServer,
    *,
    extra_conf: str = "",
    mechanisms: str = "xoauth2 oauthbearer",
) -> OAuthDovecot:
    """Start the instance in *directory* (mode 0755, short path); *extra_conf* is appended to
    dovecot.conf (``fixtures_postfix`` adds the SASL socket for Postfix). The caller stops
    ``master_pid`` with ``_stop``; on failure this stops what it started."""
    binary = require_dovecot()
    ca_file = _prepare(directory, server, USER)
    imap_port = _free_port()
    conf = _CONF.replace("@DIR@", str(directory)).replace("@IMAP_PORT@", str(imap_port))
    conf = conf.replace("@MECHANISMS@", mechanisms)
    (directory / "dovecot.conf").write_text(conf + extra_conf)
    with (directory / "startup.log").open("wb") as out:
        code = subprocess.call(
            [binary, "-c", str(directory / "dovecot.conf")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            timeout=30,
        )
    if code != 0:
        raise RuntimeError(
            f"dovecot did not start ({code}): {(directory / 'startup.log').read_text()}"
        )
    pid = _master_pid(directory, wait=5.0)
    if not pid:
        raise RuntimeError(f"dovecot started but wrote no master.pid: {directory}")
    try:
        _wait_ready(imap_port)
    except BaseException:
        _stop(pid)
        raise
    return OAuthDovecot(directory, imap_port, ca_file, pid)


@pytest.fixture
def oauth_dovecot(auth_server: AuthServer) -> Iterator[OAuthDovecot]:
    """Dovecot IMAP (STARTTLS offered) whose logins are checked at ``auth_server``."""
    require_dovecot()
    directory = Path(tempfile.mkdtemp(prefix="dc-oauth.", dir="/tmp"))
    os.chmod(directory, 0o755)
    try:
        dovecot = start_oauth_dovecot(directory, auth_server)
        try:
            yield dovecot
        finally:
            _stop(dovecot.master_pid)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
