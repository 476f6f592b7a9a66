"""SMTP PIPELINING (RFC 2920) against a real aiosmtpd server on 127.0.0.1 that offers it.

The server counts the commands that arrived before it had answered the previous one
(``server.early``): that is what proves the client pipelined. Each test checks what every
recipient got at the server against the journal (``assert_consistent``): a message is in doubt
only when its end of data went out and its answer was never read.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiosmtplib
import pytest

from mailer.models import Campaign, State
from mailer.sending.pipeline import Pipeline
from mailer.sending.probe import Kind, Result
from mailer.store import Store
from tests.fixtures_smtp import (
    SmtpTestServer,
    assert_consistent,
    now,
    outgoing,
    send,
    smtp_config,
    states,
)

Server = Callable[..., SmtpTestServer]
EMAILS = [f"journalist{i}@news{i % 3}.example" for i in range(6)]


def test_the_commands_arrive_pipelined_and_each_message_once(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    emails = [f"j{i}@news.example" for i in range(20)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.ok and report.sent == 20
    assert server.connections == 1
    # every MAIL FROM arrived together with its RCPT TO and DATA, before it was answered
    assert server.early["mail"] == 20
    assert sorted(m.message_id for m in server.messages) == sorted(i.message_id for i in items)
    assert_consistent(server, store, items)
    entry = store.journal.by_message_id(items[-1].message_id)
    assert entry is not None and entry.last_error == "250 2.0.0 OK queued as Q00020"


@pytest.mark.parametrize("how", ["not offered", "pipelining = false"])
def test_lock_step_when_the_server_does_not_offer_it_or_the_option_says_so(
    smtp_server: Server, tmp_path: Path, store: Store, how: str
) -> None:
    server = smtp_server(pipelining=how != "not offered")
    config = smtp_config(tmp_path, server, pipelining=how == "not offered")
    items = outgoing(store, EMAILS, now=now())
    report = send(items, config, store)
    assert report.ok and report.sent == 6
    assert server.early == Counter()  # each command waited for the reply to the one before
    assert_consistent(server, store, items)


def test_a_refused_recipient_fails_alone_and_the_connection_goes_on(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_rcpt(EMAILS[1], "550 5.1.1 User unknown", times=None)
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.sent == 5 and report.failed == 1
    assert [d.detail for d in report.deliveries if d.state is State.FAILED] == [
        "550 5.1.1 User unknown"
    ]
    assert states(store)[EMAILS[1]] is State.FAILED
    assert server.received_by(EMAILS[1]) == []  # DATA was refused (no recipient): no body sent
    assert server.connections == 1  # RSET, and the next message on the same connection
    assert_consistent(server, store, items)


def test_each_reply_is_matched_to_its_recipient(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_rcpt(EMAILS[1], "550 5.1.1 User unknown", times=None)
    server.fail_rcpt(EMAILS[4], "452 4.5.3 Too many recipients", times=None)
    batch = outgoing(store, EMAILS, now=now(), campaign=Campaign.RELEASE, bcc=True)
    report = send(batch, smtp_config(tmp_path, server), store)
    assert report.failed == 1
    assert report.deliveries[0].detail == (
        f"2 of 6 recipients refused, nothing sent: {EMAILS[1]}: 550 5.1.1 User unknown; "
        f"{EMAILS[4]}: 452 4.5.3 Too many recipients"
    )
    # the server said 354 (four were accepted): the connection was closed instead of the
    # end of data, so the accepted four got nothing either
    assert server.messages == []
    assert_consistent(server, store, batch)


def test_only_the_message_whose_end_of_data_went_out_is_in_doubt(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.drop_in_data(times=1, address=EMAILS[2])
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    # the next message's MAIL / RCPT / DATA followed the end of data on the wire: not in doubt,
    # sent once on the next connection
    assert states(store) == {e: State.IN_DOUBT if e == EMAILS[2] else State.SENT for e in EMAILS}
    assert report.in_doubt == 1 and report.sent == 5
    doubt = next(d for d in report.deliveries if d.state is State.IN_DOUBT)
    assert doubt.detail.startswith("127.0.0.1: connection lost after the data was sent")
    assert server.connections == 2
    assert_consistent(server, store, items)


def test_no_answer_in_time_after_the_data_is_in_doubt_and_only_that(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.slow_data(2.0, times=1, address=EMAILS[1])
    items = outgoing(store, EMAILS[:4], now=now())
    report = send(items, smtp_config(tmp_path, server, timeout_seconds=0.3), store)
    assert states(store) == {
        e: State.IN_DOUBT if e == EMAILS[1] else State.SENT for e in EMAILS[:4]
    }
    doubt = next(d for d in report.deliveries if d.state is State.IN_DOUBT)
    assert doubt.detail == (
        "127.0.0.1: no answer within 0.3 s after the data was sent; the server may have the message"
    )
    assert_consistent(server, store, items)


def test_421_mid_pipeline_retries_what_was_not_sent(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.close_after = 2  # the third MAIL on a connection gets 421 and the connection closes
    emails = [f"j{i}@news.example" for i in range(7)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, server, retry_initial_seconds=5.0), store)
    assert report.ok and report.sent == 7 and report.in_doubt == 0  # reconnected at once
    assert server.connections == 4
    assert_consistent(server, store, items)


def test_a_refused_mail_from_is_retried_and_nothing_is_in_doubt(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.fail_mail("451 4.3.0 Temporary failure", times=2)
    items = outgoing(store, EMAILS[:4], now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.ok and report.sent == 4
    assert sorted(e.attempts for e in store.journal.entries(Campaign.INVITATION)) == [1, 1, 2, 2]
    assert_consistent(server, store, items)


def test_dropped_at_mail_mid_pipeline_is_not_in_doubt(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server()
    server.drop_at("mail", times=1)
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.ok and report.sent == 6 and report.in_doubt == 0
    assert_consistent(server, store, items)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_pipelined_over_tls_after_the_login(
    smtp_server: Server,
    tmp_path: Path,
    store: Store,
    security: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server(security=security, auth=True)
    monkeypatch.setenv("MAILER_TEST_SMTP_PASSWORD", SmtpTestServer.PASSWORD)
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store, password=SmtpTestServer.PASSWORD)
    assert report.ok and report.sent == 6
    assert server.early["mail"] == 6 and server.logins == [SmtpTestServer.USERNAME]
    assert_consistent(server, store, items)


def test_an_end_of_data_the_closed_connection_never_took_is_not_in_doubt(
    smtp_server: Server, store: Store
) -> None:
    """Writes are coalesced: the message's data waits for the next wait on the server. When the
    connection closes before that, the data never left: the message is not sent (retried), not
    in doubt, and the server has nothing."""
    server = smtp_server()
    item = outgoing(store, EMAILS[:1], now=now())[0]
    answers: list[Result] = []

    async def talk() -> Result | None:
        client = aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=5)
        await client.connect()
        pipe = Pipeline(client, host=server.host)
        marked: list[str] = []
        found = await pipe.transact(
            item, transmitting=lambda: marked.append("mark"), answered=answers.append
        )
        assert marked == ["mark"] and pipe.wire.unsent and pipe.waiting is not None
        assert client.transport is not None
        client.transport.abort()  # the connection goes before the data was handed over
        await asyncio.sleep(0.05)
        await pipe.settle()
        await pipe.close()
        return found

    assert asyncio.run(talk()) is None
    assert answers == [
        Result(
            Kind.TEMPORARY,
            "127.0.0.1: connection lost before the data was sent (the connection was closed)",
            relay=True,
        )
    ]
    assert server.messages == []
