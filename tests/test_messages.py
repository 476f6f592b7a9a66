"""The invitation message, read back the way mail and calendar clients read it.

Three readers: the standard library (``policy.default``), icalendar for the calendar part, and
an independent mail parser (``mail-parser``). Plus the golden file of the first Finnish
invitation of the starter project.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email
import logging
import os
import re
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import mailparser  # the "mail-parser" package (test extra)
import pytest
from icalendar import Calendar

from mailer.config.load import load_config
from mailer.config.model import Config
from mailer.contacts.book import load_contacts
from mailer.errors import AttachmentError
from mailer.messages.mime import Footer, MessageSpec, build_message, load_attachments
from mailer.messages.plan import Plan, build_plan, invitation_spec
from mailer.models import Campaign, Contact, Outgoing
from mailer.store import Reservation, Store
from tests.conftest import FIXED_NOW
from tests.helpers import config_path, make_project, set_keys, write_contacts

logging.getLogger("mailparser").setLevel(logging.ERROR)  # "Email content 'calendar' not handled"

GOLDEN = Path(__file__).parent / "data" / "golden" / "invitation-fi.eml"
GOLDEN_MESSAGE_ID = "<golden-invitation-1@kokkola.example>"
GOLDEN_UID = "20270625-akkukemian-vetovastuuhankkeen-loppusemin-GOLDEN@kokkola.example"
PAIVI = "paivi.maki-jaakkola@keskipohjanmaa.example"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def load(project: Path) -> tuple[Config, tuple[Contact, ...]]:
    config = load_config(config_path(project))
    book = load_contacts(config.contacts.file, default_language="fi", label="contacts.csv")
    return config, book.contacts


def plan(
    project: Path,
    *,
    only: str | None = None,
    ids: dict[str, tuple[str, str]] | None = None,
    now: dt.datetime = FIXED_NOW,
) -> Plan:
    """The invitation plan; *ids* fixes Message-ID and UID per address (reserved in a journal)."""
    config, contacts = load(project)
    if only is not None:
        contacts = tuple(c for c in contacts if c.email == only)
    with Store(config.store_path) as store:
        if ids:
            store.journal.reserve(
                Campaign.INVITATION,
                0,
                [Reservation(email, "", mid, uid, 0) for email, (mid, uid) in ids.items()],
                now,
            )
        return build_plan(config, contacts, invitation_spec(config), now=now, store=store)


def first_finnish(project: Path) -> Outgoing:
    found = plan(project, only=PAIVI, ids={PAIVI: (GOLDEN_MESSAGE_ID, GOLDEN_UID)})
    assert len(found.items) == 1
    return found.items[0]


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def leaves(msg: EmailMessage) -> list[EmailMessage]:
    return [p for p in msg.walk() if not p.is_multipart()]  # type: ignore[misc]


def part(msg: EmailMessage, content_type: str) -> EmailMessage:
    found = [p for p in leaves(msg) if p.get_content_type() == content_type]
    assert len(found) == 1, [p.get_content_type() for p in leaves(msg)]
    return found[0]


def calendar_of(msg: EmailMessage) -> tuple[Calendar, Any]:
    data = part(msg, "text/calendar").get_payload(decode=True)
    assert isinstance(data, bytes)
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


# --- structure -----------------------------------------------------------------------------------


def test_mime_structure(project: Path) -> None:
    msg = parse(first_finnish(project).data)
    assert msg.get_content_type() == "multipart/mixed"
    children = list(msg.iter_parts())
    assert [c.get_content_type() for c in children] == ["multipart/alternative", "application/pdf"]
    alternative = children[0]
    assert [c.get_content_type() for c in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    text, html, cal = alternative.iter_parts()
    assert text.get_content_charset() == "utf-8"
    assert html.get_content_charset() == "utf-8"
    assert cal.get_param("method") == "REQUEST"
    assert cal.get_param("charset") == "UTF-8"
    assert cal.get_content_disposition() is None  # inline: the part that makes the buttons


def test_calendar_method_agrees_with_the_content_type(project: Path) -> None:
    msg = parse(first_finnish(project).data)
    cal, _ = calendar_of(msg)
    assert str(cal["METHOD"]) == part(msg, "text/calendar").get_param("method") == "REQUEST"


def test_programme_attachment_has_the_exact_bytes(project: Path) -> None:
    msg = parse(first_finnish(project).data)
    pdf = part(msg, "application/pdf")
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_filename() == "programme.pdf"
    assert pdf.get_payload(decode=True) == (project / "programme.pdf").read_bytes()


def test_crlf_line_endings_and_short_lines(project: Path) -> None:
    data = first_finnish(project).data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


# --- headers -------------------------------------------------------------------------------------


def test_headers(project: Path) -> None:
    item = first_finnish(project)
    msg = parse(item.data)
    sender = msg["From"].addresses
    assert len(sender) == 1
    assert sender[0].addr_spec == "viestinta@kokkola.example"
    assert sender[0].display_name == "Kokkolan kaupunki / Viestintä"
    to = msg["To"].addresses
    assert len(to) == 1
    assert (to[0].display_name, to[0].addr_spec) == ("Päivi Mäki-Jaakkola", PAIVI)
    assert msg["Cc"] is None and msg["Bcc"] is None
    assert msg["Subject"] == (
        "Kutsu medialle: Akkukemian vetovastuuhankkeen loppuseminaari 25. kesäkuuta 2027"
    )
    assert msg["Date"].datetime == FIXED_NOW
    assert msg["Message-ID"] == GOLDEN_MESSAGE_ID == item.message_id
    assert msg["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    # Too long for one line, so folded before its value; the parser keeps that space.
    assert msg["List-Unsubscribe"].strip() == (
        "<mailto:viestinta+optout@kokkola.example?subject=unsubscribe>"
    )
    assert msg["MIME-Version"] == "1.0"
    assert msg["Content-Language"] == "fi"
    assert item.recipients == (PAIVI,)
    assert item.sender == "viestinta@kokkola.example"
    assert item.ics_uid == GOLDEN_UID


def test_message_ids_and_uids_are_unique(project: Path) -> None:
    found = plan(project)
    assert len(found.items) == 7
    mids = {parse(i.data)["Message-ID"] for i in found.items}
    uids = {str(calendar_of(parse(i.data))[1]["UID"]) for i in found.items}
    assert len(mids) == len(uids) == 7
    for item in found.items:
        assert item.message_id.endswith("@kokkola.example>")
        assert item.ics_uid is not None
        assert item.ics_uid.startswith("20270625-akkukemian-")
        assert item.ics_uid.endswith("@kokkola.example")
        prefix = "20270625-akkukemian-vetovastuuhankkeen-loppusemin-"
        unguessable = item.ics_uid.removeprefix(prefix).removesuffix("@kokkola.example")
        assert len(unguessable) >= 20


@pytest.mark.parametrize(
    "subject",
    [
        "Kutsu medialle: Akkukemian temaattisen vetovastuuhankkeen loppuseminaari Villa Elbassa "
        "perjantaina 25. kesäkuuta 2027 klo 12.00 – tervetuloa haastattelemaan puhujia ennen "
        "seminaarin alkua",
        "Inbjudan till medierna: slutseminariet för batterikemiprojektet på Villa Elba i Karleby "
        "fredag 25 juni 2027 kl. 12.00, välkomna att intervjua talarna före seminariet",
        "Invitation for the media: final seminar of the battery chemistry project at Villa Elba, "
        "Kokkola, on Friday 25 June 2027 at 12:00",
        "Ääkköset: " + " ".join(["ä" * 30] * 4),
        "Looks encoded =?utf-8?q?x?= but is not",
    ],
)
def test_long_subject_decodes_exactly(project: Path, subject: str) -> None:
    template = project / "templates" / "invitation" / "fi" / "subject.txt"
    template.write_text(subject + "\n", encoding="utf-8")
    data = first_finnish(project).data
    assert parse(data)["Subject"] == subject
    assert "  " not in parse(data)["Subject"]
    raw = email.message_from_bytes(data, policy=policy.compat32)["Subject"]
    decoded = str(email.header.make_header(email.header.decode_header(raw.replace("\r\n", ""))))
    assert decoded == subject
    # mail-parser does not unfold plain folded lines; unfolding is removing the CRLF.
    assert mailparser.parse_from_bytes(data).subject.replace("\r\n", "") == subject


def test_subject_template_with_a_line_break_gives_one_header(project: Path) -> None:
    template = project / "templates" / "invitation" / "fi" / "subject.txt"
    template.write_text("Kutsu\nBcc: everyone@example.org\r\n{{ event.title }}\n", encoding="utf-8")
    data = first_finnish(project).data
    msg = parse(data)
    assert msg["Bcc"] is None
    assert msg["Subject"] == (
        "Kutsu Bcc: everyone@example.org Akkukemian vetovastuuhankkeen loppuseminaari"
    )
    header_block = data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^Bcc:", header_block, flags=re.MULTILINE)


def test_contact_name_with_line_break_is_refused_in_contacts_csv(project: Path) -> None:
    write_contacts(
        project,
        text=('email,name,language\r\nevil@x.example,"Evil\r\nBcc: everyone@example.org",fi\r\n'),
    )
    config = load_config(config_path(project))
    book = load_contacts(config.contacts.file, default_language="fi", label="contacts.csv")
    assert book.contacts == ()
    assert [str(p) for p in book.errors] == [
        "contacts.csv:2: column 'name': line break inside the cell (cells must be a single line)"
    ]


@pytest.mark.parametrize("field", ["to_name", "from_name", "to_email", "subject", "message_id"])
def test_build_message_never_writes_a_line_break_into_a_header(field: str) -> None:
    spec = MessageSpec(
        from_name="Org",
        from_email="org@x.example",
        to_name="A",
        to_email="a@x.example",
        subject="Hi",
        text="t",
        html=None,
        message_id="<1@x.example>",
        date=FIXED_NOW,
        language="fi",
    )
    bad = dataclasses.replace(spec, **{field: getattr(spec, field) + "\r\nBcc: v@x.example"})
    with pytest.raises(ValueError, match=r"CR|linefeed|carriage return"):
        build_message(bad)


# --- the body and its footer ---------------------------------------------------------------------


def test_footer_in_text_and_html(project: Path) -> None:
    msg = parse(first_finnish(project).data)
    text = part(msg, "text/plain").get_content().replace("\r\n", "\n")
    html = part(msg, "text/html").get_content()
    assert text.startswith("Hei Päivi,\n")
    assert text.endswith(
        "\n-- \n"
        "Tietosuojaseloste: https://kokkola.example/tietosuoja\n"
        "Jos et halua enää saada median tiedotteitamme, vastaa tähän viestiin tai kirjoita"
        " osoitteeseen viestinta+optout@kokkola.example.\n"
    )
    assert (
        'Tietosuojaseloste: <a href="https://kokkola.example/tietosuoja">'
        "https://kokkola.example/tietosuoja</a><br>Jos et halua enää saada median tiedotteitamme,"
        " vastaa tähän viestiin tai kirjoita osoitteeseen"
        ' <a href="mailto:viestinta+optout@kokkola.example">viestinta+optout@kokkola.example</a>.'
    ) in html
    # Inside the 600 px content column of the template, after the signature.
    assert containers(html, "Tietosuojaseloste") == ["html", "body", "div:600px", "p"]
    assert html.index("puh.") < html.index("Tietosuojaseloste")
    assert "<!-- mailer: footer -->" not in html


def test_footer_without_the_mark_gets_a_column_of_its_own(project: Path) -> None:
    path = project / "templates" / "invitation" / "fi" / "body.html"
    path.write_text(
        "<html><body><table><tr><td>Hei!</td></tr></table></body></html>\n", encoding="utf-8"
    )
    html = part(parse(first_finnish(project).data), "text/html").get_content()
    assert containers(html, "Tietosuojaseloste") == ["html", "body", "div:600px", "p"]
    assert containers(html, "Hei!") == ["html", "body", "table", "tr", "td"]


def test_footer_goes_where_the_mark_is(project: Path) -> None:
    path = project / "templates" / "invitation" / "fi" / "body.html"
    path.write_text(
        "<html><body><table><tr><td>Hei!<!-- mailer: footer --></td></tr></table></body></html>\n",
        encoding="utf-8",
    )
    html = part(parse(first_finnish(project).data), "text/html").get_content()
    assert containers(html, "Tietosuojaseloste") == ["html", "body", "table", "tr", "td", "p"]


class _Where(HTMLParser):
    """The open elements around the first text containing *needle* (a div with a max-width
    is written ``div:600px``)."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle = needle
        self.stack: list[str] = []
        self.found: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        style = dict(attrs).get("style") or ""
        width = re.search(r"max-width:\s*(\d+px)", style)
        self.stack.append(f"{tag}:{width[1]}" if tag == "div" and width else tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID:
            assert self.stack and self.stack[-1].split(":")[0] == tag, (tag, self.stack)
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.found is None and self.needle in data:
            self.found = list(self.stack)


def containers(html: str, needle: str) -> list[str]:
    parser = _Where(needle)
    parser.feed(html)
    parser.close()
    assert parser.found is not None, f"{needle!r} not in the HTML"
    return parser.found


def test_swedish_contact_gets_swedish_text_and_footer(project: Path) -> None:
    item = plan(project, only="asa.sjoholm@ot.example").items[0]
    msg = parse(item.data)
    assert msg["Content-Language"] == "sv"
    text = part(msg, "text/plain").get_content()
    assert "Dataskyddsbeskrivning: https://kokkola.example/tietosuoja" in text
    assert "25 juni 2027" in text


def test_no_footer_and_no_list_unsubscribe_when_not_configured(project: Path) -> None:
    set_keys(project, "organizer", privacy_url="", unsubscribe_email="")
    msg = parse(first_finnish(project).data)
    assert msg["List-Unsubscribe"] is None
    assert "-- \n" not in part(msg, "text/plain").get_content()
    assert "<hr" not in part(msg, "text/html").get_content()


def test_footer_lines() -> None:
    footer = Footer("https://x.example/privacy", "optout@x.example")
    assert footer.lines("en") == [
        "Privacy notice: https://x.example/privacy",
        "To stop receiving our media mailings, reply to this message or write to optout@x.example.",
    ]
    assert footer.lines("de") == footer.lines("en")
    assert Footer("", "").lines("fi") == []


def test_contact_name_is_escaped_in_html_only(project: Path) -> None:
    write_contacts(
        project, [{"email": "b@x.example", "name": "<b>&", "first_name": "<b>&", "language": "fi"}]
    )
    msg = parse(plan(project).items[0].data)
    assert "Hei <b>&," in part(msg, "text/plain").get_content()
    assert "Hei &lt;b&gt;&amp;," in part(msg, "text/html").get_content()
    assert msg["To"].addresses[0].display_name == "<b>&"


# --- the calendar part, as a calendar client reads it --------------------------------------------


def test_calendar_fields(project: Path) -> None:
    msg = parse(first_finnish(project).data)
    cal, ev = calendar_of(msg)
    assert str(ev["UID"]) == GOLDEN_UID
    assert int(ev["SEQUENCE"]) == 0
    assert ev["DTSTAMP"].dt == FIXED_NOW
    assert ev["DTSTART"].dt.astimezone(dt.UTC) == dt.datetime(2027, 6, 25, 9, 0, tzinfo=dt.UTC)
    assert ev["DTEND"].dt.astimezone(dt.UTC) == dt.datetime(2027, 6, 25, 13, 0, tzinfo=dt.UTC)
    assert ev["DTSTART"].params["TZID"] == "Europe/Helsinki"
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Europe/Helsinki"]
    assert str(ev["SUMMARY"]) == "Akkukemian vetovastuuhankkeen loppuseminaari"
    assert str(ev["LOCATION"]) == "Villa Elba, Kokkola"
    assert str(ev["DESCRIPTION"]).startswith("Akkukemian temaattisen vetovastuuhankkeen")
    assert str(ev["ORGANIZER"]) == "mailto:viestinta@kokkola.example"
    assert str(ev["ORGANIZER"].params["CN"]) == "Kokkolan kaupunki / Viestintä"
    attendee = ev["ATTENDEE"]
    assert not isinstance(attendee, list)
    assert str(attendee) == f"mailto:{PAIVI}"
    assert str(attendee.params["CN"]) == "Päivi Mäki-Jaakkola"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "TRUE"


def test_attendee_matches_the_to_address_in_every_message(project: Path) -> None:
    for item in plan(project).items:
        msg = parse(item.data)
        (to,) = msg["To"].addresses
        _, ev = calendar_of(msg)
        attendee = ev["ATTENDEE"]
        assert not isinstance(attendee, list)
        assert str(attendee) == f"mailto:{to.addr_spec}"
        assert str(ev["ORGANIZER"]) == f"mailto:{msg['From'].addresses[0].addr_spec}"


def test_ics_attachment_when_configured(project: Path) -> None:
    set_keys(project, "invitation", ics_attachment=True)
    msg = parse(first_finnish(project).data)
    assert [c.get_content_type() for c in msg.iter_parts()] == [
        "multipart/alternative",
        "application/pdf",
        "application/ics",
    ]
    ics = part(msg, "application/ics")
    assert ics.get_filename() == "invite.ics"
    assert ics.get_payload(decode=True) == part(msg, "text/calendar").get_payload(decode=True)


def test_without_html_and_attachments(project: Path) -> None:
    set_keys(project, "invitation", attachments=[])
    for language in ("fi", "sv", "en"):
        (project / "templates" / "invitation" / language / "body.html").unlink()
    msg = parse(first_finnish(project).data)
    assert msg.get_content_type() == "multipart/alternative"
    assert [c.get_content_type() for c in msg.iter_parts()] == ["text/plain", "text/calendar"]


# --- a second, independent parser ----------------------------------------------------------------


def test_second_parser_reads_the_same_message(project: Path) -> None:
    data = first_finnish(project).data
    mail = mailparser.parse_from_bytes(data)
    assert not mail.has_defects, mail.defects
    assert mail.from_ == [("Kokkolan kaupunki / Viestintä", "viestinta@kokkola.example")]
    assert mail.to == [("Päivi Mäki-Jaakkola", PAIVI)]
    assert mail.subject == (
        "Kutsu medialle: Akkukemian vetovastuuhankkeen loppuseminaari 25. kesäkuuta 2027"
    )
    assert mail.message_id == GOLDEN_MESSAGE_ID
    assert mail.date == FIXED_NOW.replace(tzinfo=None) or mail.date == FIXED_NOW
    assert mail.headers["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert mail.headers["List-Unsubscribe"] == (
        "<mailto:viestinta+optout@kokkola.example?subject=unsubscribe>"
    )
    (text,) = mail.text_plain
    assert text.replace("\r\n", "\n").startswith("Hei Päivi,\n")
    assert "Tietosuojaseloste: https://kokkola.example/tietosuoja" in text
    (html,) = mail.text_html
    assert 'Tietosuojaseloste: <a href="https://kokkola.example/tietosuoja">' in html
    (pdf,) = mail.attachments
    assert pdf["filename"] == "programme.pdf"
    assert pdf["mail_content_type"] == "application/pdf"
    assert pdf["binary"] is True
    assert base64.b64decode(pdf["payload"]) == (project / "programme.pdf").read_bytes()
    # mail-parser hands the calendar part over as text it does not interpret.
    (calendar_text,) = mail.text_not_managed
    cal = Calendar.from_ical(calendar_text)
    (ev,) = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(ev["UID"]) == GOLDEN_UID
    assert str(ev["ATTENDEE"]) == f"mailto:{PAIVI}"


# --- attachments ---------------------------------------------------------------------------------


def test_missing_attachment(project: Path) -> None:
    with pytest.raises(AttachmentError) as info:
        load_attachments(
            [project / "agenda.pdf"], max_mb=1, label_root=project, key="[invitation] attachments"
        )
    assert str(info.value) == (
        "agenda.pdf: no such file (listed in config.toml [invitation] attachments)"
    )


def test_attachment_that_is_a_folder(project: Path) -> None:
    with pytest.raises(AttachmentError) as info:
        load_attachments(
            [project / "templates"], max_mb=1, label_root=project, key="[invitation] attachments"
        )
    assert str(info.value) == "templates: is a folder, not a file ([invitation] attachments)"


def test_attachment_too_large(project: Path) -> None:
    big = project / "video.mp4"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))
    with pytest.raises(AttachmentError) as info:
        load_attachments([big], max_mb=2, label_root=project, key="[invitation] attachments")
    assert str(info.value) == (
        "video.mp4: 3.0 MB is larger than the limit of 2 MB ([invitation] max_attachment_mb)"
    )


def test_attachment_content_types() -> None:
    assert [a.content_type for a in _types("a.pdf", "b.docx", "c.png", "d.unknownext")] == [
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "image/png",
        "application/octet-stream",
    ]


def _types(*names: str) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name in names:
            path = Path(tmp) / name
            path.write_bytes(b"x")
            paths.append(path)
        return load_attachments(paths, max_mb=1, label_root=Path(tmp), key="k")


# --- the golden message --------------------------------------------------------------------------


def _normalise_calendar(match: re.Match[bytes]) -> bytes:
    ics = base64.b64decode(match[2])
    ics = re.sub(rb"DTSTAMP:\d{8}T\d{6}Z", b"DTSTAMP:20000101T000000Z", ics)
    ics = re.sub(rb"PRODID:-//mailer//mailer [^/]+//EN", b"PRODID:-//mailer//mailer X//EN", ics)
    encoded = base64.encodebytes(ics).replace(b"\n", b"\r\n")
    return match[1] + encoded + match[3]


def normalise(data: bytes) -> bytes:
    """Fix what changes between runs: boundaries, Date, Message-ID, DTSTAMP, version."""
    for number, boundary in enumerate(dict.fromkeys(re.findall(rb'boundary="([^"]+)"', data))):
        data = data.replace(boundary, b"BOUNDARY-%d" % number)
    data = re.sub(rb"(?m)^Date: [^\r\n]*", b"Date: Sat, 01 Jan 2000 00:00:00 +0000", data)
    data = re.sub(rb"(?m)^Message-ID: [^\r\n]*", b"Message-ID: <normalised@kokkola.example>", data)
    return re.sub(
        rb"(Content-Type: text/calendar[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n)"
        rb"([A-Za-z0-9+/=\r\n]+?\r\n)(\r\n--)",
        _normalise_calendar,
        data,
    )


def test_normalise_is_stable(project: Path) -> None:
    one = plan(project, only=PAIVI, now=FIXED_NOW).items[0].data
    other_now = FIXED_NOW + dt.timedelta(hours=5)
    two = plan(project, only=PAIVI, now=other_now).items[0].data  # same journal row, later
    assert one != two
    assert normalise(one) == normalise(two)


def test_golden_invitation(project: Path) -> None:
    actual = normalise(first_finnish(project).data)
    if os.environ.get("MAILER_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(actual)
        pytest.skip(f"wrote {GOLDEN}; inspect it, then run the tests again without the variable")
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} is missing: run with MAILER_UPDATE_GOLDEN=1 and inspect it")
    expected = GOLDEN.read_bytes()
    if actual != expected:
        assert actual.decode("utf-8").splitlines() == expected.decode("utf-8").splitlines()
    assert actual == expected


def test_golden_file_is_a_message_a_client_opens() -> None:
    if not GOLDEN.exists():
        pytest.skip("no golden file yet")
    msg = parse(GOLDEN.read_bytes())
    assert msg["To"].addresses[0].addr_spec == PAIVI
    _, ev = calendar_of(msg)
    assert str(ev["UID"]) == GOLDEN_UID
