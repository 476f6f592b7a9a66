"""Fetching replies from a real Dovecot IMAP server: mailer.rsvp.imap, mailer.rsvp.fetch."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.errors import InboxError
from mailer.models import Campaign
from mailer.rsvp.fetch import fetch_and_ingest
from mailer.rsvp.imap import account_label, fetch_new, move_processed, quote_mailbox
from mailer.store import Reservation, Store
from tests.conftest import FIXED_NOW
from tests.fixtures_imap import DovecotServer

pytestmark = pytest.mark.imap

CORPUS = Path(__file__).parent / "data" / "replies"
NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)
FILES = [
    "outlook_accept_fi_comment.eml",
    "text_fi_yes_photographer_interview.eml",
    "unrelated_newsletter.eml",
]


def raw(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def same(a: bytes, b: bytes) -> bool:
    """Dovecot serves Maildir files with CRLF line ends."""
    return a.replace(b"\r\n", b"\n") == b.replace(b"\r\n", b"\n")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "mailer.db") as opened:
        rows = [
            Reservation(
                "anna.journalisti@hs.example",
                "Anna",
                "<inv-0001.kirjasto@kaupunki.example>",
                "kirjasto-2027-0001@kaupunki.example",
                0,
            ),
            Reservation(
                "heikki.kuvaaja@ess.example",
                "Heikki",
                "<inv-0008.kirjasto@kaupunki.example>",
                "kirjasto-2027-0008@kaupunki.example",
                0,
            ),
        ]
        opened.journal.reserve(Campaign.INVITATION, 0, rows, FIXED_NOW)
        for row in rows:
            opened.journal.claim(row.message_id, "t", FIXED_NOW)
            opened.journal.mark_sent(row.message_id, FIXED_NOW)
        yield opened


def fill(dovecot: DovecotServer) -> None:
    for name in FILES:
        dovecot.deliver(raw(name))


def test_fetch_from_a_filled_maildir(dovecot: DovecotServer) -> None:
    for name in FILES:
        dovecot.drop(raw(name))  # files written straight into Maildir/new
    result = fetch_new(dovecot.imap_config(), password=dovecot.password, state=None)
    assert sorted(m.uid for m in result.messages) == [1, 2, 3]
    assert sorted(m.raw.replace(b"\r\n", b"\n") for m in result.messages) == sorted(
        raw(n).replace(b"\r\n", b"\n") for n in FILES
    )
    assert result.state.last_uid == 3


def test_fetch_reads_everything_then_nothing_new(dovecot: DovecotServer) -> None:
    fill(dovecot)
    cfg = dovecot.imap_config()
    first = fetch_new(cfg, password=dovecot.password, state=None)
    assert first.reset is True
    assert [m.uid for m in first.messages] == [1, 2, 3]
    assert all(same(m.raw, raw(n)) for m, n in zip(first.messages, FILES, strict=True))
    assert first.messages[0].source == "imap:INBOX/1"
    assert first.state.uidvalidity == dovecot.uidvalidity()
    assert (first.state.last_uid, first.state.account) == (3, account_label(cfg))
    second = fetch_new(cfg, password=dovecot.password, state=first.state)
    assert (second.messages, second.reset, second.state) == ((), False, first.state)
    dovecot.deliver(raw("text_sv_yes_outlook_quote.eml"))
    third = fetch_new(cfg, password=dovecot.password, state=second.state)
    assert [m.uid for m in third.messages] == [4]
    assert same(third.messages[0].raw, raw("text_sv_yes_outlook_quote.eml"))


def test_flags_are_not_altered(dovecot: DovecotServer) -> None:
    unread = dovecot.deliver(raw(FILES[0]))
    read = dovecot.deliver(raw(FILES[1]), seen=True)
    dovecot.drop(raw(FILES[2]))
    before = dovecot.flags()
    fetch_new(dovecot.imap_config(), password=dovecot.password, state=None)
    flags = dovecot.flags()
    assert len(flags) == 3
    assert "\\Seen" not in flags[unread]
    assert "\\Seen" in flags[read]
    assert all("\\Seen" not in f for uid, f in flags.items() if uid != read)
    assert {u: f - {"\\Recent"} for u, f in flags.items()} == {
        u: f - {"\\Recent"} for u, f in before.items()
    }
    assert all("\\Deleted" not in f for f in flags.values())


def test_uidvalidity_change_starts_over(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot)
    cfg = dovecot.imap_config()
    first = fetch_and_ingest(cfg, password=dovecot.password, store=store, now=NOW)
    assert (first.fetched, first.reset) == (3, True)
    dovecot.set_uidvalidity(first.state.uidvalidity + 17)
    again = fetch_and_ingest(cfg, password=dovecot.password, store=store, now=NOW)
    assert (again.fetched, again.reset) == (3, True)
    assert again.state.uidvalidity == first.state.uidvalidity + 17
    assert {i.outcome.value for i in again.ingest.items} == {"duplicate"}
    saved = store.rsvps.imap_state(account_label(cfg), "INBOX")
    assert saved == again.state


def test_fetch_and_ingest_applies_answers(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot)
    seen: list[tuple[int, int]] = []
    report = fetch_and_ingest(
        dovecot.imap_config(security="tls"),
        password=dovecot.password,
        store=store,
        now=NOW,
        progress=lambda t, d: seen.append((t, d)),
    )
    assert seen == [(3, 0), (3, 3)]
    assert report.ingest.outcomes == {"applied": 2, "noted": 1}
    assert report.moved is None
    answers = {a.email: a.status for a in store.rsvps.answers()}
    assert answers == {"anna.journalisti@hs.example": "yes", "heikki.kuvaaja@ess.example": "yes"}
    nothing = fetch_and_ingest(
        dovecot.imap_config(security="tls"), password=dovecot.password, store=store, now=NOW
    )
    assert (nothing.fetched, nothing.ingest.items) == (0, ())


def test_batches(dovecot: DovecotServer) -> None:
    for _ in range(7):
        dovecot.deliver(raw(FILES[2]))
    seen: list[tuple[int, int]] = []
    result = fetch_new(
        dovecot.imap_config(),
        password=dovecot.password,
        state=None,
        progress=lambda t, d: seen.append((t, d)),
        batch_size=3,
    )
    assert len(result.messages) == 7
    assert seen == [(7, 0), (7, 3), (7, 6), (7, 7)]


def test_processed_folder_only_when_configured(dovecot: DovecotServer, store: Store) -> None:
    fill(dovecot)
    ids = dovecot.messages()
    plain = fetch_and_ingest(dovecot.imap_config(), password=dovecot.password, store=store, now=NOW)
    assert plain.moved is None
    assert dovecot.messages() == ids


def test_processed_folder_moves_only_handled_mail(dovecot: DovecotServer, tmp_path: Path) -> None:
    fill(dovecot)
    with Store(tmp_path / "m.db") as fresh:
        fresh.journal.reserve(
            Campaign.INVITATION,
            0,
            [
                Reservation(
                    "heikki.kuvaaja@ess.example",
                    "H",
                    "<inv-0008.kirjasto@kaupunki.example>",
                    "u8",
                    0,
                )
            ],
            FIXED_NOW,
        )
        cfg = dovecot.imap_config(processed_folder="Käsitellyt vastaukset")
        report = fetch_and_ingest(cfg, password=dovecot.password, store=fresh, now=NOW)
    assert report.moved is not None
    assert (report.moved.moved, report.moved.method) == (2, "move")
    assert dovecot.messages() == ["<nl-2027-03@vendor.example>"]
    moved = dovecot.messages("Käsitellyt vastaukset")
    assert sorted(moved) == sorted(
        [
            "<CAF=kq7sXyZ8R2vK1@mail.gmail.com>",
            "<HE1PR0701MB2345A1B2C3D4E5F6@HE1PR0701MB2345.eurprd07.prod.outlook.com>",
        ]
    )
    assert all("\\Seen" not in f for f in dovecot.flags("Käsitellyt vastaukset").values())


def test_move_refuses_when_uidvalidity_changed(dovecot: DovecotServer) -> None:
    fill(dovecot)
    cfg = dovecot.imap_config(processed_folder="Done")
    result = fetch_new(cfg, password=dovecot.password, state=None)
    dovecot.set_uidvalidity(result.state.uidvalidity + 1)
    with pytest.raises(InboxError, match="changed \\(UIDVALIDITY\\) since it was read"):
        move_processed(
            cfg, password=dovecot.password, uidvalidity=result.state.uidvalidity, uids=[1]
        )
    assert len(dovecot.messages()) == 3


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_server_with_unconfigured_ca_is_refused(dovecot: DovecotServer, security: str) -> None:
    cfg = dovecot.imap_config(security=security, ca_file=None)  # system CAs only
    with pytest.raises(InboxError, match="certificate is not trusted") as info:
        fetch_new(cfg, password=dovecot.password, state=None)
    assert "ca_file" in (info.value.hint or "")


def test_server_with_another_ca_is_refused(dovecot: DovecotServer, tmp_path: Path) -> None:
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(InboxError, match="certificate is not trusted"):
        fetch_new(dovecot.imap_config(ca_file=other), password=dovecot.password, state=None)


def test_wrong_password(dovecot: DovecotServer) -> None:
    with pytest.raises(InboxError, match="AUTHENTICATIONFAILED"):
        fetch_new(dovecot.imap_config(), password="wrong", state=None)


def test_missing_folder(dovecot: DovecotServer) -> None:
    with pytest.raises(InboxError, match="cannot open folder 'Nope'"):
        fetch_new(dovecot.imap_config(folder="Nope"), password=dovecot.password, state=None)


def test_plain_imap_only_to_loopback(dovecot: DovecotServer) -> None:
    dovecot.deliver(raw(FILES[0]))
    cfg = dovecot.imap_config(security="none", ca_file=None)
    assert len(fetch_new(cfg, password=dovecot.password, state=None).messages) == 1
    remote = dataclasses.replace(cfg, host="imap.example.org")
    with pytest.raises(InboxError, match="clear text"):
        fetch_new(remote, password=dovecot.password, state=None)


def test_large_messages_are_fetched_headers_only(dovecot: DovecotServer) -> None:
    dovecot.deliver(raw("text_fi_maybe.eml"))  # small
    dovecot.deliver(raw("outlook_accept_fi_comment.eml"))  # about 4 kB
    cfg = dovecot.imap_config()  # max_bytes: [rsvp] max_message_bytes
    small, large = fetch_new(cfg, password=dovecot.password, state=None, max_bytes=1500).messages
    assert (small.headers_only, large.headers_only) == (False, True)
    assert b"Subject:" in large.raw and b"BEGIN:VCALENDAR" not in large.raw
    assert large.size > 1500


def test_cannot_connect() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from mailer.config.model import ImapConfig

    cfg = ImapConfig("127.0.0.1", port, "tls", "u", "", "", "", None, False, "INBOX", "", 2.0)
    # the reason in words, not an errno number
    with pytest.raises(
        InboxError, match=f"imap 127.0.0.1:{port}: cannot connect: Connection refused$"
    ):
        fetch_new(cfg, password="x", state=None)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("INBOX", '"INBOX"'),
        ("Käsitellyt", '"K&AOQ-sitellyt"'),
        ("A&B", '"A&-B"'),
        ('Say "hi"', '"Say \\"hi\\""'),
        ("日本", '"&ZeVnLA-"'),
    ],
)
def test_quote_mailbox(name: str, quoted: str) -> None:
    assert quote_mailbox(name) == quoted


def test_missing_dovecot_skips_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import fixtures_imap

    monkeypatch.setattr(fixtures_imap, "dovecot_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="dovecot is not installed"):
        fixtures_imap.require_dovecot()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set, so this test must not be skipped"):
        fixtures_imap.require_dovecot()
