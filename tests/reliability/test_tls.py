"""TLS is verified by default, for SMTP and IMAP; plain-text login needs an explicit setting.

For each of: a certificate from a CA nobody configured (self-signed / private), a certificate
for another host name from the configured CA, and a server that does not offer STARTTLS, the
real CLI (``mailer check``, ``mailer invite send --yes``, ``mailer rsvp fetch``) refuses with
one line, nothing is sent, and the server never sees a login (so never the password).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import make_project, set_keys
from tests.reliability.conftest import Figures
from tests.reliability.harness import no_traceback, run

PASSWORD = "Tls-Probe-Secret-5523"
ENV = {"MAILER_TEST_SMTP_PASSWORD": PASSWORD, "MAILER_TEST_IMAP_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("tls")
    trusted, stranger = trustme.CA(), trustme.CA()
    trusted.cert_pem.write_to_path(str(folder / "trusted.pem"))
    return {
        "ca_file": folder / "trusted.pem",
        "wrong_host": trusted.issue_cert("mail.other.example"),
        "self_signed": stranger.issue_cert("127.0.0.1", "localhost"),
        "good": trusted.issue_cert("127.0.0.1", "localhost"),
    }


@contextlib.contextmanager
def smtp(security: str, cert: object, ca_file: Path | None) -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(
        security=security,
        auth=security != "none",
        cert=cert,  # type: ignore[arg-type]
        ca_file=ca_file,
    ).start()
    try:
        yield server
    finally:
        server.stop()


SMTP_CASES = {
    "self-signed (STARTTLS)": ("starttls", "self_signed", False, "certificate verify failed"),
    "self-signed (TLS)": ("tls", "self_signed", False, "certificate verify failed"),
    "wrong host (STARTTLS)": ("starttls", "wrong_host", True, "certificate verify failed"),
    "wrong host (TLS)": ("tls", "wrong_host", True, "certificate verify failed"),
    "no STARTTLS offered": ("none", None, False, "does not offer STARTTLS"),
}


@pytest.mark.parametrize("case", list(SMTP_CASES))
def test_smtp_refuses_an_untrusted_server(
    case: str, cas: dict[str, object], tmp_path: Path, figures: Figures
) -> None:
    security, cert_name, configure_ca, expected = SMTP_CASES[case]
    cert = cas[cert_name] if cert_name else None
    ca_file = cas["ca_file"] if configure_ca else None
    with smtp(security, cert, ca_file) as server:  # type: ignore[arg-type]
        project = make_project(tmp_path / "project")
        set_keys(project, "transport", kind="smtp")
        section = server.smtp_section(
            security="starttls" if security == "none" else security,
            username=SmtpTestServer.USERNAME,
            password_env="MAILER_TEST_SMTP_PASSWORD",
        )
        if not configure_ca:
            section.pop("ca_file", None)
        set_keys(project, "smtp", **section)

        checked = run(project, "check", env=ENV)
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert expected in checked.stdout
        sent = run(project, "invite", "send", "--yes", env=ENV)
        assert sent.returncode in (1, 3), sent.stdout + sent.stderr
        assert expected in sent.stderr
        for done in (checked, sent):
            no_traceback(done.stdout, done.stderr)
            assert PASSWORD not in done.stdout + done.stderr
        assert server.messages == [] and server.logins == []
    figures.add("TLS refusals", f"SMTP: {case}")


# --- IMAP: a small fake server that records what reaches it -----------------------------------


class FakeImap:
    """Greets, answers CAPABILITY (with or without STARTTLS) and STARTTLS; records every line."""

    def __init__(self, *, implicit: bool, cert: trustme.LeafCert | None, starttls: bool) -> None:
        self.implicit = implicit
        self.cert = cert
        self.offer_starttls = starttls
        self.lines: list[bytes] = []
        self.handshake_failed = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        assert self.cert is not None
        self.cert.configure_cert(context)
        return context

    def serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                with contextlib.suppress(OSError, ssl.SSLError):
                    self.session(conn)

    def session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        if self.implicit:
            try:
                conn = self.context().wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                self.handshake_failed += 1
                return
        stream = conn.makefile("rwb")
        stream.write(b"* OK fake IMAP ready\r\n")
        stream.flush()
        for line in stream:
            self.lines.append(line)
            tag = line.split(b" ", 1)[0]
            command = line.split(b" ")[1].strip().upper() if b" " in line else b""
            if command == b"CAPABILITY":
                caps = b"IMAP4rev1 STARTTLS" if self.offer_starttls else b"IMAP4rev1"
                stream.write(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
            elif command == b"STARTTLS" and self.offer_starttls:
                stream.write(tag + b" OK begin TLS\r\n")
                stream.flush()
                try:
                    self.context().wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    self.handshake_failed += 1
                return
            else:
                stream.write(tag + b" NO not here\r\n")
            stream.flush()

    def close(self) -> None:
        self.sock.close()


IMAP_CASES = {
    "self-signed (TLS)": ("tls", "self_signed", False, "certificate is not trusted"),
    "wrong host (TLS)": ("tls", "wrong_host", True, "certificate is not trusted"),
    "self-signed (STARTTLS)": ("starttls", "self_signed", False, "certificate is not trusted"),
    "wrong host (STARTTLS)": ("starttls", "wrong_host", True, "certificate is not trusted"),
    "no STARTTLS offered": ("starttls-missing", "good", True, "STARTTLS failed"),
}


@pytest.mark.parametrize("case", list(IMAP_CASES))
def test_imap_refuses_an_untrusted_server(
    case: str, cas: dict[str, object], tmp_path: Path, figures: Figures
) -> None:
    security, cert_name, configure_ca, expected = IMAP_CASES[case]
    fake = FakeImap(
        implicit=security == "tls",
        cert=cas[cert_name],  # type: ignore[arg-type]
        starttls=security == "starttls",
    )
    try:
        project = make_project(tmp_path / "project")
        imap: dict[str, object] = {
            "host": "127.0.0.1",
            "port": fake.port,
            "security": "tls" if security == "tls" else "starttls",
            "username": "officer@kokkola.example",
            "password_env": "MAILER_TEST_IMAP_PASSWORD",
            "timeout_seconds": 5.0,
        }
        if configure_ca:
            imap["ca_file"] = str(cas["ca_file"])
        set_keys(project, "imap", **imap)
        done = run(project, "rsvp", "fetch", env=ENV)
        no_traceback(done.stdout, done.stderr)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.startswith(f"error: imap 127.0.0.1:{fake.port}: "), done.stderr
        assert expected in done.stderr.splitlines()[0], done.stderr
        assert PASSWORD not in done.stdout + done.stderr
        assert not any(
            b"LOGIN" in line.upper() or b"AUTHENTICATE" in line.upper() for line in fake.lines
        ), fake.lines
    finally:
        fake.close()
    figures.add("TLS refusals", f"IMAP: {case}")


@pytest.mark.imap
def test_real_dovecot_with_its_private_ca_is_refused_unless_configured(
    dovecot: object, tmp_path: Path, figures: Figures
) -> None:
    from tests.fixtures_imap import DovecotServer

    assert isinstance(dovecot, DovecotServer)
    project = make_project(tmp_path / "project")
    base = {
        "host": dovecot.host,
        "port": dovecot.imaps_port,
        "security": "tls",
        "username": dovecot.user,
        "password_env": "MAILER_TEST_IMAP_PASSWORD",
    }
    set_keys(project, "imap", **base)
    env = {"MAILER_TEST_IMAP_PASSWORD": dovecot.password}
    refused = run(project, "rsvp", "fetch", env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "certificate is not trusted" in refused.stderr
    set_keys(project, "imap", ca_file=str(dovecot.ca_file))
    accepted = run(project, "rsvp", "fetch", env=env)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    figures.add("TLS refusals", "IMAP: real Dovecot, CA not configured")


# --- plain text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["smtp", "imap"])
def test_plain_text_login_needs_allow_insecure_except_to_loopback(
    section: str, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    keys = {
        "host": "mail.kokkola.example",
        "security": "none",
        "username": "officer",
        "password_env": "P",
    }
    set_keys(project, section, **keys)
    refused = run(project, "check", "--no-connect")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"error: {project / 'config.toml'}: [{section}] security: 'none' sends the password in "
        "clear text to mail.kokkola.example; use 'starttls' or 'tls', or set allow_insecure = "
        "true if you really mean it"
    ]
    set_keys(project, section, allow_insecure=True)
    assert run(project, "check", "--no-connect").returncode == 0
    set_keys(project, section, allow_insecure=False, host="127.0.0.1")
    assert run(project, "check", "--no-connect").returncode == 0
