"""The event in each journalist's language, through the command line: the invitation, the
reminder, an update that says what changed, and the cancellation, read back from the outbox."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from mailer.cli import app
from tests.helpers import edit_config, make_project

runner = CliRunner()

PAIVI = "paivi.maki-jaakkola@keskipohjanmaa.example"
ASA = "asa.sjoholm@ot.example"
SARAH = "sarah.okafor@batteryinsider.example"
WHO = {"fi": PAIVI, "sv": ASA, "en": SARAH}

TITLE = {
    "fi": "Akkukemian vetovastuuhankkeen loppuseminaari",
    "sv": "Slutseminarium för batterikemiprojektet",
    "en": "Final seminar of the battery chemistry project",
}
PLACE = {
    "fi": "Villa Elba, Kokkola",
    "sv": "Villa Elba, Karleby",
    "en": "Villa Elba, Kokkola, Finland",
}
DESCRIPTION = {
    "fi": "Akkukemian temaattisen vetovastuuhankkeen loppuseminaari.\n"
    "12.00 lounas, 12.15–13.00 median haastattelut, 13.00 seminaari alkaa.",
    "sv": "Slutseminarium för det tematiska batterikemiprojektet.\n"
    "12.00 lunch, 12.15–13.00 intervjuer för medierna, 13.00 seminariet börjar.",
    "en": "Final seminar of the Battery Chemistry Thematic Lead Project.\n"
    "12:00 lunch, 12:15–13:00 media interviews, 13:00 the seminar opens.",
}
ATTACHED = {
    "fi": "Liitteenä: programme.pdf",
    "sv": "Bilaga: programme.pdf",
    "en": "Attached: programme.pdf",
}
WHEN = {
    "fi": "perjantai 25. kesäkuuta 2027 klo 12.00–16.00 (Suomen aikaa)",
    "sv": "fredag 25 juni 2027 kl. 12.00–16.00 (finsk tid)",
    "en": "Friday, 25 June 2027, 12:00–16:00 (Finnish time)",
}
# Words that say a file is attached, in any of the three languages.
ATTACHMENT_WORDS = re.compile(r"liitteen|liittein|bilaga|attached|programme\.pdf", re.IGNORECASE)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


def mailer(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def message(project: Path, round_: str, address: str) -> EmailMessage:
    (path,) = (project / "outbox").glob(f"{round_}-{address}-*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def body(msg: EmailMessage, content_type: str) -> str:
    (found,) = [p for p in msg.walk() if p.get_content_type() == content_type]
    text = found.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")


def vevent(msg: EmailMessage) -> Any:
    (found,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    (event,) = Calendar.from_ical(found.get_payload(decode=True)).walk("VEVENT")
    return event


def calendar_texts(msg: EmailMessage) -> tuple[str, str, str]:
    event = vevent(msg)
    for name in ("SUMMARY", "LOCATION", "DESCRIPTION"):
        assert event[name].params["LANGUAGE"] == msg["Content-Language"]
    return str(event["SUMMARY"]), str(event["LOCATION"]), str(event["DESCRIPTION"])


class _Column(HTMLParser):
    """The text inside the 600 px column, and the text outside it."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # open elements inside the column, the column included
        self.inside: list[str] = []
        self.outside: list[str] = []
        self.headline: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "br", "hr"):
            return
        style = dict(attrs).get("style") or ""
        if self.depth or (tag == "div" and "max-width:600px" in style):
            self.depth += 1
        self._in_h1 = tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
        self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.headline.append(data)
        if data.strip():
            (self.inside if self.depth else self.outside).append(data.strip())


def column(html: str) -> _Column:
    parser = _Column()
    parser.feed(html)
    parser.close()
    return parser


FOOTER_START = {"fi": "Tietosuojaseloste", "sv": "Dataskyddsbeskrivning", "en": "Privacy notice"}


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_the_invitation_in_each_language(project: Path, language: str) -> None:
    mailer("invite", "send", "--yes")
    msg = message(project, "invitation", WHO[language])

    assert msg["Content-Language"] == language
    assert calendar_texts(msg) == (
        TITLE[language],
        PLACE[language],
        f"{DESCRIPTION[language]}\n\n{ATTACHED[language]}",
    )
    text = body(msg, "text/plain")
    assert TITLE[language] in text and PLACE[language] in text and WHEN[language] in text
    assert "Europe/Helsinki" not in text and "Europe/Helsinki" not in body(msg, "text/html")
    html = column(body(msg, "text/html"))
    assert "".join(html.headline) == TITLE[language]
    assert html.outside == [msg["Subject"]]  # only the <title>: everything else in the column
    assert any(line.startswith(FOOTER_START[language]) for line in html.inside)


def test_swedish_says_karleby_everywhere(project: Path) -> None:
    mailer("invite", "send", "--yes")
    msg = message(project, "invitation", ASA)
    everything = body(msg, "text/plain") + body(msg, "text/html") + "".join(calendar_texts(msg))
    assert "Karleby" in everything
    # The organizer keeps its own name ([organizer] has no language tables).
    others = everything.replace("kokkola.example", "").replace("Kokkolan kaupunki / Viestintä", "")
    assert "Kokkola" not in others


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_reminder_and_cancel_mention_no_attachment(project: Path, language: str) -> None:
    mailer("invite", "send", "--yes")
    mailer("invite", "remind", "--yes")
    mailer("invite", "cancel", "--yes")
    for round_ in ("reminder", "cancel"):
        msg = message(project, round_, WHO[language])
        assert [p.get_content_type() for p in msg.walk() if not p.is_multipart()] == [
            "text/plain",
            "text/html",
            "text/calendar",
        ]
        assert calendar_texts(msg) == (TITLE[language], PLACE[language], DESCRIPTION[language])
        for part in (body(msg, "text/plain"), body(msg, "text/html")):
            assert not ATTACHMENT_WORDS.search(part), (round_, part)
    assert str(vevent(message(project, "cancel", WHO[language]))["STATUS"]) == "CANCELLED"


def move_the_event(data: dict[str, Any]) -> None:
    """One day later, an hour later, to the town hall (Swedish too; English forgotten)."""
    event = data["event"]
    event["start"] = "2027-06-26 13:00"
    event["end"] = "2027-06-26 17:00"
    event["location"] = "Kokkolan kaupungintalo"
    event["sv"]["location"] = "Karleby stadshus"


def test_update_says_what_changed_in_text_html_and_calendar(project: Path) -> None:
    mailer("invite", "send", "--yes")
    edit_config(project, move_the_event)
    result = mailer("invite", "update", "--yes")

    out = result.stdout.splitlines()
    assert (
        "Changed:      Aika: perjantai 25. kesäkuuta 2027 klo 12.00–16.00 → "
        "lauantai 26. kesäkuuta 2027 klo 13.00–17.00"
    ) in out
    assert "Changed:      Paikka: Villa Elba, Kokkola → Kokkolan kaupungintalo" in out
    assert result.stderr.splitlines() == [
        "warning: [event] location changed but [event.en] location did not; its contacts are "
        "still told 'Villa Elba, Kokkola, Finland'"
    ]

    fi = message(project, "update", PAIVI)
    text = body(fi, "text/plain")
    assert (
        "Seuraavan tilaisuuden tiedot ovat muuttuneet: "
        "Akkukemian vetovastuuhankkeen loppuseminaari.\n"
        "\n"
        "Muutokset:\n"
        "Aika: perjantai 25. kesäkuuta 2027 klo 12.00–16.00 → "
        "lauantai 26. kesäkuuta 2027 klo 13.00–17.00\n"
        "Paikka: Villa Elba, Kokkola → Kokkolan kaupungintalo\n"
        "\n"
        "Ajantasaiset tiedot:\n"
        "\n"
        "Aika: lauantai 26. kesäkuuta 2027 klo 13.00–17.00 (Suomen aikaa)\n"
        "Paikka: Kokkolan kaupungintalo\n"
    ) in text
    html = body(fi, "text/html")
    assert (
        "<li>Paikka: <s>Villa Elba, Kokkola</s> → <strong>Kokkolan kaupungintalo</strong></li>"
    ) in html
    summary, location, description = calendar_texts(fi)
    assert (summary, location) == (TITLE["fi"], "Kokkolan kaupungintalo")
    assert description == (
        "Muutokset:\n"
        "Aika: perjantai 25. kesäkuuta 2027 klo 12.00–16.00 → "
        "lauantai 26. kesäkuuta 2027 klo 13.00–17.00\n"
        "Paikka: Villa Elba, Kokkola → Kokkolan kaupungintalo\n"
        "\n"
        f"{DESCRIPTION['fi']}\n"
        "\n"
        "Liitteenä: programme.pdf"
    )
    assert int(vevent(fi)["SEQUENCE"]) == 1

    sv = message(project, "update", ASA)
    assert "Plats: Villa Elba, Karleby → Karleby stadshus\n" in body(sv, "text/plain")
    assert calendar_texts(sv)[2].startswith(
        "Ändringar:\n"
        "Tid: fredag 25 juni 2027 kl. 12.00–16.00 → lördag 26 juni 2027 kl. 13.00–17.00\n"
        "Plats: Villa Elba, Karleby → Karleby stadshus\n\n"
    )
    en = message(project, "update", SARAH)
    assert calendar_texts(en)[2].startswith(
        "What changed:\n"
        "Time: Friday, 25 June 2027, 12:00–16:00 → Saturday, 26 June 2027, 13:00–17:00\n\n"
    )
    assert "Place:" not in body(en, "text/plain")  # the English place did not change


def test_a_second_update_tells_the_change_since_the_first(project: Path) -> None:
    mailer("invite", "send", "--yes")
    edit_config(project, move_the_event)
    mailer("invite", "update", "--yes")
    edit_config(project, lambda data: data["event"].update(location="Kokkolan kirjasto"))
    mailer("invite", "update", "--yes")

    by_sequence = {}
    for path in (project / "outbox").glob(f"update-{PAIVI}-*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        by_sequence[int(vevent(msg)["SEQUENCE"])] = msg
    assert sorted(by_sequence) == [1, 2]
    text = body(by_sequence[2], "text/plain")
    assert "\nMuutokset:\nPaikka: Kokkolan kaupungintalo → Kokkolan kirjasto\n\n" in text


def test_nothing_changed_nothing_to_update(project: Path) -> None:
    mailer("invite", "send", "--yes")
    result = mailer("invite", "update", "--yes")
    assert result.stdout.splitlines() == ["Nothing to send: the updates would not change anything."]
