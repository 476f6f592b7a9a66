"""Reading raw reply mail and calendar objects: mailer.rsvp.parse, .ical, .textutil."""

from __future__ import annotations

import base64
import datetime as dt
import email.message
import email.policy
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.rsvp import mimewalk
from mailer.rsvp import parse as parse_module
from mailer.rsvp.ical import read_calendar
from mailer.rsvp.mimewalk import MAX_PART_BYTES
from mailer.rsvp.parse import message_key, parse_message
from mailer.rsvp.results import PartStat
from mailer.rsvp.textutil import decode_bytes, decode_header, html_to_text, message_ids

CORPUS = Path(__file__).parent / "data" / "replies"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


# --- the corpus ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: p.name)
def test_every_corpus_message_parses(path: Path) -> None:
    parsed = parse_message(path.read_bytes())
    assert parsed.unreadable == ""
    assert parsed.envelope.key.startswith("mid:<")
    assert parsed.envelope.sender.count("@") == 1


def test_outlook_reply_headers_and_calendar_part() -> None:
    parsed = parse_message(corpus("outlook_accept_fi_comment.eml"))
    env = parsed.envelope
    assert env.subject == "Hyväksytty: Kirjaston avajaiset – mediatilaisuus"
    assert env.sender == "anna.journalisti@hs.example"
    assert env.sender_name == "Journalisti Anna"
    assert env.date == dt.datetime(2027, 3, 1, 8, 15, 22, tzinfo=dt.UTC)
    assert env.key == "mid:<HE1PR0701MB2345A1B2C3D4E5F6@HE1PR0701MB2345.eurprd07.prod.outlook.com>"
    assert len(parsed.calendars) == 1
    part = parsed.calendars[0]
    assert part.method_param == "REPLY"
    assert part.where == "text/calendar (inline)"
    assert "TZID:FLE Standard Time" in part.text
    assert parsed.text == "Tulen kuvaajan kanssa, lounaalle myös."


@pytest.mark.parametrize(
    "name",
    ["thunderbird_tentative_inline_and_attached.eml", "google_accept_other_address_guests.eml"],
)
def test_same_object_inline_and_attached_counts_once(name: str) -> None:
    assert len(parse_message(corpus(name)).calendars) == 1


def test_apple_qp_attachment_without_method_parameter() -> None:
    parsed = parse_message(corpus("apple_attachment_without_method.eml"))
    (part,) = parsed.calendars
    assert part.method_param == ""
    assert part.where == "text/calendar iCal-20270304-071200.ics"
    assert "METHOD:REPLY" in part.text
    assert "=\n" not in part.text  # quoted-printable decoded


def test_octet_stream_named_ics_is_a_calendar() -> None:
    (part,) = parse_message(corpus("octet_stream_ics_decline.eml")).calendars
    assert part.where == "application/octet-stream vastaus.ics"


def test_forwarded_calendar_keeps_the_inner_sender() -> None:
    parsed = parse_message(corpus("forwarded_message_rfc822.eml"))
    (part,) = parsed.calendars
    assert part.forwarded is True
    assert part.from_address == "gunilla.ek@svenska.example"
    assert parsed.envelope.sender == "redaktionen@svenska.example"
    assert parsed.text.startswith("Hej, Gunillas svar")  # the forward's own text only


def test_delivery_status_fields_and_returned_headers() -> None:
    parsed = parse_message(corpus("bounce_rfc3464_511.eml"))
    assert parsed.report_type == "delivery-status"
    recipient_block = dict(parsed.delivery_status[1])
    assert recipient_block["final-recipient"] == "rfc822; quentin@bbc.example"
    assert recipient_block["status"] == "5.1.1"
    assert dict(parsed.returned_headers)["message-id"] == "<inv-0017.kirjasto@kaupunki.example>"


def test_tnef_attachment_is_listed() -> None:
    parsed = parse_message(corpus("tnef_winmail_only.eml"))
    assert parsed.attachments == ("application/ms-tnef winmail.dat",)


def test_unknown_charset_is_read_as_utf8_and_noted() -> None:
    parsed = parse_message(corpus("unknown_charset.eml"))
    assert parsed.text == "Jag kommer gärna, med fotograf."
    assert parsed.envelope.subject == "Re: Inbjudan"
    assert parsed.envelope.notes == (
        "text/plain: unknown charset 'x-mystery-charset' read as UTF-8",
    )


def test_malformed_mime_is_reported_not_raised() -> None:
    parsed = parse_message(corpus("malformed_mime.eml"))
    assert parsed.structure_broken is True
    assert parsed.unreadable == ""
    assert "MIME structure is damaged" in parsed.envelope.notes[0]
    assert parsed.envelope.in_reply_to == ("<inv-0023.kirjasto@kaupunki.example>",)


# --- limits and keys -------------------------------------------------------------------------


def _message(**parts: bytes) -> bytes:
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "a@example.org"
    msg["Subject"] = "Re: Kutsu"
    msg.set_content("Tulen.")
    for name, data in parts.items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def test_key_without_message_id_is_a_hash_of_the_bytes() -> None:
    raw = _message()
    parsed = parse_message(raw)
    assert parsed.envelope.message_id == ""
    assert parsed.envelope.key == f"sha256:{hashlib.sha256(raw).hexdigest()}"
    assert message_key(raw, "<x@y>") == "mid:<x@y>"


def test_part_over_the_limit_is_skipped_and_said() -> None:
    big = b"BEGIN:VCALENDAR\r\n" + b"X" * (MAX_PART_BYTES + 10)
    parsed = parse_message(_message(**{"huge.ics": big}))
    assert parsed.calendars == ()
    assert parsed.text == "Tulen."
    assert any("huge.ics" in n and "skipped (limit 5 MB)" in n for n in parsed.envelope.notes)


def test_huge_message_is_read_for_its_headers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_module, "MAX_MESSAGE_BYTES", 200)
    raw = _message(**{"a.bin": b"x" * 500})
    parsed = parse_message(raw)
    assert parsed.envelope.subject == "Re: Kutsu"
    assert parsed.text == ""
    assert parsed.envelope.notes[0].startswith("message of 0.0 MB: only its headers were read")


def test_too_many_parts_are_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mimewalk, "MAX_PARTS", 3)
    parsed = parse_message(_message(a=b"1", b=b"2", c=b"3", d=b"4"))
    assert any("more than 3 MIME parts" in n for n in parsed.envelope.notes)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"\r\n\r\n", "empty message"),
        (b"just some text\nwithout headers\n", "no mail headers found"),
    ],
)
def test_unreadable_input(raw: bytes, reason: str) -> None:
    parsed = parse_message(raw)
    assert parsed.unreadable == reason
    assert parsed.envelope.key.startswith("sha256:")


# --- text helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "charset", "text", "note"),
    [
        ("Hyvä".encode("iso-8859-1"), "iso-8859-1", "Hyvä", ""),
        ("Hyvä".encode(), "us-ascii", "Hyvä", ""),  # mislabelled UTF-8
        ("Hyvä".encode("cp1252"), "us-ascii", "Hyvä", ""),  # mislabelled Windows-1252
        (b"abc", "base64", "abc", "unknown charset 'base64' read as UTF-8"),  # not a text codec
        (b"\xff", "utf-8", "\ufffd", ""),
        (b"ok", "x-nope", "ok", "unknown charset 'x-nope' read as UTF-8"),
    ],
)
def test_decode_bytes(data: bytes, charset: str, text: str, note: str) -> None:
    assert decode_bytes(data, charset) == (text, note)


def test_decode_header_handles_broken_words() -> None:
    assert decode_header("=?utf-8?B?SHl2w6Q=?= juttu") == "Hyvä juttu"
    assert decode_header("=?bogus?Q?abc?=") == "abc"
    assert decode_header("line\r\n\tfolded") == "line folded"


def test_message_ids() -> None:
    assert message_ids("<a@b> junk <c@d>\n <a@b>") == ("<a@b>", "<c@d>")


def test_html_to_text_drops_quotes_and_scripts() -> None:
    html = (
        "<p>Tulen</p><blockquote><p>poista minut listalta</p></blockquote>"
        "<script>x()</script><div class='gmail_quote'><div>quoted</div></div><p>Heikki</p>"
    )
    assert html_to_text(html) == "Tulen\n\nHeikki"


# --- calendar objects ------------------------------------------------------------------------


def _ics(*lines: str, method: str | None = "REPLY") -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    if method is not None:
        head.append(f"METHOD:{method}")
    return "\r\n".join([*head, "BEGIN:VEVENT", *lines, "END:VEVENT", "END:VCALENDAR", ""])


def test_exchange_reply_is_read() -> None:
    raw = parse_message(corpus("outlook_accept_fi_comment.eml")).calendars[0].text
    read = read_calendar(raw, from_address="anna.journalisti@hs.example")
    assert read.problem == ""
    assert read.methods == ("REPLY",)
    (answer,) = read.replies
    assert answer.uid == "kirjasto-2027-0001@kaupunki.example"
    assert answer.attendee == "anna.journalisti@hs.example"  # MAILTO: and case removed
    assert answer.attendee_name == "Journalisti Anna"
    assert answer.partstat is PartStat.ACCEPTED
    assert answer.dtstamp == dt.datetime(2027, 3, 1, 8, 15, 22, tzinfo=dt.UTC)
    assert answer.sequence == 0
    assert answer.comment == "Tulen kuvaajan kanssa, lounaalle myös."
    assert answer.summary == "Hyväksytty: Kirjaston avajaiset – mediatilaisuus"
    assert answer.producer == "Microsoft Exchange Server 2010"
    assert answer.from_address == "anna.journalisti@hs.example"


def test_google_guests_and_delegation() -> None:
    read = read_calendar(
        _ics(
            "UID:u1",
            "DTSTAMP:20270301T120000Z",
            "SEQUENCE:2",
            "ATTENDEE;PARTSTAT=ACCEPTED;X-NUM-GUESTS=2:mailto:a@gmail.com",
            'ATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO="mailto:c@x.example":mailto:b@x.example',
            "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:d@x.example",
        )
    )
    first, second = read.replies
    assert (first.attendee, first.guests, first.sequence) == ("a@gmail.com", 2, 2)
    assert (second.partstat, second.delegated_to, second.answer) == (
        PartStat.DELEGATED,
        "c@x.example",
        None,
    )


def test_request_and_cancel_are_not_answers() -> None:
    read = read_calendar(
        _ics("UID:u1", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.example", method="REQUEST")
    )
    assert (read.replies, read.methods, read.problem) == ((), ("REQUEST",), "")


def test_object_without_method_with_partstat_counts() -> None:
    read = read_calendar(
        _ics("UID:u1", "ATTENDEE;PARTSTAT=TENTATIVE:mailto:a@x.example", method=None)
    )
    (answer,) = read.replies
    assert (answer.method, answer.partstat) == ("", PartStat.TENTATIVE)


def test_broken_properties_are_skipped_with_a_warning() -> None:
    read = read_calendar(
        _ics(
            "UID:u1",
            "DTSTAMP:yesterday",
            "SEQUENCE:x",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:a@x.example",
        )
    )
    (answer,) = read.replies
    assert answer.dtstamp is None and answer.sequence == 0
    assert any("DTSTAMP" in w for w in read.warnings)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hello", "not an iCalendar object (no BEGIN:VCALENDAR)"),
        ("BEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\nUID:x\n", "the VEVENT is incomplete"),
        ("BEGIN:VCALENDAR\n\x00garbage\nEND:VCALENDAR", "broken iCalendar"),
    ],
)
def test_broken_calendar_objects(text: str, problem: str) -> None:
    read = read_calendar(text)
    assert problem in read.problem
    assert read.replies == ()


def test_date_only_and_floating_dtstamp_become_utc() -> None:
    read = read_calendar(
        _ics("UID:u1", "DTSTAMP:20270301T120000", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.example")
    )
    assert read.replies[0].dtstamp == dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)


# --- never raises ------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=3000))
def test_parse_never_raises_on_bytes(raw: bytes) -> None:
    parse_message(raw)


@FUZZ
@given(st.binary(max_size=2000))
def test_parse_never_raises_on_corpus_mutations(noise: bytes) -> None:
    raw = corpus("google_accept_other_address_guests.eml")
    cut = len(noise) * 7 % len(raw)
    parse_message(raw[:cut] + noise + raw[cut:])


_CTYPES = [
    "text/plain",
    "text/html",
    "text/calendar",
    "application/ics",
    "message/rfc822",
    "message/delivery-status",
    "text/rfc822-headers",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/report",
    "application/octet-stream",
    "x/y",
    "",
]
_HEADER_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@st.composite
def mime(draw: st.DrawFn, depth: int = 0) -> str:
    ctype = draw(st.sampled_from(_CTYPES))
    params = draw(
        st.sampled_from(
            [
                "",
                '; charset="x-unknown"',
                "; charset=utf-8",
                "; method=REPLY",
                '; name="a.ics"',
                '; boundary="b"',
                "; report-type=delivery-status",
                "; charset=base64",
            ]
        )
    )
    encoding = draw(st.sampled_from(["", "base64", "quoted-printable", "8bit", "x-uuencode"]))
    headers = [f"Content-Type: {ctype}{params}"]
    if encoding:
        headers.append(f"Content-Transfer-Encoding: {encoding}")
    if draw(st.booleans()):
        headers.append(f"Subject: {draw(_HEADER_TEXT)}")
    if ctype.startswith("multipart/") and depth < 3:
        subs = draw(st.lists(mime(depth + 1), max_size=3))
        body = "".join(f"--b\r\n{s}\r\n" for s in subs) + draw(st.sampled_from(["--b--", ""]))
    elif ctype == "message/rfc822" and depth < 3:
        body = "From: x@y\r\n" + draw(mime(depth + 1))
    else:
        body = draw(st.text(max_size=200))
        if draw(st.booleans()):
            body = base64.b64encode(body.encode()).decode()
    return "\r\n".join(headers) + "\r\n\r\n" + body


@FUZZ
@given(mime())
def test_parse_never_raises_on_generated_mime(text: str) -> None:
    parse_message(("From: a@b\r\nMessage-ID: <m@x>\r\n" + text).encode("utf-8", "surrogatepass"))


_PROPS = [
    "UID",
    "DTSTAMP",
    "SEQUENCE",
    "ATTENDEE",
    "ORGANIZER",
    "COMMENT",
    "SUMMARY",
    "METHOD",
    "DTSTART",
    "DTEND",
    "X-NUM-GUESTS",
    "RRULE",
    "BEGIN",
    "END",
    "TZID",
    "PRODID",
]
_PARAMS = [
    "",
    ";PARTSTAT=ACCEPTED",
    ";PARTSTAT=DECLINED",
    ";PARTSTAT=DELEGATED",
    ";X-NUM-GUESTS=x",
    ';CN="a',
    ";TZID=FLE Standard Time",
    ";VALUE=DATE",
    ";=",
    ';DELEGATED-TO="mailto:x"',
]
_VALUES = [
    "VCALENDAR",
    "VEVENT",
    "VTIMEZONE",
    "REPLY",
    "mailto:a@b",
    "20270301T120000Z",
    "20270301",
    "x",
    "",
    "-1",
    "99999999999",
    "20271399T250000",
    "a\\,b\\nc",
]


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_PROPS),
            st.sampled_from(_PARAMS),
            st.one_of(st.sampled_from(_VALUES), st.text(max_size=30)),
        ),
        max_size=40,
    )
)
def test_calendar_reader_never_raises(lines: list[tuple[str, str, str]]) -> None:
    text = "BEGIN:VCALENDAR\r\n" + "\r\n".join(f"{p}{q}:{v}" for p, q, v in lines)
    read_calendar(text)
    read_calendar(text + "\r\nEND:VCALENDAR\r\n")
