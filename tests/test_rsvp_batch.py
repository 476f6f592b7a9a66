"""Ingesting in batches (mailer.rsvp.apply.ingest): duplicates, crashes, resuming, the record."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.errors import InboxError
from mailer.rsvp import apply
from mailer.rsvp.apply import details_json, ingest
from mailer.rsvp.classify import classify
from mailer.rsvp.outcomes import Outcome
from mailer.store import Store
from mailer.store.rsvp import Rsvps
from tests.test_rsvp_apply import CORPUS, DATA, NOW, corpus_messages, invite


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "mailer.db") as opened:
        invite(opened, [(c["n"], c["email"]) for c in DATA["contact"]])
        yield opened


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apply, "BATCH_MESSAGES", 5)


def _no_write_transaction_left(path: Path) -> None:
    """The store holds no write lock: the test's own connection can write at once."""
    with contextlib.closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")


def _state(store: Store) -> tuple[object, ...]:
    rsvps = store.rsvps
    messages = [(m.key, m.kind, m.outcome, m.email) for m in rsvps.messages()]
    reviews = [(r.message_key, r.kind, r.email, r.reason) for r in rsvps.reviews(open_only=False)]
    answers = [dataclasses.replace(a, updated_at=NOW) for a in rsvps.answers()]
    return messages, reviews, answers, rsvps.bounces()


@pytest.mark.usefixtures("small_batches")
def test_small_batches_give_the_same_outcomes(store: Store, tmp_path: Path) -> None:
    report = ingest(corpus_messages(), store=store, now=NOW)
    got = {i.source: (i.kind.value, i.outcome.value, i.contact) for i in report.items}
    assert got == {
        name: (f["kind"], f["outcome"], f["contact"]) for name, f in DATA["files"].items()
    }
    with Store(tmp_path / "whole.db") as whole:
        invite(whole, [(c["n"], c["email"]) for c in DATA["contact"]])
        ingest(corpus_messages(), store=whole, now=NOW)
        assert _state(whole) == _state(store)


@pytest.mark.parametrize("batch", [1, 3, 200])
def test_copies_in_one_batch_count_once(
    store: Store, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(apply, "BATCH_MESSAGES", batch)
    raw = (CORPUS / "google_decline_later.eml").read_bytes()
    report = ingest([("a", raw), ("b", raw), ("c", raw)], store=store, now=NOW)
    assert [i.outcome for i in report.items] == [
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
    ]
    assert report.items[1].detail == "seen before (a)"
    assert len(store.rsvps.messages()) == 1


@pytest.mark.usefixtures("small_batches")
def test_a_crash_keeps_whole_batches_and_a_rerun_resumes(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = Rsvps.record
    calls = 0

    def record(self: Rsvps, outcome: object, now: dt.datetime) -> object:
        nonlocal calls
        calls += 1
        if calls == 13:  # the third message of the third batch
            raise KeyboardInterrupt
        return real(self, outcome, now)  # type: ignore[arg-type]

    monkeypatch.setattr(Rsvps, "record", record)
    with pytest.raises(KeyboardInterrupt):
        ingest(corpus_messages(), store=store, now=NOW)
    assert len(store.rsvps.messages()) == 10  # two whole batches, none of the third
    _no_write_transaction_left(store.path)
    monkeypatch.setattr(Rsvps, "record", real)
    again = ingest(corpus_messages(), store=store, now=NOW)
    assert [i.outcome for i in again.items[:10]] == [Outcome.DUPLICATE] * 10
    assert Outcome.DUPLICATE not in {i.outcome for i in again.items[10:]}
    with Store(tmp_path / "whole.db") as whole:
        invite(whole, [(c["n"], c["email"]) for c in DATA["contact"]])
        ingest(corpus_messages(), store=whole, now=NOW)
        assert _state(whole) == _state(store)


@pytest.mark.usefixtures("small_batches")
def test_what_was_read_before_an_input_error_is_recorded(store: Store) -> None:
    def sources() -> Iterator[tuple[str, bytes]]:
        yield from corpus_messages()[:7]
        raise InboxError("inbox.mbox: cannot read message 8: gone")

    with pytest.raises(InboxError, match="message 8"):
        ingest(sources(), store=store, now=NOW)
    assert len(store.rsvps.messages()) == 7


def test_details_are_the_classification_as_json() -> None:
    for _name, raw in corpus_messages():
        c = classify(raw)
        want = json.dumps(
            dataclasses.asdict(c),
            ensure_ascii=False,
            sort_keys=True,
            default=lambda v: v.isoformat() if isinstance(v, dt.datetime) else str(v),
        )
        assert details_json(c) == want
