"""The import reads each message within a time and a size budget (mailer/rsvp/budget.py).

A message that takes longer than ``[rsvp] parse_budget_seconds`` to read goes to review as "too
complex to read", one larger than ``[rsvp] max_message_bytes`` as "too large to read", and the
import goes on with the next message; ``rsvp fetch`` moves past both and never reads them again.

The slow message is real hostile mail, not a stand-in: a calendar reply of 9,000 lines of 40
parameters each (1.8 MB), which icalendar reads in about 4 s of CPU time. The patterns of our
own readers are linear (test_linear_time.py); this is what the budget is for.
"""

from __future__ import annotations

import datetime as dt
import mailbox
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.rsvp import sources
from mailer.rsvp.apply import ingest
from mailer.rsvp.budget import HEADER_BYTES, BudgetReader, ReadLimits
from mailer.rsvp.imap import account_label
from mailer.rsvp.results import Kind
from mailer.store import Store
from tests.fixtures_imap import DovecotServer
from tests.helpers import make_project

NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)
BUDGET = 1.0
runner = CliRunner()


def slow_mail(mid: str = "<slow@yle.example>") -> bytes:
    junk = ("X;A=b" * 40 + "\r\n") * 9_000
    return (
        "From: Jyrki <jyrki@yle.example>\r\nSubject: Re: Kutsu\r\n"
        f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
        "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        f"{junk}END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def reply(text: str = "Kiitos kutsusta.", mid: str = "<ok@yle.example>") -> bytes:
    return (
        f"From: Anna <anna@hs.example>\r\nSubject: Re: Kutsu\r\nMessage-ID: {mid}\r\n\r\n{text}\r\n"
    ).encode()


def large_mail(size: int) -> bytes:
    return (
        "From: Anna <anna@hs.example>\r\nSubject: Re: Kutsu (the whole programme attached)\r\n"
        "Message-ID: <large@hs.example>\r\n\r\n" + "x" * 76 + "\r\n"
    ).encode() * 1 + (("y" * 76 + "\r\n") * (size // 78)).encode()


def test_a_slow_message_is_stopped_and_the_next_is_read() -> None:
    with BudgetReader(ReadLimits(budget_seconds=BUDGET)) as reader:
        began = time.monotonic()
        slow = reader.classify(slow_mail())
        took = time.monotonic() - began
        after = reader.classify(reply("Kyllä tulen."))  # a new worker
    assert slow.kind is Kind.UNREADABLE
    assert slow.reason == ("too complex to read: not read within 1 s ([rsvp] parse_budget_seconds)")
    assert slow.lines == ("From: Jyrki <jyrki@yle.example>", "Subject: Re: Kutsu")
    assert slow.envelope.key.startswith("sha256:")
    assert took < BUDGET + 3.0  # the budget, killing the worker, no more
    assert after.kind is Kind.TEXT_REPLY
    assert after.text is not None and after.text.answer is not None
    assert after.text.answer.value == "yes"


def test_a_large_message_is_not_parsed() -> None:
    raw = large_mail(300_000)
    with BudgetReader(ReadLimits(max_message_bytes=100_000)) as reader:
        result = reader.classify(raw)
        headers_only = reader.classify(raw[:200], size=5_000_000)  # as IMAP gives it
    assert result.kind is Kind.UNREADABLE
    assert result.reason == (
        "too large to read (0.3 MB; [rsvp] max_message_bytes is 0.1 MB): only its headers were read"
    )
    assert result.envelope.key == "mid:<large@hs.example>"  # the same key however it arrives
    assert result.envelope.size == len(raw)
    assert result.lines == (
        "From: anna@hs.example",
        "Subject: Re: Kutsu (the whole programme attached)",
        "Message-ID: <large@hs.example>",
    )
    assert headers_only.envelope.key == "mid:<large@hs.example>"
    assert headers_only.envelope.size == 5_000_000


def test_ingest_records_the_slow_message_for_review_and_goes_on(tmp_path: Path) -> None:
    written: list[list[str]] = []
    with Store(tmp_path / "mailer.db") as store:
        report = ingest(
            [("slow.eml", slow_mail()), ("ok.eml", reply())],
            store=store,
            now=NOW,
            limits=ReadLimits(budget_seconds=BUDGET),
            written=written.append,
        )
        assert [(i.source, i.outcome.value) for i in report.items] == [
            ("slow.eml", "review"),
            ("ok.eml", "noted"),  # nobody was invited in this journal: recorded, no answer
        ]
        assert [r.reason for r in report.reviews] == [
            "too complex to read: not read within 1 s ([rsvp] parse_budget_seconds)"
        ]
        assert written == [["slow.eml", "ok.eml"]]
        again = ingest([("slow.eml", slow_mail())], store=store, now=NOW, limits=ReadLimits(BUDGET))
        assert [i.outcome.value for i in again.items] == ["duplicate"]


def test_rsvp_import_with_the_budget_in_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    config = project / "config.toml"
    config.write_text(
        config.read_text() + "\n[rsvp]\nparse_budget_seconds = 1\nmax_message_bytes = 3_000_000\n"
    )
    replies = project / "replies"
    replies.mkdir()
    (replies / "1-slow.eml").write_bytes(slow_mail())  # 1.8 MB: under the size limit
    (replies / "2-large.eml").write_bytes(large_mail(3_500_000))
    (replies / "3-reply.eml").write_bytes(reply())
    began = time.monotonic()
    result = runner.invoke(app, ["rsvp", "import", str(replies)])
    took = time.monotonic() - began
    assert result.exit_code == 0, result.output
    assert took < 30
    assert result.stdout.splitlines()[-2] == ("3 messages: 1 noted (no answer), 2 for review")
    assert "[rsvp]" in result.stdout  # shown as written, not taken for rich markup
    with Store(project / "mailer.db", read_only=True) as store:
        reasons = sorted(r.reason for r in store.rsvps.reviews(open_only=True))
    assert reasons == [
        "too complex to read: not read within 1 s ([rsvp] parse_budget_seconds)",
        "too large to read (3.3 MB; [rsvp] max_message_bytes is 2.9 MB): only its headers were "
        "read",
    ]


def test_rsvp_import_reads_no_more_than_the_limit_of_eml_mbox_and_maildir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message over [rsvp] max_message_bytes in an .eml file, an mbox or a Maildir is read
    for its start only and goes to review as "too large to read"; the others are read."""
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    config = project / "config.toml"
    config.write_text(config.read_text() + "\n[rsvp]\nmax_message_bytes = 65_536\n")
    replies = project / "replies"
    replies.mkdir()
    (replies / "large.eml").write_bytes(large_mail(300_000))
    box = mailbox.mbox(replies / "export.mbox")
    box.add(large_mail(200_000).replace(b"<large@", b"<large-mbox@"))
    box.add(reply(mid="<mbox@hs.example>"))
    box.close()
    maildir = mailbox.Maildir(replies / "Maildir")
    maildir.add(mailbox.MaildirMessage(large_mail(100_000).replace(b"<large@", b"<large-md@")))
    maildir.add(mailbox.MaildirMessage(reply(mid="<md@hs.example>")))
    read: list[int] = []
    real = sources._Limit.take

    def take(self: sources._Limit, label: str, data: bytes, size: int) -> tuple[str, bytes]:
        read.append(len(data))
        return real(self, label, data, size)

    monkeypatch.setattr(sources._Limit, "take", take)
    result = runner.invoke(app, ["rsvp", "import", str(replies)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2] == "5 messages: 2 noted (no answer), 3 for review"
    assert max(read) <= HEADER_BYTES  # what was read of the large ones: their start only
    with Store(project / "mailer.db", read_only=True) as store:
        reasons = sorted(r.reason for r in store.rsvps.reviews(open_only=True))
    limit = "[rsvp] max_message_bytes is 0.1 MB): only its headers were read"
    assert reasons == [
        f"too large to read (0.1 MB; {limit}",
        f"too large to read (0.2 MB; {limit}",
        f"too large to read (0.3 MB; {limit}",
    ]


def test_bad_budget_in_config_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    config = project / "config.toml"
    config.write_text(config.read_text() + "\n[rsvp]\nparse_budget_seconds = 0\n")
    result = runner.invoke(app, ["rsvp", "import", str(project)])
    assert result.exit_code == 1
    assert result.output.count("\n") <= 2, result.output
    assert "[rsvp] parse_budget_seconds" in result.output
    assert "Traceback" not in result.output


@pytest.mark.imap
def test_fetch_moves_past_a_hostile_message(dovecot: DovecotServer, tmp_path: Path) -> None:
    from mailer.rsvp.fetch import fetch_and_ingest

    dovecot.deliver(slow_mail())
    dovecot.deliver(large_mail(3_500_000))
    dovecot.deliver(reply())
    cfg = dovecot.imap_config()
    limits = ReadLimits(budget_seconds=BUDGET, max_message_bytes=3_000_000)
    with Store(tmp_path / "mailer.db") as store:
        began = time.monotonic()
        first = fetch_and_ingest(
            cfg, password=dovecot.password, store=store, now=NOW, limits=limits
        )
        took = time.monotonic() - began
        assert first.fetched == 3
        assert first.headers_only == (f"imap:{cfg.folder}/2",)  # only its header came over
        assert [i.outcome.value for i in first.ingest.items] == ["review", "review", "noted"]
        reasons = sorted(r.reason for r in first.ingest.reviews)
        assert reasons[0].startswith("too complex to read: not read within 1 s")
        assert reasons[1].startswith("too large to read (")
        assert took < 30
        saved = store.rsvps.imap_state(account_label(cfg), cfg.folder)
        assert saved is not None and saved.last_uid == 3
        second = fetch_and_ingest(
            cfg, password=dovecot.password, store=store, now=NOW, limits=limits
        )
        assert (second.fetched, second.ingest.items) == (0, ())


@pytest.mark.imap
def test_fetch_saves_its_place_after_each_recorded_group(
    dovecot: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fetch stopped half-way (Ctrl-C, a killed cron job) goes on after what was recorded: the
    recorded messages are never downloaded and read again."""
    from mailer.rsvp import apply
    from mailer.rsvp.fetch import fetch_and_ingest

    for number in range(3):
        dovecot.deliver(reply(mid=f"<m{number}@hs.example>"))
    monkeypatch.setattr(apply, "BATCH_MESSAGES", 1)  # one message per transaction
    real = BudgetReader.classify
    calls: list[int] = []

    def stopping(self: BudgetReader, raw: bytes, *, size: int | None = None) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the officer's Ctrl-C while the third is read
        return real(self, raw, size=size)

    monkeypatch.setattr(BudgetReader, "classify", stopping)
    cfg = dovecot.imap_config()
    with Store(tmp_path / "mailer.db") as store:
        with pytest.raises(KeyboardInterrupt):
            fetch_and_ingest(cfg, password=dovecot.password, store=store, now=NOW)
        saved = store.rsvps.imap_state(account_label(cfg), cfg.folder)
        assert saved is not None and saved.last_uid == 2
        monkeypatch.setattr(BudgetReader, "classify", real)
        rest = fetch_and_ingest(cfg, password=dovecot.password, store=store, now=NOW)
        assert rest.fetched == 1
        assert [i.source for i in rest.ingest.items] == [f"imap:{cfg.folder}/3"]
