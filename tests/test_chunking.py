"""CHUNKING (RFC 3030 BDAT) against a real aiosmtpd server on 127.0.0.1 whose BDAT is the
fixture's own (aiosmtpd has none): it reads exactly the announced bytes and counts every command
(``server.commands``), which is what proves the client used BDAT and no DATA. Each test checks
what every recipient got against the journal (``assert_consistent``): a message is in doubt only
when its ``BDAT LAST`` chunk went out and its answer was never read.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mailer.models import Campaign, State
from mailer.sending.wire import bdat_parts, wire_facts
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


def test_bdat_replaces_data_and_the_server_stores_the_same_bytes(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    chunked = smtp_server(chunking=True)
    emails = [f"j{i}@news.example" for i in range(20)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, chunked), store)
    assert report.ok and report.sent == 20
    assert chunked.commands["BDAT"] == 20 and chunked.commands["DATA"] == 0
    assert chunked.connections == 1
    assert chunked.early["mail"] == 20  # MAIL and RCPT still pipelined
    # exactly the message's bytes: CRLF lines, the line that starts with a dot not stuffed
    got = {m.message_id: m.data for m in chunked.messages}
    assert got == {i.message_id: i.data for i in items}
    assert b"\r\n.a line that starts with a dot\r\n" in got[items[0].message_id]
    assert_consistent(chunked, store, items)
    entry = store.journal.by_message_id(items[-1].message_id)
    assert entry is not None and entry.last_error == "250 2.0.0 OK queued as Q00020"


def test_the_same_bytes_arrive_with_data(smtp_server: Server, tmp_path: Path) -> None:
    stores = [Store(tmp_path / "a.db"), Store(tmp_path / "b.db")]
    try:
        got = []
        for chunking, one in zip((True, False), stores, strict=True):
            server = smtp_server(chunking=chunking)
            items = outgoing(one, EMAILS[:2], now=now())
            assert send(items, smtp_config(tmp_path, server), one).sent == 2
            assert server.commands == Counter({"BDAT" if chunking else "DATA": 2})
            got.append([m.data for m in server.messages])
        assert got[0] == got[1]
    finally:
        for one in stores:
            one.close()


def test_the_chunk_is_the_exact_bytes_counted(store: Store) -> None:
    (item,) = outgoing(store, EMAILS[:1], now=now())
    ready = replace(item, body=b"Subject: x\r\n\r\nline\r\n")
    assert wire_facts(ready)[0]
    assert bdat_parts(ready, ready=True) == (b"BDAT 20 LAST\r\n", b"Subject: x\r\n\r\nline\r\n")
    # not in wire form: bare LF and no final line end repaired, a leading dot left alone
    bare = replace(item, body=b"Subject: x\n\n.line")
    assert not wire_facts(bare)[0]
    assert bdat_parts(bare, ready=False) == (b"BDAT 21 LAST\r\n", b"Subject: x\r\n\r\n.line\r\n")


@pytest.mark.parametrize("how", ["chunking = false", "lock-step", "not offered"])
def test_data_when_chunking_is_off_or_not_offered_or_in_lock_step(
    smtp_server: Server, tmp_path: Path, store: Store, how: str
) -> None:
    server = smtp_server(chunking=how != "not offered")
    keys = {"chunking": False} if how == "chunking = false" else {}
    if how == "lock-step":
        keys = {"pipelining": False}
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server, **keys), store)
    assert report.ok and report.sent == 6
    assert server.commands == Counter({"DATA": 6})
    assert_consistent(server, store, items)


def test_a_refused_recipient_gets_no_bdat_and_the_connection_goes_on(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(chunking=True)
    server.fail_rcpt(EMAILS[1], "550 5.1.1 User unknown", times=None)
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.sent == 5 and report.failed == 1
    assert [d.detail for d in report.deliveries if d.state is State.FAILED] == [
        "550 5.1.1 User unknown"
    ]
    # the recipient's refusal was read before the chunk would have gone: it never did
    assert server.commands == Counter({"BDAT": 5})
    assert server.received_by(EMAILS[1]) == []
    assert server.connections == 1
    assert_consistent(server, store, items)


def test_a_partly_refused_bcc_batch_is_sent_to_no_one(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(chunking=True)
    server.fail_rcpt(EMAILS[1], "550 5.1.1 User unknown", times=None)
    server.fail_rcpt(EMAILS[4], "452 4.5.3 Too many recipients", times=None)
    batch = outgoing(store, EMAILS, now=now(), campaign=Campaign.RELEASE, bcc=True)
    report = send(batch, smtp_config(tmp_path, server), store)
    assert report.failed == 1
    assert report.deliveries[0].detail == (
        f"2 of 6 recipients refused, nothing sent: {EMAILS[1]}: 550 5.1.1 User unknown; "
        f"{EMAILS[4]}: 452 4.5.3 Too many recipients"
    )
    # with BDAT the server would deliver to the four accepted: the chunk is never written
    assert server.commands["BDAT"] == 0 and server.messages == []
    assert_consistent(server, store, batch)


def test_a_drop_after_the_chunk_leaves_only_that_message_in_doubt(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(chunking=True)
    server.drop_in_data(times=1, address=EMAILS[2])
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    # the next message's MAIL / RCPT followed the chunk on the wire: not in doubt, sent once
    # on the next connection
    assert states(store) == {e: State.IN_DOUBT if e == EMAILS[2] else State.SENT for e in EMAILS}
    assert report.in_doubt == 1 and report.sent == 5
    doubt = next(d for d in report.deliveries if d.state is State.IN_DOUBT)
    assert doubt.detail.startswith("127.0.0.1: connection lost after the data was sent")
    assert server.connections == 2
    assert [m.answered for m in server.messages if EMAILS[2] in m.rcpt_tos] == [False]
    assert_consistent(server, store, items)


def test_no_answer_in_time_after_the_chunk_is_in_doubt(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(chunking=True)
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


def test_552_to_the_chunk_fails_that_message_alone(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(chunking=True)
    server.fail_data("552 5.3.4 Message size exceeds fixed limit", times=1, address=EMAILS[3])
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.sent == 5 and report.failed == 1
    assert [d.detail for d in report.deliveries if d.state is State.FAILED] == [
        "552 5.3.4 Message size exceeds fixed limit"
    ]
    assert server.connections == 1 and server.commands == Counter({"BDAT": 6})
    assert_consistent(server, store, items)


def test_421_to_the_chunk_is_not_sent_and_goes_again_on_a_new_connection(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(chunking=True)
    server.fail_data("421 4.3.0 Queue problem, closing", times=1, address=EMAILS[2])
    items = outgoing(store, EMAILS, now=now())
    report = send(items, smtp_config(tmp_path, server), store)
    assert report.ok and report.sent == 6 and report.in_doubt == 0
    assert server.received_by(EMAILS[2]) == [items[2].message_id]
    assert_consistent(server, store, items)


def test_421_mid_pipeline_retries_what_was_not_sent(
    smtp_server: Server, tmp_path: Path, store: Store
) -> None:
    server = smtp_server(chunking=True)
    server.close_after = 2  # the third MAIL on a connection gets 421 and the connection closes
    emails = [f"j{i}@news.example" for i in range(7)]
    items = outgoing(store, emails, now=now())
    report = send(items, smtp_config(tmp_path, server, retry_initial_seconds=5.0), store)
    assert report.ok and report.sent == 7 and report.in_doubt == 0
    assert server.connections == 4 and server.commands["DATA"] == 0
    assert_consistent(server, store, items)


# --- the test server's BDAT itself (RFC 3030 section 2) ---------------------------------------


async def _talk(server: SmtpTestServer, lines: list[bytes]) -> list[bytes]:
    """Write *lines* in one go (pipelined) after EHLO; the reply lines up to QUIT's."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        await reader.readline()  # the greeting
        writer.write(b"EHLO client.test\r\n")
        while (await reader.readline())[3:4] != b" ":
            pass
        writer.writelines([*lines, b"QUIT\r\n"])
        replies = []
        while True:
            line = await asyncio.wait_for(reader.readline(), 5)
            replies.append(line.rstrip())
            if not line or line.startswith(b"221"):
                return replies
    finally:
        writer.close()


def test_the_server_consumes_the_chunk_even_when_every_recipient_was_refused(
    smtp_server: Server,
) -> None:
    """RFC 3030: a BDAT's bytes are read whatever its answer; here they contain what looks
    like commands, and none of them is taken for one."""
    server = smtp_server(chunking=True)
    server.fail_rcpt("x@news.example", "550 5.1.1 User unknown", times=None)
    chunk = b"RSET\r\nMAIL FROM:<evil@x>\r\n"
    replies = asyncio.run(
        _talk(
            server,
            [
                b"MAIL FROM:<press@city.example>\r\n",
                b"RCPT TO:<x@news.example>\r\n",
                b"BDAT %d LAST\r\n" % len(chunk),
                chunk,
                b"MAIL FROM:<press@city.example>\r\n",
                b"RCPT TO:<y@news.example>\r\n",
                b"BDAT 6\r\nab\r\n\r\n",
                b"BDAT 4 LAST\r\ncd\r\n",
            ],
        )
    )
    assert [r[:3] for r in replies] == [
        b"250",
        b"550",
        b"554",  # no valid recipients: the chunk was read and dropped
        b"250",  # the next transaction starts cleanly
        b"250",
        b"250",  # the first of two chunks
        b"250",
        b"221",
    ]
    assert [(m.rcpt_tos, m.data) for m in server.messages] == [
        (("y@news.example",), b"ab\r\n\r\ncd\r\n")
    ]
    assert server.commands == Counter({"BDAT": 3})
