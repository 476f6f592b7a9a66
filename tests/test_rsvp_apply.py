"""Ingesting replies into the real store: mailer.rsvp.apply, .fetch, mailer.store.rsvp."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailer.models import Campaign
from mailer.rsvp.apply import IngestReport, ingest
from mailer.rsvp.fetch import import_paths
from mailer.rsvp.outcomes import Outcome, ReviewKind
from mailer.rsvp.results import Kind
from mailer.store import Reservation, Store
from mailer.store.rsvp import AnswerUpdate, ImapState, ReviewDraft
from tests.conftest import FIXED_NOW

CORPUS = Path(__file__).parent / "data" / "replies"
DATA: dict[str, Any] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)


def uid(n: int) -> str:
    return f"kirjasto-2027-{n:04d}@kaupunki.example"


def mid(n: int) -> str:
    return f"<inv-{n:04d}.kirjasto@kaupunki.example>"


def invite(store: Store, contacts: list[tuple[int, str]], *, uid_of: Any = uid) -> None:
    """Journal rows as a real invitation round leaves them: reserved, claimed, sent."""
    rows = [Reservation(email, email.split("@")[0], mid(n), uid_of(n), 0) for n, email in contacts]
    store.journal.reserve(Campaign.INVITATION, 0, rows, FIXED_NOW)
    for row in rows:
        assert store.journal.claim(row.message_id, "test", FIXED_NOW)
        store.journal.mark_sent(row.message_id, FIXED_NOW, "250 ok")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "mailer.db") as opened:
        invite(opened, [(c["n"], c["email"]) for c in DATA["contact"]])
        yield opened


def corpus_messages() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.eml"))]


def test_corpus_import_outcomes(store: Store) -> None:
    report = ingest(corpus_messages(), store=store, now=NOW)
    got = {i.source: (i.kind.value, i.outcome.value, i.contact) for i in report.items}
    want = {name: (f["kind"], f["outcome"], f["contact"]) for name, f in DATA["files"].items()}
    assert got == want
    reviews = {(r.kind, r.email) for r in report.reviews}
    expected = {(f["review"], f["contact"]) for f in DATA["files"].values() if "review" in f}
    assert reviews == expected


def test_corpus_import_answers(store: Store) -> None:
    ingest(corpus_messages(), store=store, now=NOW)
    answers = {a.email: a for a in store.rsvps.answers()}
    assert sorted(answers) == sorted(DATA["answers"])
    for email, want in DATA["answers"].items():
        got = answers[email]
        for key, value in want.items():
            assert getattr(got, key) == value, (email, key)


def test_outlook_comment_extras_and_note(store: Store) -> None:
    ingest(corpus_messages(), store=store, now=NOW)
    anna = store.rsvps.answer("ANNA.journalisti@hs.example")  # any case
    assert anna is not None
    assert (anna.status, anna.guests, anna.lunch, anna.note) == (
        "yes",
        1,
        True,
        "Tulen kuvaajan kanssa, lounaalle myös.",
    )
    assert anna.stamp == dt.datetime(2027, 3, 1, 8, 15, 22, tzinfo=dt.UTC)


def test_reimport_is_idempotent(store: Store) -> None:
    first = ingest(corpus_messages(), store=store, now=NOW)
    rsvps = store.rsvps
    answers, reviews, bounces = rsvps.answers(), rsvps.reviews(), rsvps.bounces()
    again = ingest(corpus_messages(), store=store, now=NOW + dt.timedelta(hours=1))
    assert {i.outcome for i in again.items} == {Outcome.DUPLICATE}
    assert again.reviews == ()
    assert (rsvps.answers(), rsvps.reviews(), rsvps.bounces()) == (answers, reviews, bounces)
    assert [i.contact for i in again.items] == [i.contact for i in first.items]
    assert len(rsvps.messages()) == len(first.items)


def test_unmatched_uid_is_never_applied_even_from_a_contact(store: Store) -> None:
    report = ingest(
        [("x", (CORPUS / "calendar_uid_matches_nothing.eml").read_bytes())], store=store, now=NOW
    )
    rsvps = store.rsvps
    assert rsvps.answer("zoe.miller@guardian.example") is None
    (review,) = report.reviews
    assert review.kind == ReviewKind.UNMATCHED_CALENDAR
    assert review.sender == "zoe.miller@guardian.example"
    assert "matches no invitation" in review.reason
    assert "PARTSTAT: accepted" in review.lines


def test_bounces_are_recorded_and_offered_for_suppression(store: Store) -> None:
    ingest(corpus_messages(), store=store, now=NOW)
    rsvps = store.rsvps
    bounced = rsvps.bounced()
    assert sorted(bounced) == [
        "quentin@bbc.example",
        "rasmus.old@expressen.example",
        "sanna.salo@ksml.example",
    ]
    assert all(b.permanent and b.status == "5.1.1" for b in bounced.values())
    offers = [r for r in rsvps.reviews() if r.kind == ReviewKind.SUPPRESS]
    assert sorted(r.email for r in offers) == sorted(bounced)
    assert rsvps.suppressed_emails() == frozenset()  # offered, never automatic


def test_processed_messages_keep_their_classification(store: Store) -> None:
    ingest(corpus_messages(), store=store, now=NOW)
    rsvps = store.rsvps
    (record,) = rsvps.messages(kind="calendar_reply", email="carol.reporter@yle.example")
    details = json.loads(record.details)
    assert details["calendar"][0]["guests"] == 1
    assert record.received_at == dt.datetime(2027, 3, 1, 12, 3, 1, tzinfo=dt.UTC)
    autos = rsvps.messages(kind="auto_reply")
    assert len(autos) == 6 and all(a.outcome == "noted" for a in autos)


# --- the answer rules -------------------------------------------------------------------------


def _reply(
    n: int, partstat: str, stamp: str, sequence: int = 0, attendee: str = "", sender: str = ""
) -> bytes:
    who = attendee or DATA["contact"][n - 1]["email"]
    ics = (
        f"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:{uid(n)}\r\n"
        f"DTSTAMP:{stamp}\r\nSEQUENCE:{sequence}\r\n"
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{who}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return (
        f"From: {sender or who}\r\nSubject: x\r\nMessage-ID: <{partstat}{stamp}{sequence}@t>\r\n"
        f"Content-Type: text/calendar; method=REPLY\r\n\r\n{ics}"
    ).encode()


def _status(store: Store, n: int) -> str | None:
    answer = store.rsvps.answer(DATA["contact"][n - 1]["email"])
    return None if answer is None else answer.status


def _outcomes(report: IngestReport) -> list[str]:
    return [i.outcome.value for i in report.items]


def test_latest_dtstamp_wins_in_any_order(store: Store) -> None:
    later = ("later", _reply(4, "DECLINED", "20270305T100000Z"))
    earlier = ("earlier", _reply(4, "ACCEPTED", "20270304T100000Z"))
    assert _outcomes(ingest([later, earlier], store=store, now=NOW)) == ["applied", "superseded"]
    assert _status(store, 4) == "no"


def test_lower_sequence_is_ignored_even_when_newer(store: Store) -> None:
    report = ingest(
        [
            ("v1", _reply(5, "ACCEPTED", "20270301T100000Z", sequence=1)),
            ("v0", _reply(5, "DECLINED", "20270302T100000Z", sequence=0)),
            ("v2", _reply(5, "TENTATIVE", "20270228T100000Z", sequence=2)),
        ],
        store=store,
        now=NOW,
    )
    assert _outcomes(report) == ["applied", "superseded", "applied"]
    answer = store.rsvps.answer(DATA["contact"][4]["email"])
    assert answer is not None and (answer.status, answer.sequence) == ("maybe", 2)


def test_future_stamps_are_clamped_to_now(store: Store) -> None:
    ingest([("future", _reply(6, "ACCEPTED", "20991231T000000Z"))], store=store, now=NOW)
    ingest([("next", _reply(6, "DECLINED", "20270310T120000Z"))], store=store, now=NOW)
    assert _status(store, 6) == "no"


def test_manual_answer_wins_over_older_replies(store: Store) -> None:
    rsvps = store.rsvps
    email = DATA["contact"][6]["email"]
    assert rsvps.set_answer(
        AnswerUpdate(
            email=email,
            status="yes",
            source="manual",
            stamp=NOW,
            guests=2,
            lunch=True,
            note="by phone",
        ),
        NOW,
    )
    ingest([("old", _reply(7, "DECLINED", "20270301T100000Z"))], store=store, now=NOW)
    answer = rsvps.answer(email)
    assert answer is not None
    assert (answer.status, answer.guests, answer.lunch, answer.source) == ("yes", 2, True, "manual")


def test_extras_are_kept_when_a_later_answer_does_not_mention_them(store: Store) -> None:
    rsvps = store.rsvps
    email = DATA["contact"][7]["email"]
    rsvps.set_answer(
        AnswerUpdate(
            email, "yes", "text", NOW - dt.timedelta(days=2), guests=1, lunch=True, interview="Vesa"
        ),
        NOW,
    )
    rsvps.set_answer(
        AnswerUpdate(email, "yes", "calendar", NOW - dt.timedelta(days=1), sequence=0), NOW
    )
    kept = rsvps.answer(email)
    assert kept is not None and (kept.guests, kept.lunch, kept.interview) == (1, True, "Vesa")
    rsvps.set_answer(AnswerUpdate(email, "no", "text", NOW), NOW)
    gone = rsvps.answer(email)
    assert gone is not None and (gone.status, gone.guests, gone.lunch, gone.interview) == (
        "no",
        0,
        None,
        "",
    )


def test_attendee_of_another_address_from_the_contact_is_applied_with_the_sender(
    store: Store,
) -> None:
    ingest(
        [
            (
                "g",
                _reply(
                    9,
                    "ACCEPTED",
                    "20270301T100000Z",
                    attendee="private@gmail.example",
                    sender="Ingrid Berg <ingrid.berg@vasabladet.example>",
                ),
            )
        ],
        store=store,
        now=NOW,
    )
    answer = store.rsvps.answer("ingrid.berg@vasabladet.example")
    assert answer is not None and answer.from_address == "ingrid.berg@vasabladet.example"


def test_calendar_reply_sent_from_another_address_waits_for_review(store: Store) -> None:
    raw = _reply(9, "ACCEPTED", "20270301T100000Z", sender="Ingrid <private@gmail.example>")
    report = ingest([("g", raw)], store=store, now=NOW)
    assert store.rsvps.answer("ingrid.berg@vasabladet.example") is None
    (review,) = report.reviews
    assert (review.kind, review.email, review.sender) == (
        ReviewKind.OTHER_SENDER,
        "ingrid.berg@vasabladet.example",
        "private@gmail.example",
    )
    assert review.reason == (
        "sent from private@gmail.example, not from ingrid.berg@vasabladet.example; "
        "it says accepted (ingrid.berg@vasabladet.example)"
    )


def test_delegated_goes_to_review(store: Store) -> None:
    report = ingest([("d", _reply(10, "DELEGATED", "20270301T100000Z"))], store=store, now=NOW)
    assert _status(store, 10) is None
    assert [r.kind for r in report.reviews] == [ReviewKind.DELEGATED]


def test_button_and_comment_disagreeing_is_applied_and_reviewed(store: Store) -> None:
    raw = _reply(12, "ACCEPTED", "20270301T100000Z").replace(
        b"SEQUENCE:0\r\n", b"SEQUENCE:0\r\nCOMMENT:En valitettavasti p\xc3\xa4\xc3\xa4se.\r\n"
    )
    report = ingest([("c", raw)], store=store, now=NOW)
    assert _status(store, 12) == "yes"
    (review,) = report.reviews
    assert review.kind == ReviewKind.CONFLICT
    assert review.reason == "the button says yes, the comment says no"


def test_text_reply_from_a_stranger_goes_to_review(store: Store) -> None:
    raw = b"From: stranger@x.example\r\nSubject: Re: Kutsu\r\nMessage-ID: <s@x>\r\n\r\nTulen!\r\n"
    report = ingest([("s", raw)], store=store, now=NOW)
    (review,) = report.reviews
    assert (review.kind, review.sender) == (ReviewKind.UNMATCHED_TEXT, "stranger@x.example")


def test_question_with_an_answer_is_applied_and_reviewed(store: Store) -> None:
    raw = (
        f"From: {DATA['contact'][13]['email']}\r\nSubject: Re: Kutsu\r\n"
        "Message-ID: <q@x>\r\n\r\nTulen. Onko paikalla pysäköintiä?\r\n"
    ).encode()
    report = ingest([("q", raw)], store=store, now=NOW)
    assert _status(store, 14) == "yes"
    assert [(r.kind, r.lines) for r in report.reviews] == [
        (ReviewKind.QUESTION, ("Onko paikalla pysäköintiä?",))
    ]
    assert report.reviews[0].reason == (
        "the reply asks something; its answer (yes) is recorded already, so only the question "
        "waits: reply, then choose ignore"
    )


def test_bounce_without_invitation_goes_to_review(store: Store) -> None:
    raw = (
        b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <b@x>\r\nX-Failed-Recipients: nobody@else.example\r\n\r\n"
        b"550 5.1.1 nobody@else.example: User unknown\r\n"
    )
    report = ingest([("b", raw)], store=store, now=NOW)
    assert report.items[0].outcome is Outcome.REVIEW
    assert [r.kind for r in report.reviews] == [ReviewKind.UNMATCHED_BOUNCE]
    assert store.rsvps.bounces() == []


def test_uid_shared_by_several_contacts_is_matched_by_attendee(tmp_path: Path) -> None:
    with Store(tmp_path / "shared.db") as shared:
        invite(shared, [(1, "a@x.example"), (2, "b@x.example")], uid_of=lambda n: "same@k")
        raw = _reply(1, "ACCEPTED", "20270301T100000Z", attendee="b@x.example").replace(
            uid(1).encode(), b"same@k"
        )
        ingest([("r", raw)], store=shared, now=NOW)
        rsvps = shared.rsvps
        assert [a.email for a in rsvps.answers()] == ["b@x.example"]
        other = _reply(1, "ACCEPTED", "20270302T100000Z", attendee="c@x.example").replace(
            uid(1).encode(), b"same@k"
        )
        report = ingest([("r2", other)], store=shared, now=NOW)
        assert report.reviews[0].reason.endswith("belongs to several contacts")


def test_report_counts_and_progress(store: Store) -> None:
    seen: list[tuple[int, int]] = []
    report = ingest(
        corpus_messages(),
        store=store,
        now=NOW,
        progress=lambda total, done: seen.append((total, done)),
    )
    assert seen[-1] == (34, 34)
    assert report.kinds == {
        "calendar_reply": 9,
        "bounce": 4,
        "unreadable": 2,
        "text_reply": 9,
        "auto_reply": 6,
        "unknown": 1,
        "unsubscribe": 3,
    }
    assert report.outcomes == {
        "applied": 11,
        "superseded": 1,
        "bounced": 3,
        "noted": 8,
        "review": 11,
    }


def test_handled_sources_leave_unrelated_mail_alone(store: Store) -> None:
    report = ingest(corpus_messages(), store=store, now=NOW)
    handled = set(report.handled_sources)
    assert "unrelated_newsletter.eml" not in handled
    assert "calendar_uid_matches_nothing.eml" in handled
    assert "oof_lotus_domino.eml" in handled


# --- store odds and ends ----------------------------------------------------------------------


def test_suppression_list(store: Store) -> None:
    rsvps = store.rsvps
    assert rsvps.suppress("Ulla.Koski@keski.example", "asked by e-mail", NOW, source="review")
    assert not rsvps.suppress("ulla.koski@keski.example", "again", NOW)
    assert rsvps.is_suppressed("ULLA.KOSKI@keski.example")
    assert rsvps.suppressed_emails() == frozenset({"ulla.koski@keski.example"})
    (entry,) = rsvps.suppressions()
    assert (entry.reason, entry.source, entry.created_at) == ("asked by e-mail", "review", NOW)
    assert rsvps.unsuppress("ulla.koski@keski.example")
    assert rsvps.suppressions() == []


def test_review_items_can_be_resolved(store: Store) -> None:
    rsvps = store.rsvps
    item = rsvps.add_review(ReviewDraft("unclear_text", "a@x", "a@x", "why", ("line",)), NOW)
    assert [r.id for r in rsvps.reviews()] == [item]
    assert rsvps.resolve_review(item, "set yes", NOW)
    assert not rsvps.resolve_review(item, "again", NOW)
    assert rsvps.reviews() == []
    (done,) = rsvps.reviews(open_only=False)
    assert (done.resolution, done.resolved_at, done.lines) == ("set yes", NOW, ("line",))


def test_imap_state_round_trip(store: Store) -> None:
    rsvps = store.rsvps
    assert rsvps.imap_state("u@h:993", "INBOX") is None
    rsvps.save_imap_state(ImapState("u@h:993", "INBOX", 7, 42), NOW)
    rsvps.save_imap_state(ImapState("u@h:993", "INBOX", 8, 3), NOW)
    assert rsvps.imap_state("u@h:993", "INBOX") == ImapState("u@h:993", "INBOX", 8, 3)


def test_import_paths_reads_folders(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "replies" / "deeper"
    folder.mkdir(parents=True)
    for name in ("text_sv_yes_outlook_quote.eml", "unsubscribe_sv.eml"):
        (folder / name).write_bytes((CORPUS / name).read_bytes())
    report = import_paths([tmp_path / "replies"], store=store, now=NOW)
    assert [(Path(i.source).name, i.kind) for i in report.items] == [
        ("text_sv_yes_outlook_quote.eml", Kind.TEXT_REPLY),
        ("unsubscribe_sv.eml", Kind.UNSUBSCRIBE),
    ]
