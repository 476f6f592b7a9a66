"""Hostile mail, sender tricks: no From header trick moves another journalist's answer.

Issue 15, finding 1: ``From: =?utf-8?b?...?= <attacker@evil.example>`` whose encoded display name
decodes to ``x <jyrki.hyvonen@yle.example>``, body "En pääse.", was recorded as Jyrki's "no".
Addresses are now read from the raw header and names decoded afterwards; an answer is applied
only when the sender's real address is the matched contact's own.

The corpus is ``tests/data/sender_tricks/*.eml`` (one trick each, all saying "En pääse."):
imported together through ``mailer rsvp import``, nobody's answer changes, and each file's
outcome, review kind and recorded sender are as listed in :data:`EXPECTED`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailer.cli import app
from mailer.models import Campaign
from mailer.rsvp.apply import ingest
from mailer.rsvp.decisions import suppress_target
from mailer.rsvp.outcomes import Outcome, ReviewKind
from mailer.rsvp.parse import parse_message
from mailer.rsvp.senders import address_key, read_sender, same_address, shown_address
from mailer.store import Store
from tests.helpers import make_project
from tests.reliability.conftest import Figures

runner = CliRunner()
TRICKS = Path(__file__).parent.parent / "data" / "sender_tricks"
JYRKI = "jyrki.hyvonen@yle.example"
ATTACKER = "attacker@evil.example"
NOW = dt.datetime(2027, 3, 2, tzinfo=dt.UTC)

_NOBODY = (ReviewKind.UNMATCHED_TEXT, "")
_JYRKI_IN_DOUBT = (ReviewKind.OTHER_SENDER, JYRKI)
# file -> (review kind, contact the review names, sender recorded)
EXPECTED: dict[str, tuple[ReviewKind, str, str]] = {
    "b_encoded_name": (*_NOBODY, ATTACKER),
    "q_encoded_name": (*_NOBODY, ATTACKER),
    "encoded_word_in_quotes": (*_NOBODY, ATTACKER),
    "angle_inside_quoted_name": (*_NOBODY, ATTACKER),
    "comment_after": (*_NOBODY, ATTACKER),
    "comment_before": (*_NOBODY, ATTACKER),
    "quoted_local_part": (*_NOBODY, f'"{JYRKI}"@evil.example'),
    "sender_header_names_victim": (*_NOBODY, ATTACKER),  # Sender: is not read; From decides
    "idn_punycode_other_domain": (*_NOBODY, "jyrki.hyvonen@xn--yl-cja.example"),
    "idn_unicode_other_domain": (*_NOBODY, "jyrki.hyvonen@ylé.example"),
    "cyrillic_e_in_domain": (*_NOBODY, "jyrki.hyvonen@yl\u0435.example"),
    "cyrillic_i_in_local_part": (*_NOBODY, "jyrk\u0456.hyvonen@yle.example"),
    "punycode_of_cyrillic_domain": (*_NOBODY, "jyrki.hyvonen@xn--yl-olc.example"),
    "fullwidth_domain": (*_NOBODY, "jyrki.hyvonen@\uff59\uff4c\uff45.example"),
    "group_empty": (*_NOBODY, ""),
    "no_address_in_from": (*_NOBODY, ""),
    "empty_from": (*_NOBODY, ""),
    "null_from": (*_NOBODY, ""),
    "missing_from": (*_NOBODY, ""),
    # the From names Jyrki, but not as one plain mailbox: in doubt, so to review
    "group_with_victim": (*_JYRKI_IN_DOUBT, JYRKI),
    "two_addresses": (*_JYRKI_IN_DOUBT, JYRKI),
    "unquoted_at_in_name": (*_JYRKI_IN_DOUBT, JYRKI),
    "two_from_headers": (*_JYRKI_IN_DOUBT, JYRKI),
}


@pytest.fixture
def invited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = make_project(tmp_path / "project")
    monkeypatch.chdir(project)
    assert runner.invoke(app, ["invite", "send", "--yes"]).exit_code == 0
    return project


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def answers() -> dict[str, tuple[str, str]]:
    rows = json.loads(ok("rsvp", "list", "--json"))
    return {r["email"]: (r["status"], r["answered_from"]) for r in rows}


def invitation_id(project: Path, email: str) -> str:
    with Store(project / "mailer.db") as store:
        entry = next(e for e in store.journal.entries(Campaign.INVITATION) if e.email == email)
    return entry.message_id


def mail(sender: str, body: str = "En pääse.", *, reply_to_id: str = "", mid: str = "m") -> bytes:
    head = [
        f"From: {sender}",
        "To: viestinta@kokkola.example",
        "Subject: Re: Kutsu",
        f"Message-ID: <{mid}@evil.example>",
        "Date: Mon, 01 Mar 2027 10:00:00 +0200",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if reply_to_id:
        head.append(f"In-Reply-To: {reply_to_id}")
    return ("\r\n".join(head) + f"\r\n\r\n{body}\r\n").encode()


def test_the_corpus_is_what_the_table_lists() -> None:
    assert sorted(p.stem for p in TRICKS.glob("*.eml")) == sorted(EXPECTED)


def test_finding_1_through_rsvp_import(invited: Path, tmp_path: Path) -> None:
    before = answers()
    out = ok("rsvp", "import", str(TRICKS / "b_encoded_name.eml"))
    assert "1 message: 1 for review" in " ".join(out.split())
    assert answers() == before  # Jyrki's answer is unchanged
    assert before[JYRKI] == ("none", "")
    listing = ok("rsvp", "review").splitlines()
    assert listing[0] == f"#1 unmatched text: {ATTACKER}"
    assert listing[1] == "  says no but matches no invitation"


def test_finding_1_as_a_reply_to_jyrkis_invitation_goes_to_review(invited: Path) -> None:
    """The same mail, now also answering Jyrki's invitation (its Message-ID in In-Reply-To)."""
    encoded = base64.b64encode(f"x <{JYRKI}>".encode()).decode()
    raw = mail(f"=?utf-8?b?{encoded}?= <{ATTACKER}>", reply_to_id=invitation_id(invited, JYRKI))
    (invited / "finding1.eml").write_bytes(raw)
    ok("rsvp", "import", str(invited / "finding1.eml"))
    assert answers()[JYRKI] == ("none", "")
    listing = ok("rsvp", "review").splitlines()
    assert listing[:2] == [
        f"#1 other sender: {JYRKI} (from {ATTACKER})",
        f"  sent from {ATTACKER}, not from {JYRKI}; it says no",
    ]


def test_the_whole_corpus_changes_nobodys_answer(invited: Path, figures: Figures) -> None:
    before = answers()
    out = ok("rsvp", "import", str(TRICKS))
    assert f"{len(EXPECTED)} messages: {len(EXPECTED)} for review" in " ".join(out.split())
    assert answers() == before
    figures.add("hostile mail", "sender tricks imported", len(EXPECTED))


def test_each_trick_goes_to_the_review_it_should(invited: Path) -> None:
    with Store(invited / "mailer.db") as store:
        for path in sorted(TRICKS.glob("*.eml")):
            report = ingest([(path.name, path.read_bytes())], store=store, now=NOW)
            (item,) = report.items
            assert item.outcome is Outcome.REVIEW, path.name
            (review,) = report.reviews
            assert (review.kind, review.email, review.sender) == EXPECTED[path.stem], path.name
        assert store.rsvps.answers() == []


def test_jyrkis_own_address_in_any_case_is_applied(invited: Path) -> None:
    """The positive control: the real address (any case, with a name) still answers."""
    (invited / "own.eml").write_bytes(mail('"Hyvönen, Jyrki" <JYRKI.Hyvonen@YLE.example>'))
    ok("rsvp", "import", str(invited / "own.eml"))
    assert answers()[JYRKI] == ("no", "jyrki.hyvonen@yle.example")


def test_from_decides_and_sender_is_not_read(invited: Path) -> None:
    """``From: jyrki`` with ``Sender: attacker`` is Jyrki's (an assistant sending on his behalf,
    or Google Calendar's ``Sender: calendar-notification@google.com``); a forged From is for
    the receiving server's DMARC check to stop, not something a header can prove."""
    raw = mail(JYRKI).replace(b"To:", f"Sender: {ATTACKER}\r\nTo:".encode())
    (invited / "sender.eml").write_bytes(raw)
    ok("rsvp", "import", str(invited / "sender.eml"))
    assert answers()[JYRKI] == ("no", JYRKI)


def test_unsubscribe_from_another_address_only_offers_to_suppress_the_sender(
    invited: Path,
) -> None:
    raw = mail(
        f"Jyrki <{ATTACKER}>",
        "Please remove me from your mailing list.",
        reply_to_id=invitation_id(invited, JYRKI),
    )
    with Store(invited / "mailer.db") as store:
        report = ingest([("u.eml", raw)], store=store, now=NOW)
    (review,) = report.reviews
    assert (review.kind, review.email, review.sender) == (ReviewKind.UNSUBSCRIBE, "", ATTACKER)
    assert review.reason == (
        f"asks to be removed: remove me from; sent from {ATTACKER}, not from {JYRKI}: "
        f"suppressing acts on {ATTACKER} only"
    )
    assert suppress_target(review) == ATTACKER


def test_an_answer_review_suppresses_the_sender_never_the_contact(invited: Path) -> None:
    raw = mail(ATTACKER, reply_to_id=invitation_id(invited, JYRKI))
    with Store(invited / "mailer.db") as store:
        (review,) = ingest([("a.eml", raw)], store=store, now=NOW).reviews
    assert (review.kind, review.email) == (ReviewKind.OTHER_SENDER, JYRKI)
    assert suppress_target(review) == ATTACKER


def dsn(sender: str, recipient: str, *, original_id: str = "", return_path: str = "") -> bytes:
    returned = f"Message-ID: {original_id}\r\n" if original_id else ""
    rp = f"Return-Path: {return_path}\r\n" if return_path else ""
    return (
        f"{rp}From: {sender}\r\nTo: viestinta@kokkola.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-"
        f"{abs(hash((sender, recipient, original_id, return_path)))}@x>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{returned}Subject: Kutsu\r\n\r\n--b--\r\n"
    ).encode()


def test_bounces_mark_only_what_a_mail_server_reports_about_our_own_recipients(
    invited: Path,
) -> None:
    jyrki_id = invitation_id(invited, JYRKI)
    cases = {
        # a report from the attacker's own address, no proof: nothing marked
        "forged.eml": dsn(ATTACKER, JYRKI),
        # a mail server reporting an address no invitation went to: nothing marked
        "never_sent.eml": dsn("MAILER-DAEMON@mx.evil.example", "someone@else.example"),
        # Jyrki's invitation returned, but the report names another address: nothing marked
        "other_address.eml": dsn("MAILER-DAEMON@mx.example", ATTACKER, original_id=jyrki_id),
    }
    with Store(invited / "mailer.db") as store:
        report = ingest(list(cases.items()), store=store, now=NOW)
        assert store.rsvps.bounced() == {}
        kinds = [(r.kind, r.email, r.sender) for r in report.reviews]
        assert kinds == [
            (ReviewKind.SUSPECT_BOUNCE, JYRKI, ATTACKER),
            (ReviewKind.UNMATCHED_BOUNCE, "", "mailer-daemon@mx.evil.example"),
            (ReviewKind.UNMATCHED_BOUNCE, "", "mailer-daemon@mx.example"),
        ]
        assert report.reviews[0].reason == (
            f"a delivery report about {JYRKI} sent from {ATTACKER}, which is not a mail "
            "server's address: nothing was marked"
        )
        assert report.reviews[2].reason == (
            f"the report about the invitation to {JYRKI} names {ATTACKER}, to which no "
            "invitation went: nothing was marked"
        )
        real = {
            "daemon.eml": dsn("Mail Delivery System <MAILER-DAEMON@mx.yle.example>", JYRKI),
            "null_path.eml": dsn("Postituspalvelu <noreply@yle.example>", JYRKI, return_path="<>"),
            "proof.eml": dsn("Outlook <noreply@yle.example>", JYRKI, original_id=jyrki_id),
        }
        for name, raw in real.items():
            (item,) = ingest([(name, raw)], store=store, now=NOW).items
            assert (item.outcome, item.contact) == (Outcome.BOUNCED, JYRKI), name


# --- the normal form of addresses -------------------------------------------------------------


def test_idn_and_punycode_compare_in_one_form() -> None:
    assert same_address("jyrki@ylé.example", "JYRKI@xn--yl-cja.example")
    assert address_key("jyrki@ylé.example") == "jyrki@xn--yl-cja.example"
    assert same_address("Jyrki.Hyvonen@YLE.example", JYRKI)


@pytest.mark.parametrize(
    "look_alike",
    [
        "jyrki.hyvonen@yl\u0435.example",  # Cyrillic е
        "jyrk\u0456.hyvonen@yle.example",  # Cyrillic і
        "jyrki.hyvonen@\uff59\uff4c\uff45.example",  # fullwidth
        "jyrki.hyvonen@xn--yl-olc.example",  # the punycode of the Cyrillic one
        "\u0458yrki.hyvonen@yle.example",  # Cyrillic ј
        "jyrki.hyvonen@yle.exam\u0440le",  # Cyrillic р in the top-level domain
    ],
)
def test_look_alike_letters_never_match(look_alike: str) -> None:
    assert not same_address(look_alike, JYRKI)


def test_the_kelvin_sign_is_not_lower_cased_into_k() -> None:
    assert "k" not in address_key("\u212aalle@x.example")  # type: ignore[operator]
    assert not same_address("\u212aalle@x.example", "kalle@x.example")


def test_non_ascii_addresses_are_shown_with_a_warning() -> None:
    assert shown_address("jyrki.hyvonen@yl\u0435.example") == (
        "jyrki.hyvonen@yl\u0435.example "
        "(letters that are not plain Latin: CYRILLIC SMALL LETTER IE)"
    )


# --- the property: the recorded sender is the address in the angle brackets -------------------

_NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=60)


def _encoded(name: str, how: str) -> str:
    data = name.encode("utf-8")
    if how == "b":
        return f"=?utf-8?b?{base64.b64encode(data).decode()}?="
    if how == "q":
        return "=?utf-8?q?" + "".join(f"={b:02X}" for b in data) + "?="
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(name=_NAMES, how=st.sampled_from(["b", "q", "quoted"]))
def test_the_sender_is_always_the_address_in_the_angle_brackets(name: str, how: str) -> None:
    raw = mail(f"{_encoded(name, how)} <{ATTACKER}>")
    env = parse_message(raw).envelope
    assert env.sender == ATTACKER
    assert read_sender([f"{_encoded(name, how)} <{ATTACKER}>"]).address == ATTACKER


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    name=st.one_of(
        _NAMES,
        st.sampled_from([f"x <{JYRKI}>", f"{JYRKI}", f"<{JYRKI}>", f"({JYRKI})", f"a: {JYRKI};"]),
    ),
    how=st.sampled_from(["b", "q", "quoted"]),
)
def test_no_display_name_ever_answers_for_jyrki(invited: Path, name: str, how: str) -> None:
    """Through the whole import (one store for all examples, each its own Message-ID)."""
    raw = mail(f"{_encoded(name, how)} <{ATTACKER}>", mid=f"p{abs(hash((name, how)))}")
    with Store(invited / "mailer.db") as store:
        report = ingest([("p.eml", raw)], store=store, now=NOW)
        assert store.rsvps.answer(JYRKI) is None
    for review in report.reviews:
        assert review.sender == ATTACKER
