"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, in a thread, with scripted faults.

Fixture ``smtp_server`` is a factory; every server it starts is stopped after the test::

    def test_x(smtp_server):
        server = smtp_server()                     # plain SMTP, no login
        server = smtp_server(security="starttls")  # STARTTLS (trustme certificate for 127.0.0.1)
        server = smtp_server(security="tls")       # implicit TLS
        server = smtp_server(security="starttls", auth=True)   # AUTH PLAIN/LOGIN required
        server = smtp_server(idle_timeout=0.3)     # closes connections idle for 0.3 s
        server = smtp_server(auth=True, login_needs_tls=True)  # plain, AUTH only after STARTTLS
        server = smtp_server(pipelining=False)     # no PIPELINING in EHLO (default: offered)
        server = smtp_server(chunking=True)        # CHUNKING in EHLO: BDAT (default: not offered)
        server.host, server.port, server.ca_file  # ca_file: the trustme CA (PEM) for [smtp] ca_file
        SmtpTestServer.USERNAME, SmtpTestServer.PASSWORD   # the one account that may log in
        server.smtp_section(**overrides)          # a ready [smtp] table for parse_config

Faults are scripted per stage, for the next *times* matching events (``times=None``: always)::

    server.fail_connect("421 4.7.0 Try again later, closing connection", times=2)
    server.fail_mail("554 5.4.5 Daily user sending limit exceeded")
    server.fail_rcpt("a@example.org", "451 4.3.0 Try again later", times=2)   # then accepted
    server.fail_rcpt("b@example.org", "550 5.1.1 User unknown", times=None)
    server.fail_data("451 4.3.0 Queue full", times=1, address=None)   # reply after the data
    server.drop_in_data(times=1, address="c@example.org")  # data received and kept, no answer
    server.slow_data(seconds=2.0, times=1)              # answers 250 after a delay
    server.drop_at("mail", times=1)                     # close without answering MAIL FROM
    server.max_connections = 3      # the 4th concurrent connection gets 432 4.3.2 and is closed
    server.close_after = 5          # after 5 messages on one connection, 421 to the next MAIL
    server.random_faults(rate=0.1, seed=7)   # 451/452/550/421/drops at random (seeded)
    server.greeting_date = lambda: some_aware_datetime   # the greeting states this time, as
        # Exchange does: "220 mail.test ESMTP mailer-test-smtpd Sat, 05 Dec 2026 02:10:00 +0000"
        # (None, the default: aiosmtpd's greeting, without a date)

What arrived: ``server.messages`` (list of :class:`Received`: mail_from, rcpt_tos, message_id,
data, at = time.time(), mono = time.monotonic(), answered = False when the server dropped the
connection or answered too late, i.e. the client could not know), ``server.by_message_id()``,
``server.received_by(address)`` (Message-IDs), ``server.connections`` (opened),
``server.max_concurrent``, ``server.logins``, ``server.ehlos`` (when each EHLO
arrived), ``server.early`` (commands that arrived before
the previous one was answered: ``early["mail"]``, MAIL with its RCPT TO already there,
``early["data"]``, the end of data with the next MAIL already there), ``server.commands``
(how many of each command arrived: ``commands["BDAT"]``, ``commands["DATA"]``). All of it is
thread-safe to read.

BDAT (RFC 3030, which aiosmtpd lacks) is the fixture's own: ``BDAT <n> [LAST]`` reads exactly
*n* bytes whatever the state (the data is consumed even when refused), answers ``503`` without
a MAIL, ``554`` when no recipient was accepted, ``552`` past the size limit, and on ``LAST``
hands the chunks to the same DATA hook as DATA, so every data fault above works with BDAT too.

Fixture ``date_server``: ``http.server`` on 127.0.0.1 whose ``Date:`` header states
``date_server.now()`` (the real time unless a test sets it), for ``[release] clock_url``
(``date_server.url``).

Helpers for building what a send needs without the rest of the pipeline:
``smtp_config(tmp_path, server, **smtp_overrides)`` (a Config with transport smtp) and
``outgoing(store, emails, now=..., campaign=..., bcc=False)`` (journal rows reserved, minimal
valid messages with their Message-ID; ``bcc=True`` makes one message to all *emails*).

For the send tests: fixture ``store`` (a fresh journal in *tmp_path*, closed after the test; a
test module's own ``store`` fixture overrides it), ``now()``, ``send(items, config, store, ...)``
(``send_batch`` on the system clock), ``states(store)`` (email -> journal state) and
``assert_consistent(server, store, items)`` (what each recipient got agrees with the journal).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import random
import ssl
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, syntax

from mailer.clock import SystemClock
from mailer.config.load import parse_config
from mailer.config.model import Config
from mailer.models import Campaign, Contact, Outgoing, State
from mailer.sending import SendReport, send_batch
from mailer.store import Reservation, Store

SENDER = "press@city.example"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message_id: str
    data: bytes
    at: float  # time.time() when the data was complete
    mono: float  # time.monotonic() at the same moment
    answered: bool  # False: the server kept it but the client got no (timely) answer
    connection: int


@dataclass
class _Fault:
    stage: str  # connect, mail, rcpt, data
    action: str  # a reply line, or "drop", or "slow"
    times: int | None
    address: str | None = None
    seconds: float = 0.0

    def matches(self, stage: str, address: str | None) -> bool:
        if self.stage != stage or self.times == 0:
            return False
        return self.address is None or address is None or self.address == address.lower()

    def use(self) -> None:
        if self.times is not None:
            self.times -= 1


@dataclass
class _Random:
    rate: float
    rng: random.Random
    actions: dict[str, list[str]] = field(default_factory=dict)


DEFAULT_RANDOM_ACTIONS = {
    "connect": ["421 4.7.0 Try again later, closing connection"],
    "mail": ["451 4.3.0 Temporary failure", "drop"],
    "rcpt": [
        "451 4.3.0 Try again later",
        "452 4.5.3 Too many recipients",
        "550 5.1.1 No such user",
    ],
    "data": ["451 4.3.0 Queue problem", "drop"],
}


class _Handler:
    def __init__(self, server: SmtpTestServer) -> None:
        self.server = server

    async def handle_EHLO(
        self, smtp: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # the new-style hook must set it itself
        with self.server._lock:
            self.server.ehlos.append(time.time())
        if self.server.pipelining:
            responses.insert(-1, "250-PIPELINING")
        if self.server.chunking:
            responses.insert(-1, "250-CHUNKING")
        return responses

    async def handle_MAIL(  # aiosmtpd's hook names
        self, smtp: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.server._arrived("mail", smtp)
        action = self.server._fault("mail", None)
        count = self.server._per_connection[id(smtp)]
        if action is None and self.server.close_after and count >= self.server.close_after:
            action = "421 4.7.0 Too many messages on this connection, closing"
        if action is not None:
            return await self.server._act(smtp, action)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, smtp: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        action = self.server._fault("rcpt", address)
        if action is not None:
            return await self.server._act(smtp, action)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        server = self.server
        server._arrived("data", smtp)
        fault = server._data_fault(envelope.rcpt_tos)
        if fault is not None and fault.action.startswith(("4", "5")):
            return fault.action
        keep = fault is None or fault.action in ("drop", "slow")
        answered = fault is None
        if keep:
            server._record(envelope, answered=answered, connection=id(smtp))
        if fault is not None and fault.action == "drop":
            assert smtp.transport is not None
            smtp.transport.abort()
            await asyncio.sleep(3600)  # cancelled by connection_lost
        if fault is not None and fault.action == "slow":
            await asyncio.sleep(fault.seconds)
        server._per_connection[id(smtp)] += 1
        return f"250 2.0.0 OK queued as Q{len(server.messages):05d}"


class SmtpTestServer:
    PIPELINING = True
    CHUNKING = False
    USERNAME = "officer@city.example"
    PASSWORD = "correct horse battery staple"  # the fixture's one test account

    def __init__(
        self,
        *,
        security: str = "none",
        auth: bool = False,
        cert: trustme.LeafCert | None = None,
        ca_file: Path | None = None,
        idle_timeout: float = 300.0,
        login_needs_tls: bool | None = None,
        pipelining: bool | None = None,
        chunking: bool | None = None,
    ) -> None:
        self.security = security
        # EHLO lists PIPELINING (as Postfix, Exchange Online and Gmail do) unless False; the
        # class default is what the reliability suite switches to run both modes.
        self.pipelining = self.PIPELINING if pipelining is None else pipelining
        self.chunking = self.CHUNKING if chunking is None else chunking  # BDAT (RFC 3030)
        # aiosmtpd offers AUTH only after STARTTLS when True (default: with security starttls)
        self.login_needs_tls = (
            security == "starttls" if login_needs_tls is None else login_needs_tls
        )
        self.idle_timeout = idle_timeout
        self.auth = auth
        self.host = "127.0.0.1"
        self.port = 0
        self.ca_file = ca_file
        self._cert = cert
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._random: _Random | None = None
        self.messages: list[Received] = []
        self.connections = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self.max_connections = 0
        self.close_after = 0
        self.greeting_date: Callable[[], dt.datetime] | None = None
        self.greetings = 0  # connections that got the greeting
        self.logins: list[str] = []
        # What arrived before the server had answered the command before it (RFC 2920): MAIL
        # with its RCPT already waiting, the next MAIL already there when the end of data is
        # answered. All zero from a client in lock-step.
        self.early: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()  # "DATA", "BDAT": how many arrived
        self.ehlos: list[float] = []  # time.time() of each EHLO
        self._per_connection: Counter[int] = Counter()
        self._live: set[SMTP] = set()
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    # --- scripting -----------------------------------------------------------------------

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def fail_connect(self, reply: str, *, times: int | None = 1) -> None:
        self._add(_Fault("connect", reply, times))

    def fail_mail(self, reply: str, *, times: int | None = 1) -> None:
        self._add(_Fault("mail", reply, times))

    def fail_rcpt(self, address: str, reply: str, *, times: int | None = 1) -> None:
        self._add(_Fault("rcpt", reply, times, address.lower()))

    def fail_data(self, reply: str, *, times: int | None = 1, address: str | None = None) -> None:
        self._add(_Fault("data", reply, times, address.lower() if address else None))

    def drop_in_data(self, *, times: int | None = 1, address: str | None = None) -> None:
        self._add(_Fault("data", "drop", times, address.lower() if address else None))

    def slow_data(
        self, seconds: float, *, times: int | None = 1, address: str | None = None
    ) -> None:
        self._add(_Fault("data", "slow", times, address.lower() if address else None, seconds))

    def drop_at(self, stage: str, *, times: int | None = 1, address: str | None = None) -> None:
        self._add(_Fault(stage, "drop", times, address.lower() if address else None))

    def random_faults(
        self, *, rate: float, seed: int, actions: dict[str, list[str]] | None = None
    ) -> None:
        self._random = _Random(rate, random.Random(seed), actions or DEFAULT_RANDOM_ACTIONS)

    def _fault(self, stage: str, address: str | None) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(stage, address):
                    fault.use()
                    return fault.action
            chance = self._random
            if chance and stage in chance.actions and chance.rng.random() < chance.rate:
                return chance.rng.choice(chance.actions[stage])
        return None

    def _data_fault(self, rcpt_tos: list[str]) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.stage == "data"
                    and fault.times != 0
                    and (fault.address is None or fault.address in [r.lower() for r in rcpt_tos])
                ):
                    fault.use()
                    return fault
            chance = self._random
            if chance and "data" in chance.actions and chance.rng.random() < chance.rate:
                return _Fault("data", chance.rng.choice(chance.actions["data"]), 1)
        return None

    async def _act(self, smtp: SMTP, action: str) -> str:
        if action == "drop":
            assert smtp.transport is not None
            smtp.transport.abort()
            await asyncio.sleep(3600)
        if action.startswith("421") and smtp.transport is not None:
            asyncio.get_running_loop().call_later(0.05, smtp.transport.close)
        return action

    # --- what arrived --------------------------------------------------------------------

    def _arrived(self, stage: str, smtp: SMTP) -> None:
        """Count a command handled while the client's next command was already waiting."""
        waiting = bytes(getattr(smtp._reader, "_buffer", b""))
        if waiting:
            with self._lock:
                self.early[stage] += 1

    def _record(self, envelope: Any, *, answered: bool, connection: int) -> None:
        data = bytes(envelope.original_content or b"")
        headers = BytesHeaderParser().parsebytes(data)
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(str(r) for r in envelope.rcpt_tos),
            message_id=str(headers.get("Message-ID", "")).strip(),
            data=data,
            at=time.time(),
            mono=time.monotonic(),
            answered=answered,
            connection=connection,
        )
        with self._lock:
            self.messages.append(received)

    def drain(self) -> list[Received]:
        """Everything received so far, forgotten by the server (for long runs and benchmarks)."""
        with self._lock:
            got, self.messages = self.messages, []
        return got

    def by_message_id(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        with self._lock:
            for message in self.messages:
                out.setdefault(message.message_id, []).append(message)
        return out

    def received_by(self, address: str) -> list[str]:
        """Message-IDs of every copy that reached *address* (duplicates included)."""
        with self._lock:
            return [
                m.message_id
                for m in self.messages
                if address.lower() in (r.lower() for r in m.rcpt_tos)
            ]

    # --- the server ----------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login = data.login.decode("utf-8", "replace")
            if login == self.USERNAME and data.password.decode("utf-8", "replace") == self.PASSWORD:
                with self._lock:
                    self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def _context(self) -> ssl.SSLContext:
        assert self._cert is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def _factory(self) -> SMTP:
        owner = self
        starttls = self._context() if self.security == "starttls" else None

        class _Scripted(SMTP):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self._chunks = bytearray()  # the BDAT chunks of the transaction so far
                self._chunks_refused = ""  # the reply to every chunk up to LAST, once refused
                super().__init__(*args, **kwargs)

            def _count(self, command: str) -> None:
                with owner._lock:
                    owner.commands[command] += 1

            @syntax("DATA")
            async def smtp_DATA(self, arg: str) -> None:
                self._count("DATA")
                if self._chunks:
                    await self.push("503 5.5.1 Error: DATA after BDAT")
                    return
                await super().smtp_DATA(arg)

            @syntax("BDAT <size> [LAST]")
            async def smtp_BDAT(self, arg: str | None) -> None:
                """RFC 3030: exactly *size* bytes follow, read whatever the answer will be."""
                self._count("BDAT")
                words = (arg or "").split()
                if (
                    not words
                    or not words[0].isdigit()
                    or len(words) > 2
                    or (len(words) == 2 and words[1].upper() != "LAST")
                ):
                    await self.push("501 5.5.4 Syntax: BDAT <size> [LAST]")
                    return
                last = len(words) == 2
                try:
                    chunk = await self._reader.readexactly(int(words[0]))
                except asyncio.IncompleteReadError:
                    return  # the connection closed in the chunk: nothing to answer
                envelope = self.envelope
                assert envelope is not None
                if not self._chunks_refused:
                    if not envelope.mail_from:
                        self._chunks_refused = "503 5.5.1 Error: need MAIL command"
                    elif not envelope.rcpt_tos:
                        self._chunks_refused = "554 5.5.1 Error: no valid recipients"
                    elif len(self._chunks) + len(chunk) > (self.data_size_limit or 1 << 62):
                        self._chunks_refused = "552 5.3.4 Error: message too big"
                refused = self._chunks_refused
                if not refused:
                    self._chunks += chunk
                if not last:
                    await self.push(refused or f"250 2.0.0 {len(chunk)} octets received")
                    return
                content = bytes(self._chunks)
                self._chunks, self._chunks_refused = bytearray(), ""
                if refused:
                    self._set_post_data_state()
                    await self.push(refused)
                    return
                envelope.content = envelope.original_content = content
                status = await self._call_handler_hook("DATA")
                self._set_post_data_state()
                await self.push(status)

            def _set_post_data_state(self) -> None:
                super()._set_post_data_state()
                self._chunks, self._chunks_refused = bytearray(), ""

            async def _handle_client(self) -> None:
                with owner._lock:
                    owner._live.add(self)
                    owner.connections += 1
                    owner.concurrent += 1
                    owner.max_concurrent = max(owner.max_concurrent, owner.concurrent)
                    crowded = bool(owner.max_connections) and (
                        owner.concurrent > owner.max_connections
                    )
                try:
                    greeting = (
                        "432 4.3.2 Concurrent connections limit exceeded"
                        if crowded
                        else (owner._fault("connect", None))
                    )
                    if greeting is not None:
                        await self.push(greeting)
                        assert self.transport is not None
                        self.transport.close()
                        return
                    dated = owner.greeting_date
                    if dated is not None:  # aiosmtpd greets with "220 {hostname} {__ident__}"
                        stamp = format_datetime(dated())
                        self.__ident__ = f"ESMTP mailer-test-smtpd {stamp}"
                    with owner._lock:
                        owner.greetings += 1
                    await super()._handle_client()
                finally:
                    with owner._lock:
                        owner.concurrent -= 1
                        owner._live.discard(self)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # AUTH over implicit TLS is fine
            return _Scripted(
                _Handler(self),
                hostname="mail.test",
                ident="mailer-test-smtpd",
                timeout=self.idle_timeout,
                tls_context=starttls,
                require_starttls=starttls is not None,
                auth_required=self.auth,
                # aiosmtpd only knows about STARTTLS; implicit TLS is encrypted from the first byte
                auth_require_tls=self.login_needs_tls,
                authenticator=self._authenticate if self.auth else None,
                loop=self._loop,
            )

    def start(self) -> SmtpTestServer:
        ready = threading.Event()
        implicit = self._context() if self.security == "tls" else None

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                self._loop.create_server(self._factory, self.host, 0, ssl=implicit)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="smtp-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the test SMTP server did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for live in list(self._live):
                if live.transport is not None:
                    live.transport.abort()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None
        self._loop.close()

    def smtp_section(self, **overrides: Any) -> dict[str, Any]:
        """An [smtp] table for this server (fast retries, short timeouts), with *overrides*."""
        section: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "timeout_seconds": 5.0,
            "retry_initial_seconds": 0.01,
            "retry_max_seconds": 0.05,
            "max_attempts": 3,
        }
        if self.ca_file is not None:
            section["ca_file"] = str(self.ca_file)
        if self.auth:
            section["username"] = self.USERNAME
            section["password_env"] = "MAILER_TEST_SMTP_PASSWORD"
        section.update(overrides)
        return section


@pytest.fixture(scope="session")
def smtp_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, trustme.LeafCert, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    path = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, cert, path


@pytest.fixture
def smtp_server(
    smtp_ca: tuple[trustme.CA, trustme.LeafCert, Path],
) -> Iterator[Callable[..., SmtpTestServer]]:
    started: list[SmtpTestServer] = []

    def start(
        *,
        security: str = "none",
        auth: bool = False,
        idle_timeout: float = 300.0,
        login_needs_tls: bool | None = None,
        pipelining: bool | None = None,
        chunking: bool | None = None,
    ) -> SmtpTestServer:
        _, cert, ca_path = smtp_ca
        tls = security != "none"
        server = SmtpTestServer(
            security=security,
            auth=auth,
            idle_timeout=idle_timeout,
            login_needs_tls=login_needs_tls,
            pipelining=pipelining,
            chunking=chunking,
            cert=cert if tls else None,
            ca_file=ca_path if tls else None,
        )
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


SMTP_MODES = ("chunked", "pipelined", "lock-step")


def use_smtp_mode(mode: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Test servers started from now on offer PIPELINING and CHUNKING ("chunked": BDAT, as
    Postfix and Exchange Online do), PIPELINING alone ("pipelined": DATA) or neither
    ("lock-step")."""
    monkeypatch.setattr(SmtpTestServer, "PIPELINING", mode in ("chunked", "pipelined"))
    monkeypatch.setattr(SmtpTestServer, "CHUNKING", mode == "chunked")
    return mode


@pytest.fixture(params=SMTP_MODES)
def smtp_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test in each mode of the wire: servers that offer PIPELINING and CHUNKING (BDAT),
    PIPELINING alone (DATA), and neither (so the client talks in lock-step); ``pipelining =
    false`` or ``chunking = false`` in [smtp] is the same as a server that does not offer it."""
    return use_smtp_mode(str(request.param), monkeypatch)


def smtp_config(tmp_path: Path, server: SmtpTestServer | None, **smtp: Any) -> Config:
    """A minimal Config that sends through *server* (or through the given [smtp] keys)."""
    section = server.smtp_section(**smtp) if server is not None else smtp
    data: dict[str, Any] = {
        "event": {
            "title": "Opening of the new library",
            "location": "City Hall",
            "start": "2027-06-25 13:00",
            "end": "2027-06-25 15:00",
            "timezone": "Europe/Helsinki",
        },
        "organizer": {"name": "City of Example", "email": SENDER},
        "transport": {"kind": "smtp"},
        "smtp": section,
    }
    return parse_config(data, tmp_path / "config.toml")


def message_bytes(message_id: str, to: str, subject: str = "Invitation") -> bytes:
    return (
        f"From: City of Example <{SENDER}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n"
        "Date: Mon, 01 Mar 2027 10:00:00 +0200\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "You are invited.\r\n"
        ".a line that starts with a dot\r\n"
    ).encode()


def outgoing(
    store: Store,
    emails: list[str],
    *,
    now: dt.datetime,
    campaign: Campaign = Campaign.INVITATION,
    round_: int = 0,
    bcc: bool = False,
) -> list[Outgoing]:
    """Journal rows (pending) and the messages for *emails*, in order."""
    if bcc:
        mid = f"<bcc-{campaign.value}-{round_}@city.example>"
        rows = store.journal.reserve(campaign, round_, [Reservation(SENDER, "", mid, None, 0)], now)
        contact = Contact(SENDER, "City of Example", "", "en", (), 0)
        stored = rows[SENDER].message_id
        return [
            Outgoing(
                campaign,
                contact,
                stored,
                None,
                0,
                SENDER,
                tuple(emails),
                "Release",
                message_bytes(stored, SENDER, "Release"),
            )
        ]
    reservations = [
        Reservation(
            e, f"Journalist {i}", f"<{campaign.value}-{round_}-{i}.{e}@city.example>", None, 0
        )
        for i, e in enumerate(emails)
    ]
    rows = store.journal.reserve(campaign, round_, reservations, now)
    items = []
    for line, email in enumerate(emails, start=2):
        mid = rows[email].message_id
        contact = Contact(email, f"Journalist {line}", "News", "en", (), line)
        items.append(
            Outgoing(
                campaign,
                contact,
                mid,
                None,
                0,
                SENDER,
                (email,),
                "Invitation",
                message_bytes(mid, email),
            )
        )
    return items


class DateServer:
    """http.server on 127.0.0.1 whose Date header states ``now()`` (the real time unless set)."""

    def __init__(self) -> None:
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def date_time_string(self, timestamp: float | None = None) -> str:
                return format_datetime(outer.now(), usegmt=True)

            def do_HEAD(self) -> None:
                outer.requests += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def date_server() -> Iterator[DateServer]:
    server = DateServer()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "m.db")
    yield opened
    opened.close()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def send(
    items: list[Outgoing],
    config: Config,
    store: Store,
    *,
    password: str | None = None,
    not_before: dt.datetime | None = None,
    owner: str = "test-owner",
) -> SendReport:
    return send_batch(
        items,
        config=config,
        store=store,
        clock=SystemClock(),
        owner=owner,
        password=password,
        not_before=not_before,
    )


def states(store: Store, campaign: Campaign = Campaign.INVITATION) -> dict[str, State]:
    return {e.email: e.state for e in store.journal.entries(campaign)}


def assert_consistent(server: SmtpTestServer, store: Store, items: list[Outgoing]) -> None:
    """Sent <=> exactly one answered copy; failed/pending => no copy; nothing left held."""
    copies = server.by_message_id()
    for item in items:
        entry = store.journal.by_message_id(item.message_id)
        assert entry is not None
        got = copies.get(item.message_id, [])
        assert entry.state not in (State.CLAIMED, State.TRANSMITTING), entry
        if entry.state is State.SENT:
            assert len(got) == 1 and got[0].answered, (item.contact.email, got)
        elif entry.state in (State.FAILED, State.PENDING):
            assert got == [], (item.contact.email, entry.state, got)
        elif entry.state is State.IN_DOUBT:
            assert len(got) <= 1
