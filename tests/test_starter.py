"""The starter project written by ``mailer init``: config, contacts, programme PDF, templates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from mailer.addresses import normalize_address
from mailer.config.load import load_config
from mailer.errors import MailerError
from mailer.messages.htmlfilters import links, phone
from mailer.messages.render import Renderer
from mailer.project.starter import (
    CONFIG_HEADER,
    StarterResult,
    next_event_date,
    programme_pdf,
    starter_config,
    write_starter,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
NAMES = ("invitation", "reminder", "release", "update", "cancel")
LANGS = ("fi", "sv", "en")
PARTS = ("subject.txt", "body.txt", "body.html")
TEMPLATE_FILES = [
    Path("templates", name, lang, part) for name in NAMES for lang in LANGS for part in PARTS
]
ALL_FILES = {Path("config.toml"), Path("contacts.csv"), Path("programme.pdf"), *TEMPLATE_FILES}


def helsinki(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=HELSINKI)


# --- next_event_date ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC), dt.date(2027, 6, 25)),
        (helsinki(2027, 1, 1, 0, 0), dt.date(2027, 6, 25)),
        (helsinki(2027, 6, 25, 11, 0), dt.date(2027, 6, 25)),
        (helsinki(2027, 6, 25, 11, 59), dt.date(2027, 6, 25)),
        (helsinki(2027, 6, 25, 12, 0), dt.date(2028, 6, 25)),  # starting now is not the future
        (helsinki(2027, 6, 25, 12, 30), dt.date(2028, 6, 25)),
        # 09:30 UTC is 12:30 in Helsinki (EEST): already started.
        (dt.datetime(2027, 6, 25, 9, 30, tzinfo=dt.UTC), dt.date(2028, 6, 25)),
        # 31 Dec 22:30 UTC is already 1 Jan in Helsinki.
        (dt.datetime(2027, 12, 31, 22, 30, tzinfo=dt.UTC), dt.date(2028, 6, 25)),
    ],
)
def test_next_event_date(now: dt.datetime, expected: dt.date) -> None:
    assert next_event_date(now) == expected


def test_next_event_date_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_event_date(dt.datetime(2027, 1, 1))


# --- the config --------------------------------------------------------------------------------


def test_starter_config_values() -> None:
    config = starter_config(dt.date(2027, 6, 25))
    assert set(config) == {
        "event",
        "organizer",
        "contacts",
        "invitation",
        "release",
        "transport",
        "store",
        "log",
        "vars",
    }
    assert config["event"]["start"] == "2027-06-25 12:00"
    assert config["event"]["end"] == "2027-06-25 16:00"
    assert config["event"]["timezone"] == "Europe/Helsinki"
    assert config["release"]["embargo"] == "2027-06-25 13:00"
    assert config["release"]["grace_minutes"] == 15
    assert config["transport"]["kind"] == "outbox"
    assert config["invitation"]["attachments"] == ["programme.pdf"]
    assert config["vars"] == {
        "lunch_time": "12:00",
        "seminar_start": "13:00",
        "registration_deadline": "2027-06-18",
        "speaker": "Jarkko Vesa",
        "contact_person": "Anna Niemi",
        "contact_phone": "+358 40 000 0000",
    }
    # Finnish in [event], Swedish (Karleby) and English texts in the language tables; no text
    # mentions the PDF (mailer says "Liitteenä: programme.pdf" where a message carries it).
    event = config["event"]
    assert event["sv"]["title"] == "Slutseminarium för batterikemiprojektet"
    assert event["sv"]["location"] == "Villa Elba, Karleby"
    assert event["en"]["title"] == "Final seminar of the battery chemistry project"
    assert event["en"]["location"] == "Villa Elba, Kokkola, Finland"
    assert event["description"].splitlines()[1] == (
        "12.00 lounas, 12.15–13.00 median haastattelut, 13.00 seminaari alkaa."
    )
    assert event["sv"]["description"].splitlines()[1] == (
        "12.00 lunch, 12.15–13.00 intervjuer för medierna, 13.00 seminariet börjar."
    )
    assert event["en"]["description"].splitlines()[1] == (
        "12:00 lunch, 12:15–13:00 media interviews, 13:00 the seminar opens."
    )
    for text in (event["description"], event["sv"]["description"], event["en"]["description"]):
        assert "pdf" not in text.lower() and "liite" not in text and "bilaga" not in text.lower()


def test_written_config_loads(tmp_path: Path, fixed_now: dt.datetime) -> None:
    write_starter(tmp_path, now=fixed_now)
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert text.startswith(CONFIG_HEADER)
    # [smtp] and [smtp.fallback] are there only as a commented-out example
    assert not any(line.startswith(("[smtp", "[imap")) for line in text.splitlines())

    config = load_config(tmp_path / "config.toml")

    assert config.event.start == helsinki(2027, 6, 25, 12, 0)
    assert config.event.end == helsinki(2027, 6, 25, 16, 0)
    assert config.event.location == "Villa Elba, Kokkola"
    assert config.event.description.count("\n") >= 2
    assert config.release.embargo == helsinki(2027, 6, 25, 13, 0)
    assert config.release.grace_minutes == 15
    assert config.release.prebrief_tag == "trusted"
    assert config.transport.kind == "outbox"
    assert config.smtp is None and config.imap is None
    assert config.organizer.email == "viestinta@kokkola.example"
    assert config.organizer.unsubscribe_email == "viestinta+optout@kokkola.example"
    assert config.organizer.privacy_url == "https://kokkola.example/tietosuoja"
    assert config.contacts.file == tmp_path.resolve() / "contacts.csv"
    assert config.invitation.attachments == (tmp_path.resolve() / "programme.pdf",)
    assert all(path.is_file() for path in config.invitation.attachments)
    assert config.vars["registration_deadline"] == "2027-06-18"
    assert config.templates_dir.is_dir()
    assert config.event.text("sv").location == "Villa Elba, Karleby"
    assert config.event.text("en").title == "Final seminar of the battery chemistry project"
    assert config.event.text("fi").title == "Akkukemian vetovastuuhankkeen loppuseminaari"


def test_config_is_plain_toml_with_a_readable_description(tmp_path: Path) -> None:
    write_starter(tmp_path, now=helsinki(2030, 7, 1, 9, 0))
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert data["event"]["start"] == "2031-06-25 12:00"
    assert data["vars"]["registration_deadline"] == "2031-06-18"
    assert '"""' in text  # the multi-line description is written as a multi-line string
    assert "\n[event.sv]\n" in text and "\n[event.en]\n" in text


# --- contacts.csv ------------------------------------------------------------------------------


def read_contacts(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["email", "name", "outlet", "language", "tags", "first_name"]
        return list(reader)


def test_contacts(tmp_path: Path, fixed_now: dt.datetime) -> None:
    write_starter(tmp_path, now=fixed_now)
    rows = read_contacts(tmp_path / "contacts.csv")

    assert 6 <= len(rows) <= 8
    emails = [row["email"] for row in rows]
    assert len(set(emails)) == len(emails)
    for row in rows:
        assert normalize_address(row["email"]) == row["email"]
        assert row["email"].endswith(".example")
        assert row["name"] and row["outlet"]
        assert row["language"] in LANGS
        assert all(tag and tag == tag.strip() for tag in row["tags"].split("|"))
    assert {row["language"] for row in rows} == set(LANGS)
    assert sum("trusted" in row["tags"].split("|") for row in rows) == 2
    assert any(row["first_name"] == "" for row in rows)  # greeting falls back to the full name
    names = " ".join(row["name"] for row in rows)
    assert re.search("[äö]", names) and "Å" in names


# --- programme.pdf -----------------------------------------------------------------------------


def test_programme_pdf_is_valid_and_readable() -> None:
    data = programme_pdf(dt.date(2027, 6, 25))
    assert data.startswith(b"%PDF-1.4\n")
    assert data.endswith(b"%%EOF\n")

    reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in (
        "Villa Elba",
        "Lounas",
        "Lunch",
        "Jarkko Vesa",
        "Perjantai 25.6.2027",
        "Päätössanat",
        "12.15–13.00",
        "15.45",
    ):
        assert expected in text
    assert reader.metadata is not None
    assert reader.metadata.title == "Loppuseminaarin ohjelma 25.6.2027"


def test_programme_pdf_cross_reference_table_is_exact() -> None:
    data = programme_pdf(dt.date(2028, 6, 25))
    startxref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert data[startxref:].startswith(b"xref\n0 ")
    lines = data[startxref:].split(b"\n")
    count = int(lines[1].split()[1])
    entries = lines[2 : 2 + count]
    assert entries[0] == b"0000000000 65535 f "
    for number, entry in enumerate(entries[1:], start=1):
        assert len(entry) + 1 == 20  # each entry is exactly 20 bytes with its end of line
        offset = int(entry[:10])
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    match = re.search(rb"/Length (\d+)", data)
    assert match is not None
    length = int(match.group(1))
    stream_start = data.index(b"stream\n") + len(b"stream\n")
    assert data[stream_start + length :].startswith(b"endstream")


def test_programme_pdf_follows_the_date() -> None:
    reader = pypdf.PdfReader(io.BytesIO(programme_pdf(dt.date(2028, 6, 25))), strict=True)
    text = reader.pages[0].extract_text()
    assert "Sunnuntai 25.6.2028" in text
    assert "Sunday, 25 June 2028" in text


# --- write_starter -----------------------------------------------------------------------------


def test_write_starter_writes_every_file(tmp_path: Path, fixed_now: dt.datetime) -> None:
    dest = tmp_path / "new" / "project"
    result = write_starter(dest, now=fixed_now)

    assert isinstance(result, StarterResult)
    assert result.skipped == ()
    assert {path.relative_to(dest) for path in result.written} == ALL_FILES
    assert result.written[:2] == (dest / "config.toml", dest / "programme.pdf")
    on_disk = {path.relative_to(dest) for path in dest.rglob("*") if path.is_file()}
    assert on_disk == ALL_FILES
    assert (dest / "programme.pdf").read_bytes() == programme_pdf(dt.date(2027, 6, 25))


def test_write_starter_never_overwrites(tmp_path: Path, fixed_now: dt.datetime) -> None:
    (tmp_path / "templates" / "release" / "fi").mkdir(parents=True)
    (tmp_path / "contacts.csv").write_text("mine\n", encoding="utf-8")
    (tmp_path / "templates" / "release" / "fi" / "body.txt").write_text("oma\n", encoding="utf-8")

    result = write_starter(tmp_path, now=fixed_now)

    assert result.skipped == (
        tmp_path / "contacts.csv",
        tmp_path / "templates" / "release" / "fi" / "body.txt",
    )
    assert len(result.written) == len(ALL_FILES) - 2
    assert (tmp_path / "contacts.csv").read_text(encoding="utf-8") == "mine\n"
    assert (tmp_path / "templates/release/fi/body.txt").read_text(encoding="utf-8") == "oma\n"

    again = write_starter(tmp_path, now=fixed_now)
    assert again.written == ()
    assert {path.relative_to(tmp_path) for path in again.skipped} == ALL_FILES


def test_write_starter_reports_an_unusable_destination(
    tmp_path: Path, fixed_now: dt.datetime
) -> None:
    blocker = tmp_path / "project"
    blocker.write_text("a file, not a directory", encoding="utf-8")
    with pytest.raises(MailerError, match=r"project: cannot create the project directory"):
        write_starter(blocker, now=fixed_now)


# --- templates ---------------------------------------------------------------------------------


def _date(value: dt.datetime | str, style: str = "long") -> str:
    if isinstance(value, str):
        value = dt.datetime.strptime(value, "%Y-%m-%d")
    return f"{style}:{value:%Y-%m-%d}"


def _time(value: dt.datetime) -> str:
    return f"{value:%H:%M}"


def _datetime(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


def sample_context(
    language: str, *, prebrief: bool, first_name: str = "Päivi", url: str = ""
) -> dict[str, Any]:
    start = helsinki(2027, 6, 25, 12, 0)
    return {
        "contact": {
            "email": "paivi@example.org",
            "name": "Päivi Mäki <& Co>",
            "outlet": "Keskipohjanmaa",
            "language": language,
            "tags": ["local", "trusted"],
            "first_name": first_name,
        },
        "event": {
            "title": EVENT_TITLES[language],
            "location": EVENT_PLACES[language],
            "description": "Loppuseminaari.",
            "start": start,
            "end": helsinki(2027, 6, 25, 16, 0),
            "timezone": "Europe/Helsinki",
            "zone_name": ZONE_NAMES[language],
            "url": url,
        },
        "organizer": {
            "name": "Kokkolan kaupunki / Viestintä",
            "email": "viestinta@kokkola.example",
            "privacy_url": "https://kokkola.example/tietosuoja",
            "unsubscribe_email": "viestinta+optout@kokkola.example",
        },
        "release": {"embargo": helsinki(2027, 6, 25, 13, 0)},
        "prebrief": prebrief,
        "vars": starter_config(start.date())["vars"],
        "language": language,
        "attachments": ["programme.pdf"],
        "changes": [
            {"what": "location", "label": "Paikka", "old": "Villa Elba", "new": "Uusi <&> paikka"}
        ],
    }


EVENT_TITLES = {
    "fi": "Akkukemian vetovastuuhankkeen loppuseminaari",
    "sv": "Slutseminarium för batterikemiprojektet",
    "en": "Final seminar of the battery chemistry project",
}
EVENT_PLACES = {
    "fi": "Villa Elba, Kokkola",
    "sv": "Villa Elba, Karleby",
    "en": "Villa Elba, Kokkola, Finland",
}
ZONE_NAMES = {"fi": "Suomen aikaa", "sv": "finsk tid", "en": "Finnish time"}


def render_starter(root: Path, relative: Path, context: dict[str, Any]) -> str:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=relative.suffix == ".html", keep_trailing_newline=True
    )
    env.filters.update(date=_date, time=_time, datetime=_datetime, links=links, phone=phone)
    template = env.from_string((root / relative).read_text(encoding="utf-8"))
    return template.render(context)


class _TagChecker(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


@pytest.fixture
def starter(tmp_path: Path, fixed_now: dt.datetime) -> Path:
    write_starter(tmp_path, now=fixed_now)
    return tmp_path


@pytest.mark.parametrize("relative", TEMPLATE_FILES, ids=str)
def test_template_renders_with_the_documented_context(starter: Path, relative: Path) -> None:
    language = relative.parts[2]
    for prebrief in (False, True):
        for first_name in ("Päivi", ""):
            context = sample_context(language, prebrief=prebrief, first_name=first_name)
            out = render_starter(starter, relative, context)
            assert "{{" not in out and "{%" not in out
            if relative.name == "subject.txt":
                assert "\n" not in out.strip() and out.strip()
            if relative.parts[1] != "release" and relative.name != "subject.txt":
                greeting = f"{HELLO[language]} Päivi," if first_name else NEUTRAL[language]
                assert greeting in out.splitlines()[0 if relative.suffix == ".txt" else 11]
                assert "Päivi Mäki" not in out  # never "Hei Virtanen, Matti,"
    text = (starter / relative).read_text(encoding="utf-8")
    assert text.endswith("\n")
    # The privacy and opt-out footer is appended by the code, never written in a template.
    for word in ("tietosuoja", "dataskydd", "privacy", "unsubscribe", "optout"):
        assert word not in text.lower()
    # Every fact comes from config.toml: no place, person, date, time or zone is written in.
    for fact in SAMPLE_FACTS:
        assert fact not in text, fact
    if relative.parts[1] != "release":  # only the release tells a story of its own
        for word in ("akku", "batteri", "battery", "seminaari ", "Kokkola", "Karleby"):
            assert word not in text, word


HELLO = {"fi": "Hei", "sv": "Hej", "en": "Dear"}
NEUTRAL = {"fi": "Hei,", "sv": "Hej,", "en": "Hello,"}
SAMPLE_FACTS = (
    "Villa Elba",
    "Jarkko",
    "Vesa",
    "Anna Niemi",
    "+358",
    "kokkola.example",
    "Europe/Helsinki",
    "event.timezone",
    "Suomen aikaa",
    "finsk tid",
    "Finnish time",
    "2027",
    "25.6",
    "12.00",
    "12:00",
    "13.00",
    "13:00",
    "16.00",
    "kesäkuu",
    "juni",
    "June",
)


@pytest.mark.parametrize("relative", [p for p in TEMPLATE_FILES if p.suffix == ".html"], ids=str)
def test_html_template_is_a_well_formed_document(starter: Path, relative: Path) -> None:
    out = render_starter(starter, relative, sample_context(relative.parts[2], prebrief=True))
    assert out.startswith("<!DOCTYPE html>\n")
    assert f'<html lang="{relative.parts[2]}">' in out
    checker = _TagChecker()
    checker.feed(out)
    checker.close()
    assert checker.stack == []
    assert {"html", "head", "meta", "title", "body"} <= set(checker.seen)
    if relative.parts[1] != "release":
        odd = sample_context(relative.parts[2], prebrief=False, first_name="<& Co>")
        escaped = render_starter(starter, relative, odd)
        assert "&lt;&amp; Co&gt;," in escaped and "<& Co>" not in escaped
    # A headline with the event title (the release: its own headline), the phone number
    # unbreakable, the addresses links, the footer's place inside the 600 px column.
    headline = re.search(r"<h1[^>]*>(.*?)</h1>", out)
    assert headline is not None
    if relative.parts[1] != "release":
        assert headline[1] == EVENT_TITLES[relative.parts[2]]
    assert '<span style="white-space:nowrap;">+358\u00a040\u00a0000\u00a00000</span>' in out
    assert '<a href="mailto:viestinta@kokkola.example">viestinta@kokkola.example</a>' in out
    assert re.search(
        r'<div style="max-width:600px;margin:0 auto;">\n(?:.*\n)*<!-- mailer: footer -->\n</div>\n'
        r"</body>\n</html>\n\Z",
        out,
    )
    with_url = render_starter(
        starter,
        relative,
        sample_context(relative.parts[2], prebrief=False, url="https://kokkola.example/s"),
    )
    if relative.parts[1] != "release":
        assert '<a href="https://kokkola.example/s">https://kokkola.example/s</a>' in with_url


EMBARGO_WORDS = {
    "fi": "EMBARGO: julkaisuvapaa",
    "sv": "EMBARGO: fri för publicering",
    "en": "EMBARGOED until",
}
FREE_WORDS = {"fi": "Julkaisuvapaa", "sv": "Fri för publicering", "en": "Free for publication"}


@pytest.mark.parametrize("language", LANGS)
def test_release_says_embargoed_only_in_the_prebrief(starter: Path, language: str) -> None:
    base = Path("templates", "release", language)

    def render(part: str, prebrief: bool) -> str:
        return render_starter(starter, base / part, sample_context(language, prebrief=prebrief))

    subject = render("subject.txt", True).strip()
    first_line = render("body.txt", True).splitlines()[0]
    assert subject.startswith(EMBARGO_WORDS[language])
    assert first_line.startswith(EMBARGO_WORDS[language])
    assert "long:2027-06-25" in first_line and "13:00" in first_line
    assert EMBARGO_WORDS[language] in render("body.html", True)

    normal_subject = render("subject.txt", False)
    normal_first = render("body.txt", False).splitlines()[0]
    assert "EMBARGO" not in normal_subject and "EMBARGO" not in render("body.txt", False)
    assert normal_first.startswith(FREE_WORDS[language])
    assert "long:2027-06-25" in normal_first and "13:00" in normal_first


@pytest.mark.parametrize("language", LANGS)
def test_invitation_carries_the_facts(starter: Path, language: str) -> None:
    body = render_starter(
        starter,
        Path("templates", "invitation", language, "body.txt"),
        sample_context(language, prebrief=False),
    )
    assert "Jarkko Vesa" in body
    assert "long:2027-06-18" in body  # the registration deadline
    assert "full:2027-06-25" in body
    assert EVENT_PLACES[language] in body
    assert EVENT_TITLES[language] in body
    assert f"({ZONE_NAMES[language]})" in body
    assert "Anna Niemi" in body
    assert "+358 40 000 0000" in body
    assert ("12:00" if language == "en" else "12.00") in body
    assert ("13:00" if language == "en" else "13.00") in body


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("language", LANGS)
def test_templates_render_with_the_real_renderer(starter: Path, name: str, language: str) -> None:
    renderer = Renderer(starter / "templates", default_language="fi", label_root=starter)
    renderer.check(name, {language})
    for prebrief in (False, True):
        context = {**sample_context(language, prebrief=prebrief), "_zone": HELSINKI}
        out = renderer.render(name, language, context)
        assert out.language == language
        assert out.subject and out.text.strip() and out.html
        assert "{{" not in out.text + out.html
    if name == "release":
        first = out.text.splitlines()[0]
        expected = {
            "fi": "EMBARGO: julkaisuvapaa 25. kesäkuuta 2027 klo 13.00 (Suomen aikaa).",
            "sv": "EMBARGO: fri för publicering 25 juni 2027 kl. 13.00 (finsk tid).",
            "en": "EMBARGOED until 25 June 2027, 13:00 (Finnish time).",
        }[language]
        assert first.startswith(expected)
        assert out.subject.startswith(expected.rstrip("."))
