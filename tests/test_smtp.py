"""The SMTP transport against a real aiosmtpd server on 127.0.0.1, fault by fault.

Every test checks both sides: what each recipient got at the server (by Message-ID) and what the
journal says.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.clock import SystemClock
from mailer.errors import TransportError
from mailer.models import Campaign, State
from mailer.sending import NoProgress, RunContext, SendReport
from mailer.sending.preflight import check_smtp
from mailer.sending.probe import Kind, classify
from mailer.sending.smtp import run_smtp
from mailer.store import Store
from tests.fixtures_smtp import (
    SENDER,
    SmtpTestServer,
    assert_consistent,
    now,
    outgoing,
    send,
    smtp_config,
    states,
)

Server = Callable[..., SmtpTestServer]
pytestmark = pytest.mark.usefixtures("smtp_mode")  # every test pipelined and in lock-step
EMAILS = [f"journalist{i}@news{i % 3}.example" for i in range(6)]


# --- the happy paths ------------------------------------------------------------------------


def test_plain_one_connection_reused_for_every_message(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.ok and report.sent == 6
    assert server.connections == 1
    for item in items:
        assert server.received_by(item.contact.email) == [item.message_id]
        entry = store.journal.by_message_id(item.message_id)
        assert entry is not None and entry.state is State.SENT and entry.sent_at is not None
        assert entry.last_error.startswith("250 2.0.0 OK queued as Q")  # the server's reply
        assert entry.attempts == 1
    received = server.messages[0]
    assert received.mail_from == SENDER
    assert b"\r\n.a line that starts with a dot\r\n" in received.data  # dot-stuffing undone


def test_four_connections_share_the_work(smtp_server: Server, tmp_path: Path, store: Store) -> None:
    server = smtp_server()
    emails = [f"j{i}@news.example" for i in range(40)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, server, connections=4), store)
    assert report.sent == 40 and report.ok
    assert server.connections == 4
    assert server.max_concurrent <= 4
    assert len({m.connection for m in server.messages}) == 4
    assert_consistent(server, store, items)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_login(smtp_server: Server, tmp_path: Path, store: Store, security: str) -> None:
    server = smtp_server(security=security, auth=True)
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(
        items, smtp_config(tmp_path, server, connections=2), store, password=SmtpTestServer.PASSWORD
    )
    assert report.ok and report.sent == 3
    assert server.logins == [SmtpTestServer.USERNAME] * 2
    assert_consistent(server, store, items)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_self_signed_server_is_refused_without_its_ca(
    smtp_server: Server, tmp_path: Path, store: Store, security: str
) -> None:
    server = smtp_server(security=security, auth=True)
    items = outgoing(store, EMAILS[:2], now=now())
    config = smtp_config(tmp_path, server, ca_file="")
    report = send(items, config, store, password=SmtpTestServer.PASSWORD)
    assert "certificate verify failed" in report.stopped
    assert "[smtp] ca_file" in report.stopped
    assert report.stopped.startswith(f"127.0.0.1:{server.port}: ")
    assert server.messages == [] and server.logins == []
    assert set(states(store).values()) == {State.PENDING}
    entry = store.journal.by_message_id(items[0].message_id)
    assert entry is not None and entry.attempts == 0  # never claimed


def test_wrong_ca_file_is_refused_too(smtp_server: Server, tmp_path: Path, store: Store) -> None:
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    server = smtp_server(security="starttls")
    items = outgoing(store, EMAILS[:1], now=now())
    report = send(items, smtp_config(tmp_path, server, ca_file=str(other)), store)
    assert "certificate verify failed" in report.stopped
    assert server.messages == []


def test_authentication_failure_stops_the_run(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(security="starttls", auth=True)
    items = outgoing(store, EMAILS, now=now())
    wrong = "not-the-password-42"
    report = send(items, smtp_config(tmp_path, server, connections=3), store, password=wrong)
    assert report.stopped.startswith(f"127.0.0.1:{server.port}: 535 ")
    assert report.stopped.endswith("check [smtp] username and the password")
    assert wrong not in report.stopped and wrong not in repr(report)
    assert report.deliveries == ()
    assert server.messages == []
    assert set(states(store).values()) == {State.PENDING}


# --- connection faults ----------------------------------------------------------------------


def test_421_on_connect_is_retried(smtp_server: Server, tmp_path: Path, store: Store) -> None:
    server = smtp_server()
    server.fail_connect("421 4.7.0 Try again later, closing connection", times=2)
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.ok and report.sent == 3
    assert server.connections == 3
    assert_consistent(server, store, items)


def test_421_on_every_connect_gives_up_and_keeps_the_queue(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_connect("421 4.7.0 Try again later, closing connection", times=None)
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(items, smtp_config(tmp_path, server, connections=2), store)
    assert "421 4.7.0 Try again later" in report.stopped
    assert "gave up after 3 attempts" in report.stopped
    assert server.connections == 6  # 2 connections x max_attempts
    assert set(states(store).values()) == {State.PENDING}


def test_432_on_the_fourth_connection_stops_cleanly(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.max_connections = 3
    emails = [f"j{i}@news.example" for i in range(30)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, server, connections=4), store)
    assert "432 4.3.2 Concurrent connections limit exceeded" in report.stopped
    assert "lower [smtp] connections" in report.stopped
    assert report.sent < 30
    assert report.failed == 0 and report.in_doubt == 0
    assert_consistent(server, store, items)
    counts = store.journal.counts(Campaign.INVITATION)
    assert counts.sent == report.sent and counts.pending == 30 - report.sent
    # the officer lowers connections and runs again: the rest goes, nobody twice
    again = send(items, smtp_config(tmp_path, server, connections=3), store)
    assert again.ok and again.sent == 30 - report.sent
    assert_consistent(server, store, items)
    assert all(len(server.received_by(e)) == 1 for e in emails)


def test_server_closing_connections_is_survived(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.close_after = 2
    emails = [f"j{i}@news.example" for i in range(7)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, server, retry_initial_seconds=5.0), store)
    assert report.ok and report.sent == 7  # reconnected at once, no 5 s backoff
    assert server.connections == 4
    assert_consistent(server, store, items)


def test_connection_closed_while_idle_is_reopened(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(idle_timeout=0.2)
    items = outgoing(store, EMAILS[:3], now=now())
    config = smtp_config(tmp_path, server, rate_per_minute=150, retry_initial_seconds=5.0)
    report = send(items, config, store)  # 0.4 s between messages: each finds its connection gone
    assert report.ok and report.sent == 3
    assert server.connections == 3
    assert all(e.attempts == 1 for e in store.journal.entries(Campaign.INVITATION))
    assert_consistent(server, store, items)


def test_random_faults_never_lose_or_repeat(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.random_faults(rate=0.1, seed=7)
    emails = [f"j{i}@news.example" for i in range(150)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, server, connections=3, max_attempts=6), store)
    assert not report.stopped
    assert report.sent + report.failed + report.in_doubt + report.left_queued == 150
    assert report.failed > 0 and report.in_doubt > 0  # the seed produces both
    assert_consistent(server, store, items)
    for delivery in report.deliveries:
        if delivery.state is State.FAILED:
            assert delivery.detail.startswith("550 5.1.1")


def test_dropped_connection_before_data_is_retried(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.drop_at("mail", times=1)
    server.drop_at("rcpt", times=1, address=EMAILS[2])
    items = outgoing(store, EMAILS[:4], now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.ok and report.sent == 4
    assert_consistent(server, store, items)


# --- recipient and data faults ---------------------------------------------------------------


def test_451_on_a_recipient_is_retried_until_accepted(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_rcpt(EMAILS[1], "451 4.3.0 Try again later", times=2)
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(items, smtp_config(tmp_path, server, max_attempts=3), store)
    assert report.ok and report.sent == 3
    entry = store.journal.by_message_id(items[1].message_id)
    assert entry is not None and entry.state is State.SENT and entry.attempts == 3
    assert_consistent(server, store, items)


def test_452_forever_leaves_the_message_queued(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_rcpt(EMAILS[0], "452 4.2.2 Mailbox full, try later", times=None)
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(items, smtp_config(tmp_path, server, max_attempts=3), store)
    assert report.sent == 2 and report.left_queued == 1 and not report.stopped
    delivery = next(d for d in report.deliveries if d.email == EMAILS[0])
    assert delivery.state is State.PENDING
    assert delivery.detail == "452 4.2.2 Mailbox full, try later (gave up after 3 attempts)"
    entry = store.journal.by_message_id(items[0].message_id)
    assert entry is not None and entry.state is State.PENDING and entry.attempts == 3
    assert entry.last_error.startswith("452 4.2.2")
    assert_consistent(server, store, items)


def test_550_on_a_recipient_fails_that_recipient_only(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_rcpt(EMAILS[1], "550 5.1.1 <journalist1@news1.example>: User unknown", times=None)
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.sent == 2 and report.failed == 1 and not report.stopped
    entry = store.journal.by_message_id(items[1].message_id)
    assert entry is not None and entry.state is State.FAILED and entry.attempts == 1
    assert entry.last_error == "550 5.1.1 <journalist1@news1.example>: User unknown"
    assert server.received_by(EMAILS[1]) == []
    assert_consistent(server, store, items)


def test_partly_refused_bcc_batch_is_a_failure(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_rcpt(EMAILS[2], "550 5.1.1 User unknown", times=None)
    batch = outgoing(store, EMAILS[:4], now=now(), campaign=Campaign.RELEASE, bcc=True)
    report = send(batch, smtp_config(tmp_path, server), store)
    assert report.failed == 1 and report.sent == 0
    assert report.deliveries[0].detail == (
        f"1 of 4 recipients refused, nothing sent: {EMAILS[2]}: 550 5.1.1 User unknown"
    )
    assert server.messages == []  # not even to the three accepted recipients
    assert_consistent(server, store, batch)


def test_bcc_batch_delivered_to_every_recipient(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    batch = outgoing(store, EMAILS, now=now(), campaign=Campaign.RELEASE, bcc=True)
    report = send(batch, smtp_config(tmp_path, server), store)
    assert report.ok
    assert [len(server.received_by(e)) for e in EMAILS] == [1] * 6


def test_451_on_data_is_retried_and_550_on_data_fails(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_data("451 4.3.0 Queue problem", times=1, address=EMAILS[0])
    server.fail_data("554 5.6.0 Message rejected as spam", times=None, address=EMAILS[1])
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.sent == 2 and report.failed == 1
    assert states(store) == {EMAILS[0]: State.SENT, EMAILS[1]: State.FAILED, EMAILS[2]: State.SENT}
    entry = store.journal.by_message_id(items[1].message_id)
    assert entry is not None and entry.last_error == "554 5.6.0 Message rejected as spam"
    assert_consistent(server, store, items)


def test_connection_lost_in_data_is_in_doubt_and_not_resent(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.drop_in_data(times=1, address=EMAILS[1])
    items = outgoing(store, EMAILS[:4], now=now())
    config = smtp_config(tmp_path, server)
    report = send(items, config, store)
    assert report.sent == 3 and report.in_doubt == 1 and not report.ok
    doubt = next(d for d in report.deliveries if d.state is State.IN_DOUBT)
    assert doubt.email == EMAILS[1]
    assert doubt.detail.startswith("127.0.0.1: connection lost after the data was sent")
    assert states(store)[EMAILS[1]] is State.IN_DOUBT
    assert [m.answered for m in server.by_message_id()[items[1].message_id]] == [False]
    assert_consistent(server, store, items)
    # a second run does not resend it ...
    again = send(items, config, store)
    assert again.sent == 0 and again.not_claimed == 4
    assert len(server.received_by(EMAILS[1])) == 1
    # ... until the officer asks (--resend-in-doubt)
    assert store.journal.requeue(Campaign.INVITATION, 0, [State.IN_DOUBT], now()) == 1
    resent = send(items, config, store)
    assert resent.sent == 1 and len(server.received_by(EMAILS[1])) == 2


def test_slow_answer_to_data_is_in_doubt(smtp_server: Server, tmp_path: Path, store: Store) -> None:
    server = smtp_server()
    server.slow_data(2.0, times=1, address=EMAILS[0])
    items = outgoing(store, EMAILS[:3], now=now())
    report = send(items, smtp_config(tmp_path, server, timeout_seconds=0.3), store)
    assert report.in_doubt == 1 and report.sent == 2
    assert report.deliveries[0].detail == (
        "127.0.0.1: no answer within 0.3 s after the data was sent; the server may have the message"
    )
    assert states(store)[EMAILS[0]] is State.IN_DOUBT
    assert server.connections == 2  # reconnected after the timeout
    assert_consistent(server, store, items)


# --- account errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "reply", "hint"),
    [
        ("mail", "554 5.4.5 Daily user sending limit exceeded", "sending limit is reached"),
        (
            "data",
            "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
            "sending limit is reached",
        ),
        (
            "rcpt",
            "550 5.7.233 Tenant external recipient rate limit exceeded",
            "external recipient limit",
        ),
        ("mail", "530 5.7.57 Client not authenticated to send mail", "check [smtp] username"),
        (
            "mail",
            "550 5.7.60 SMTP; Client does not have permissions to send as this sender",
            f"refuses to send as {SENDER}",
        ),
    ],
)
def test_account_errors_stop_the_run_and_keep_the_queue(
    smtp_server: Server, tmp_path: Path, store: Store, stage: str, reply: str, hint: str
) -> None:
    server = smtp_server()
    emails = [f"j{i}@news.example" for i in range(10)]
    items = outgoing(store, emails, now=now())
    if stage == "mail":
        server.fail_mail(reply, times=None)
    elif stage == "rcpt":
        server.fail_rcpt(emails[2], reply, times=None)
    else:
        server.fail_data(reply, times=None, address=emails[2])
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.stopped.startswith("127.0.0.1: " + reply)
    assert hint in report.stopped
    assert report.sent == (0 if stage == "mail" else 2)
    assert report.failed == 0 and report.in_doubt == 0
    assert_consistent(server, store, items)
    counts = store.journal.counts(Campaign.INVITATION)
    assert counts.sent == report.sent and counts.pending == 10 - report.sent
    stopped_at = store.journal.by_message_id(items[report.sent].message_id)
    assert stopped_at is not None and stopped_at.last_error == report.stopped


def test_interrupted_run_leaves_a_consistent_journal(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    """Ctrl-C while the server is answering DATA: that message in doubt, nothing else held."""
    server = smtp_server()
    server.slow_data(3.0, times=None)
    items = outgoing(store, EMAILS[:3], now=now())
    config = smtp_config(tmp_path, server, connections=2)
    ctx = RunContext(
        config=config,
        journal=store.journal,
        smtp_log=store.smtp_log,
        clock=SystemClock(),
        owner="t",
        progress=NoProgress(),
        not_before=None,
        password=None,
    )

    async def interrupt() -> None:
        task = asyncio.create_task(run_smtp(items, ctx))
        while len(server.messages) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupt())
    found = states(store)
    assert sorted(found.values()) == sorted([State.IN_DOUBT, State.IN_DOUBT, State.PENDING])
    assert_consistent(server, store, items)


# --- limits, embargo, exactly once --------------------------------------------------------------


def test_rate_limit_spaces_the_messages(smtp_server: Server, tmp_path: Path, store: Store) -> None:
    server = smtp_server()
    items = outgoing(store, [f"j{i}@news.example" for i in range(5)], now=now())
    config = smtp_config(tmp_path, server, connections=3, rate_per_minute=300)
    begin = time.monotonic()
    report = send(items, config, store)
    assert report.ok
    arrivals = sorted(m.mono for m in server.messages)
    # 300/min = one start every 0.2 s across all three connections: the k-th message cannot
    # arrive before k * 0.2 s after the run began (load can only make it later)
    for k, arrived in enumerate(arrivals):
        assert arrived - begin >= k * 0.2
    # and not much later: at least half the gaps between arrivals are under 0.3 s. Asked of
    # half the gaps, not of the total, so that one stall of a loaded machine (which delays one
    # message; the slots after it keep the pace) does not fail the test; spacing wider does.
    gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
    assert gaps[len(gaps) // 2 - 1] < 0.2 * 1.5, gaps


def test_daily_cap_stops_and_resumes_nothing_twice(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    items = outgoing(store, [f"j{i}@news.example" for i in range(5)], now=now())
    config = smtp_config(tmp_path, server, daily_cap=3)
    report = send(items, config, store)
    assert report.sent == 3
    assert "daily cap of 3 recipients" in report.stopped and "room again at" in report.stopped
    assert store.journal.counts(Campaign.INVITATION).pending == 2
    again = send(items, config, store)
    assert again.sent == 0 and "daily cap" in again.stopped
    assert len(server.messages) == 3
    assert_consistent(server, store, items)


def test_never_before_the_embargo(smtp_server: Server, tmp_path: Path, store: Store) -> None:
    server = smtp_server()
    items = outgoing(store, EMAILS, now=now(), campaign=Campaign.RELEASE)
    embargo = now() + dt.timedelta(seconds=0.6)
    report = send(items, smtp_config(tmp_path, server, connections=3), store, not_before=embargo)
    assert report.ok
    assert min(m.at for m in server.messages) >= embargo.timestamp()


@pytest.mark.parametrize("pipelining", [True, False])
def test_connections_greet_before_the_embargo(
    smtp_server: Server, tmp_path: Path, store: Store, pipelining: bool
) -> None:
    # No login or STARTTLS makes aiosmtplib say EHLO at connect; mailer says it anyway, so
    # that the first message after the embargo does not wait a round trip for it.
    server = smtp_server(pipelining=pipelining)
    items = outgoing(store, EMAILS, now=now(), campaign=Campaign.RELEASE)
    embargo = now() + dt.timedelta(seconds=0.8)
    config = smtp_config(tmp_path, server, connections=2, pipelining=pipelining)
    report = send(items, config, store, not_before=embargo)
    assert report.ok
    assert len(server.ehlos) == 2
    assert max(server.ehlos) < embargo.timestamp() <= min(m.at for m in server.messages)


def test_two_processes_on_one_journal_send_each_message_once(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    emails = [f"j{i}@news.example" for i in range(30)]
    items = outgoing(store, emails, now=now())
    config = smtp_config(tmp_path, server, connections=2)
    reports: list[SendReport] = []

    def run(owner: str) -> None:
        with Store(tmp_path / "m.db") as own:
            reports.append(send(items, config, own, owner=owner))

    threads = [threading.Thread(target=run, args=(f"p{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 30
    assert sorted(len(server.received_by(e)) for e in emails) == [1] * 30
    assert_consistent(server, store, items)


def test_password_never_reaches_journal_or_report(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(security="starttls", auth=True)
    server.fail_rcpt(EMAILS[0], "550 5.1.1 User unknown", times=None)
    items = outgoing(store, EMAILS[:2], now=now())
    report = send(items, smtp_config(tmp_path, server), store, password=SmtpTestServer.PASSWORD)
    assert report.sent == 1
    store.close()
    raw = (tmp_path / "m.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("m.db-*")
    )
    assert SmtpTestServer.PASSWORD.encode() not in raw
    assert SmtpTestServer.PASSWORD not in repr(report)


# --- pre-flight ----------------------------------------------------------------------------------


def test_check_smtp_logs_in_without_sending(smtp_server: Server, tmp_path: Path) -> None:
    server = smtp_server(security="starttls", auth=True)
    config = smtp_config(tmp_path, server)
    assert config.smtp is not None
    line = check_smtp(config.smtp, SmtpTestServer.PASSWORD, timeout=5)
    assert line.startswith(f"127.0.0.1:{server.port} STARTTLS TLSv1.")
    assert line.endswith(f", logged in as {SmtpTestServer.USERNAME}")
    assert server.messages == [] and server.logins == [SmtpTestServer.USERNAME]


def test_check_smtp_plain_and_tls(smtp_server: Server, tmp_path: Path) -> None:
    plain = smtp_config(tmp_path, smtp_server()).smtp
    tls = smtp_config(tmp_path, smtp_server(security="tls")).smtp
    assert plain is not None and tls is not None
    assert check_smtp(plain, None, timeout=5).endswith(" plain (no TLS), no login configured")
    assert " TLS TLSv1." in check_smtp(tls, None, timeout=5)


def test_check_smtp_explains_failures(smtp_server: Server, tmp_path: Path) -> None:
    server = smtp_server(security="starttls", auth=True)
    no_ca = smtp_config(tmp_path, server, ca_file="").smtp
    good = smtp_config(tmp_path, server).smtp
    assert no_ca is not None and good is not None
    with pytest.raises(TransportError, match=r"certificate verify failed .*set \[smtp\] ca_file"):
        check_smtp(no_ca, SmtpTestServer.PASSWORD, timeout=5)
    with pytest.raises(TransportError) as wrong:
        check_smtp(good, "wrong-password", timeout=5)
    assert str(wrong.value) == (
        f"127.0.0.1:{server.port}: 535 5.7.8 Authentication credentials invalid: "
        "check [smtp] username and the password"
    )
    closed = smtp_config(tmp_path, None, host="127.0.0.1", port=1, security="none").smtp
    assert closed is not None
    with pytest.raises(TransportError, match=r"^127\.0\.0\.1:1: cannot connect"):
        check_smtp(closed, None, timeout=2)
    tls_on_plain = smtp_config(tmp_path, smtp_server(), security="tls").smtp
    assert tls_on_plain is not None
    with pytest.raises(TransportError, match="TLS handshake failed"):
        check_smtp(tls_on_plain, None, timeout=2)


# --- classification ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "code", "text", "kind"),
    [
        ("rcpt", 451, "4.3.0 Try again later", Kind.TEMPORARY),
        ("rcpt", 452, "4.5.3 Your message has too many recipients", Kind.TEMPORARY),
        ("rcpt", 550, "5.1.1 User unknown", Kind.PERMANENT),
        ("rcpt", 550, "5.7.233 tenant external recipient rate limit", Kind.ACCOUNT),
        ("mail", 550, "5.4.5 Daily user sending limit exceeded", Kind.ACCOUNT),
        ("mail", 553, "5.7.1 Sender address rejected", Kind.ACCOUNT),
        ("mail", 450, "4.2.1 receiving mail too quickly", Kind.TEMPORARY),
        (
            "data",
            554,
            "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
            Kind.ACCOUNT,
        ),
        ("data", 554, "5.2.2 mailbox full", Kind.ACCOUNT),
        ("rcpt", 552, "5.2.2 mailbox full", Kind.PERMANENT),
        ("data", 554, "5.6.0 rejected", Kind.PERMANENT),
        ("mail", 432, "4.3.2 Concurrent connections limit exceeded", Kind.ACCOUNT),
        ("mail", 535, "5.7.3 Authentication unsuccessful", Kind.ACCOUNT),
    ],
)
def test_classify(stage: str, code: int, text: str, kind: Kind) -> None:
    assert classify(stage, code, text) is kind
