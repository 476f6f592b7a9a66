"""Classifying replies: mailer.rsvp.classify, .text, .quotes, .bounce."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.rsvp.classify import classify
from mailer.rsvp.quotes import own_lines
from mailer.rsvp.results import Answer, Kind, PartStat
from mailer.rsvp.text import guest_roles, read_text_answer, reply_language

CORPUS = Path(__file__).parent / "data" / "replies"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads(
    (CORPUS / "expected.toml").read_text(encoding="utf-8")
)["files"]


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_classification(name: str) -> None:
    want = EXPECTED[name]
    c = classify((CORPUS / name).read_bytes())
    assert c.kind == Kind(want["kind"]), c.reason
    if c.kind is Kind.CALENDAR_REPLY:
        (reply,) = c.calendar
        assert reply.partstat == PartStat(want["partstat"])
        for key in ("uid", "attendee", "comment", "guests", "forwarded"):
            if key in want:
                assert getattr(reply, key) == want[key], key
    if c.kind is Kind.TEXT_REPLY:
        assert c.text is not None
        answer = c.text.answer.value if c.text.answer else ""
        assert answer == want["answer"], c.text.reason
        for key, attr in (("guests", "guests"), ("lunch", "lunch")):
            if key in want:
                assert getattr(c.text, attr) == want[key], key
        if "roles" in want:
            assert list(c.text.guest_roles) == want["roles"]
        if "interview" in want:
            assert list(c.text.interview) == want["interview"]
        if not answer:
            assert c.text.reason and c.text.lines
    if c.kind is Kind.BOUNCE:
        assert c.bounce is not None
        (recipient,) = c.bounce.recipients
        assert (recipient.address, recipient.status) == (want["recipient"], want["status"])
        assert c.bounce.original_message_id == want["original"]
    if "reason_contains" in want:
        assert want["reason_contains"] in c.reason


# --- text replies ------------------------------------------------------------------------------

ANSWERS = [
    # Finnish
    ("Tulen.", Answer.YES),
    ("Osallistun mielelläni.", Answer.YES),
    ("Olen tulossa paikalle.", Answer.YES),
    ("Kyllä kiitos, pääsen paikalle.", Answer.YES),
    ("En valitettavasti pääse.", Answer.NO),
    ("Emme ehdi tällä kertaa.", Answer.NO),
    ("Joudun perumaan, olen estynyt.", Answer.NO),
    ("En tule.", Answer.NO),
    ("Tulen ehkä.", Answer.MAYBE),
    ("Saatan tulla, vahvistan myöhemmin.", Answer.MAYBE),
    ("Yritän ehtiä.", Answer.MAYBE),
    # Swedish
    ("Jag kommer!", Answer.YES),
    ("Vi kommer gärna.", Answer.YES),
    ("Jag deltar.", Answer.YES),
    ("Jag kommer inte.", Answer.NO),
    ("Tyvärr kan jag inte komma.", Answer.NO),
    ("Jag har tyvärr inte möjlighet.", Answer.NO),
    ("Jag kommer kanske.", Answer.MAYBE),
    ("Osäker ännu, jag återkommer.", Answer.MAYBE),
    # English
    ("I'll be there.", Answer.YES),
    ("Count me in!", Answer.YES),
    ("Happy to attend.", Answer.YES),
    ("Unfortunately I can't make it.", Answer.NO),
    ("I won't be able to attend.", Answer.NO),
    ("I must decline, sorry.", Answer.NO),
    ("Maybe, depends on the news day.", Answer.MAYBE),
    ("I'll try to make it.", Answer.MAYBE),
    ("Not sure yet.", Answer.MAYBE),
]


@pytest.mark.parametrize(("text", "answer"), ANSWERS)
def test_clear_answers(text: str, answer: Answer) -> None:
    result = read_text_answer(own_lines(text))
    assert result.answer is answer, result.reason
    assert result.reason == ""


UNCLEAR = [
    ("Kiitos kutsusta!", "no clear yes, no or maybe"),
    ("Voinko tuoda kuvaajan?", "asks a question and gives no clear answer"),
    ("I'll be there, maybe with a photographer.", "both maybe and yes in the same reply"),
    ("Tulen, tai sitten en pääse.", "both no and yes in the same reply"),
    ("En ehdi lounaalle.", "no clear yes, no or maybe"),  # about lunch, not about coming
    ("", "no clear yes, no or maybe"),
]


@pytest.mark.parametrize(("text", "reason"), UNCLEAR)
def test_unclear_answers_are_never_guessed(text: str, reason: str) -> None:
    result = read_text_answer(own_lines(text))
    assert result.answer is None
    assert result.reason == reason


@pytest.mark.parametrize(
    ("text", "guests", "roles"),
    [
        ("Tulen kuvaajan kanssa.", 1, ("photographer",)),
        ("Jag kommer med fotograf.", 1, ("photographer",)),
        ("I'll be there with a photographer.", 1, ("photographer",)),
        ("Tulemme kahdestaan.", 1, ()),
        ("Osallistumme kolmella hengellä.", 2, ()),
        ("We are three, I'll be there.", 2, ()),
        ("I'll be there, +2.", 2, ()),
        ("Tulen ilman kuvaajaa.", None, ()),
        ("Tulen kollegan kanssa.", 1, ("colleague",)),
        ("Tulen.", None, ()),
    ],
)
def test_guests(text: str, guests: int | None, roles: tuple[str, ...]) -> None:
    result = read_text_answer([text])
    assert (result.guests, result.guest_roles) == (guests, roles)


@pytest.mark.parametrize(
    ("text", "lunch"),
    [
        ("Tulen, lounaalle myös.", True),
        ("Tulen, mutta en ehdi lounaalle.", False),
        ("Jag kommer och stannar på lunch.", True),
        ("Jag kommer, men ingen lunch för mig.", False),
        ("I'll be there but will skip lunch.", False),
        ("I'll be there. Is there lunch?", None),
        ("Tulen.", None),
    ],
)
def test_lunch(text: str, lunch: bool | None) -> None:
    assert read_text_answer([text]).lunch is lunch


@pytest.mark.parametrize(
    ("text", "interview"),
    [
        ("Tulen, haastattelu Vesan kanssa kiinnostaisi.", ("Vesa",)),
        ("Haluaisin haastatella pormestaria.", ("pormestari",)),
        ("Tulen. Olisiko mahdollista saada haastattelu Liisalta?", ("Liisa",)),
        ("Jag kommer. Intervju med Anna Berg vore fint.", ("Anna Berg",)),
        ("I'd like an interview with Vesa about the library.", ("Vesa",)),
        ("Tulen, mutta en tarvitse haastattelua.", ()),
        ("An interview would be nice.", ("An interview would be nice",)),
    ],
)
def test_interview_wishes(text: str, interview: tuple[str, ...]) -> None:
    assert read_text_answer([text]).interview == interview


@pytest.mark.parametrize(
    ("text", "language", "answer", "guests", "roles", "lunch", "interview"),
    [
        # Swedish "en" is "a": not the Finnish "I don't"
        ("Jag kommer med en fotograf.", "sv", Answer.YES, 1, ("photographer",), None, ()),
        ("Ja, med en fotograf.", "sv", Answer.YES, 1, ("photographer",), None, ()),
        ("Jag kommer och tar gärna en lunch.", "sv", Answer.YES, None, (), True, ()),
        (
            "Jag kommer, en intervju med Vesa vore fint.",
            "sv",
            Answer.YES,
            None,
            (),
            None,
            ("Vesa",),
        ),
        ("I'll be there with en photographer.", "en", Answer.YES, 1, ("photographer",), None, ()),
        # Finnish "en" is still a negation
        ("En pääse.", "fi", Answer.NO, None, (), None, ()),
        ("Tulen, mutta en ehdi lounaalle.", "fi", Answer.YES, None, (), False, ()),
        ("Tulen, mutta en tarvitse haastattelua.", "fi", Answer.YES, None, (), None, ()),
        ("Tulen, en tuo kuvaajaa.", "fi", Answer.YES, None, (), None, ()),
    ],
)
def test_en_is_a_negation_only_in_finnish(
    text: str,
    language: str,
    answer: Answer,
    guests: int | None,
    roles: tuple[str, ...],
    lunch: bool | None,
    interview: tuple[str, ...],
) -> None:
    assert reply_language([text]) == language
    result = read_text_answer([text])
    assert (result.answer, result.guests, result.guest_roles) == (answer, guests, roles)
    assert (result.lunch, result.interview) == (lunch, interview)


def test_the_contacts_language_decides_over_the_replys_words() -> None:
    # too short to tell by its words: read as Finnish unless the contact is Swedish
    assert reply_language(["En fotograf."]) == ""
    assert read_text_answer(["En fotograf."]).guest_roles == ()
    assert read_text_answer(["En fotograf."], language="sv").guest_roles == ("photographer",)
    assert guest_roles("med en fotograf") == ("photographer",)
    assert guest_roles("en fotograf", language="sv") == ("photographer",)
    assert guest_roles("en kuvaajaa", language="fi") == ()


def test_a_swedish_reply_with_a_photographer_is_a_yes_with_a_photographer() -> None:
    c = classify(_mail("Subject: Sv: Inbjudan", "Hej!\n\nJag kommer med en fotograf.\n\nAnna"))
    assert c.kind is Kind.TEXT_REPLY and c.text is not None
    assert (c.text.answer, c.text.guests, c.text.guest_roles) == (
        Answer.YES,
        1,
        ("photographer",),
    )


def test_interview_matched_to_known_speakers() -> None:
    result = read_text_answer(["Haluaisin haastatella Mikkoa."], speakers=["Mikko Virtanen"])
    assert result.interview == ("Mikko Virtanen",)
    result = read_text_answer(["Mikon haastattelu kiinnostaa."], speakers=["Mikko Virtanen"])
    assert result.interview == ("Mikko Virtanen",)


def test_diet_and_questions_are_kept() -> None:
    result = read_text_answer(["Tulen. Olen kasvissyöjä. Missä on parkkipaikka?"])
    assert result.answer is Answer.YES
    assert result.diet == "Olen kasvissyöjä."
    assert result.questions == ("Missä on parkkipaikka?",)


# --- quote stripping ----------------------------------------------------------------------------

QUOTED = [
    "Tulen.\n\n> Tervetuloa\n> En pääse",
    "Tulen.\n\nOn Mon, 1 Mar 2027 at 09:00, City <c@k.example> wrote:\n> I can't make it",
    "Tulen.\n\nOn Mon, 1 Mar 2027 at 09:00, City Communications\n<c@k.example> wrote:\nNo",
    "Tulen.\nma 1.3.2027 klo 9.00 Viestintä <c@k.example> kirjoitti:\nEn pääse",
    "Tulen.\nDen 1 mars 2027 kl. 09:00 skrev Viestintä <c@k.example>:\nJag kommer inte",
    "Tulen.\nLähettäjä: Viestintä <c@k.example>\nLähetetty: 1. maaliskuuta 2027 9.00\nEn pääse",
    "Tulen.\nLähetetty: 1. maaliskuuta 2027 9.00\nEn pääse",
    "Tulen.\nFrån: Viestintä\nEn pääse",
    "Tulen.\nFrom: City <c@k.example>\nSent: Monday\nTo: me\nI can't make it",
    "Tulen.\n-----Original Message-----\nI can't make it",
    "Tulen.\n-----Alkuperäinen viesti-----\nEn pääse",
    "Tulen.\n________________________________\nEn pääse",
    "Tulen.\n-- \nToimittaja, en pääse puhelimeen",
    "Tulen.\nLähetetty iPhonesta\nEn pääse",
    "Tulen.\n\nTerveisin\nAnna (en pääse puhelimeen)",
]


@pytest.mark.parametrize("text", QUOTED)
def test_quoted_text_is_stripped(text: str) -> None:
    assert own_lines(text) == ["Tulen."]
    assert read_text_answer(own_lines(text)).answer is Answer.YES


def test_a_from_line_in_the_text_is_not_a_quote() -> None:
    assert own_lines("From: the newsroom we will send two.\nTulen.") == [
        "From: the newsroom we will send two.",
        "Tulen.",
    ]


# --- auto-replies, unsubscribe, bounces ------------------------------------------------------


def _mail(headers: str, body: str = "Hello.") -> bytes:
    base = "From: A <a@x.example>\nTo: v@k.example\nMessage-ID: <m1@x.example>\n"
    return (base + headers + "\nContent-Type: text/plain; charset=utf-8\n\n" + body).encode()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Subject: Re: Kutsu\nAuto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Subject: Re: Kutsu\nX-Autorespond: yes", "x-autorespond: yes"),
        ("Subject: Re: Kutsu\nPrecedence: bulk", "Precedence: bulk"),
        ("Subject: Re: Kutsu\nPrecedence: junk", "Precedence: junk"),
        ("Subject: Automatic reply: Kutsu", "subject: Automatic reply: Kutsu"),
        ("Subject: Poissa: Kutsu", "subject: Poissa: Kutsu"),
        ("Subject: Poissa 1.-14.3.", "subject: Poissa 1.-14.3."),
        ("Subject: Frånvarande", "subject: Frånvarande"),
        ("Subject: AUTO: Anna is away", "subject: AUTO: Anna is away"),
        ("Subject: Kutsu (Automatic Response)", "subject: Kutsu (Automatic Response)"),
        ("Subject: Out of Office: Kutsu", "subject: Out of Office: Kutsu"),
    ],
)
def test_auto_replies(headers: str, reason: str) -> None:
    c = classify(_mail(headers, "Tulen takaisin maanantaina."))
    assert (c.kind, c.reason) == (Kind.AUTO_REPLY, reason)


def test_auto_submitted_no_and_suppress_header_are_not_auto_replies() -> None:
    c = classify(
        _mail("Subject: Re: Kutsu\nAuto-Submitted: no\nX-Auto-Response-Suppress: All", "Tulen.")
    )
    assert c.kind is Kind.TEXT_REPLY


@pytest.mark.parametrize(
    "body",
    [
        "Poistakaa minut postituslistalta.",
        "En halua enää saada näitä.",
        "Please unsubscribe me.",
        "Please remove me from your list.",
        "Stop sending me these.",
        "Avregistrera mig.",
        "Ta bort mig från listan.",
        "Jag vill inte längre få inbjudningar.",
    ],
)
def test_unsubscribe_phrases(body: str) -> None:
    assert classify(_mail("Subject: Re: Kutsu", body)).kind is Kind.UNSUBSCRIBE


def test_unsubscribe_in_quoted_text_does_not_count() -> None:
    c = classify(_mail("Subject: Re: Kutsu", "Tulen.\n\n> vastaa 'poista minut listalta'"))
    assert c.kind is Kind.TEXT_REPLY


def test_plain_reply_without_answer_is_a_text_reply_for_review() -> None:
    c = classify(_mail("Subject: Re: Kutsu", "Kiitos!"))
    assert c.kind is Kind.TEXT_REPLY and c.text is not None and c.text.answer is None


def test_new_mail_without_answer_is_unknown() -> None:
    assert classify(_mail("Subject: Hello", "Kiitos!")).kind is Kind.UNKNOWN


def test_counter_proposal_is_not_an_answer() -> None:
    ics = (
        "BEGIN:VCALENDAR\nMETHOD:COUNTER\nBEGIN:VEVENT\nUID:u\nATTENDEE;PARTSTAT=ACCEPTED:"
        "mailto:a@x.example\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    raw = (
        "From: a@x.example\nSubject: New time proposed\nMessage-ID: <c@x>\n"
        "Content-Type: text/calendar; method=COUNTER\n\n" + ics
    ).encode()
    c = classify(raw)
    assert c.kind is Kind.TEXT_REPLY and c.text is not None
    assert c.text.answer is None and "COUNTER" in c.text.reason


def test_exchange_ndr_with_basic_code_only() -> None:
    raw = _mail(
        "Subject: Undeliverable: Kutsu\nReturn-Path: <>\nX-MS-Exchange-Message-Is-Ndr:",
        "Delivery has failed to these recipients:\n\nbad.address@x.example\n"
        "Remote Server returned '550 Requested action not taken: mailbox unavailable'\n",
    ).replace(b"From: A <a@x.example>", b"From: postmaster@x.example")
    c = classify(raw)
    assert c.kind is Kind.BOUNCE and c.bounce is not None
    (recipient,) = c.bounce.recipients
    assert (recipient.address, recipient.status, recipient.address_failure) == (
        "bad.address@x.example",
        "5.1.1",
        True,
    )


def test_mailbox_full_is_permanent_but_not_an_address_failure() -> None:
    raw = _mail(
        "Subject: Mail delivery failed\nX-Failed-Recipients: full@x.example",
        "550 5.2.2 full@x.example: mailbox full",
    )
    c = classify(raw)
    assert c.bounce is not None
    (recipient,) = c.bounce.recipients
    assert (recipient.status, recipient.permanent, recipient.address_failure) == (
        "5.2.2",
        True,
        False,
    )


def test_a_journalist_mentioning_an_error_code_is_no_bounce() -> None:
    c = classify(_mail("Subject: Re: Kutsu", "Tulen. Edellinen viesti palautui virheellä 5.1.1."))
    assert c.kind is Kind.TEXT_REPLY


# --- never raises ------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=3000))
def test_classify_never_raises_on_bytes(raw: bytes) -> None:
    c = classify(raw)
    assert isinstance(c.kind, Kind)


@FUZZ
@given(
    st.text(max_size=400),
    st.sampled_from(["Re: Kutsu", "Automatic reply: x", "failure notice", "", "unsubscribe"]),
    st.sampled_from(
        [
            "",
            "Auto-Submitted: auto-replied\n",
            "X-Failed-Recipients: a@b\n",
            "Content-Type: multipart/report; report-type=delivery-status\n",
        ]
    ),
)
def test_classify_never_raises_on_generated_mail(body: str, subject: str, extra: str) -> None:
    raw = f"From: MAILER-DAEMON@x\nSubject: {subject}\n{extra}\n{body}"
    c = classify(raw.encode("utf-8", "surrogatepass"))
    assert isinstance(c.kind, Kind)


@FUZZ
@given(st.lists(st.text(max_size=120), max_size=30))
def test_text_reader_never_raises(lines: list[str]) -> None:
    read_text_answer(own_lines("\n".join(lines)))
