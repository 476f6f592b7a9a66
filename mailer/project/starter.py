"""The starter project that ``mailer init DIR`` writes.

A complete, working example built on a real case: the media are invited to the final seminar of
a battery-chemistry project at Villa Elba, Kokkola, on 25 June (lunch at 12:00, interviews with
the speakers before the seminar opens at 13:00), and the press release is embargoed until 13:00.
Every address uses the reserved ``.example`` domain, so nothing in the starter can reach a real
mailbox. Existing files are never overwritten. contacts.csv and config.toml (names and
addresses) are written 0600, the rest 0644 and the folders 0755, whatever the umask (less
only when the umask takes more away).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import tomli_w

from mailer.errors import MailerError
from mailer.project.files import PRIVATE, SHARED, make_folders, write_new
from mailer.timeutil import load_zone, localize

TIMEZONE = "Europe/Helsinki"
EVENT_MONTH = 6
EVENT_DAY = 25
EVENT_START = dt.time(12, 0)  # lunch
INTERVIEWS = dt.time(12, 15)  # the media interview the speakers until the seminar opens
EVENT_END = dt.time(16, 0)
EMBARGO = dt.time(13, 0)  # the seminar opens and the release is free for publication
REGISTRATION_DAYS_BEFORE = 7

CONFIG_NAME = "config.toml"
PROGRAMME_NAME = "programme.pdf"
_PERSONAL = frozenset({"contacts.csv", CONFIG_NAME})  # written 0600: names and addresses
CONFIG_HEADER = "# mailer project. Reference: README.md#configuration\n"
# To send for real (docs/smtp-imap.md), and a second relay for the release (docs/release.md).
CONFIG_FOOTER = """
# To send for real: set [transport] kind = "smtp" and uncomment [smtp] (docs/smtp-imap.md).
# [smtp]
# preset = "microsoft365"
# username = "viestinta@example.fi"
#
# A second relay for the embargoed release only, used when the one above cannot be reached,
# refuses the login or throttles at the embargo (docs/release.md#fallback). Its password comes
# from its own password_env, keyring_service or password_command.
# [smtp.fallback]
# host = "relay.example.fi"
# port = 587
# username = "tiedotteet"
# password_env = "MAILER_RELAY_PASSWORD"
"""


@dataclass(frozen=True)
class StarterResult:
    """What :func:`write_starter` did: files created, and files left alone because they exist."""

    written: tuple[Path, ...]
    skipped: tuple[Path, ...]


def next_event_date(now: dt.datetime) -> dt.date:
    """The first 25 June whose event start (12:00 in Helsinki) is still after *now*."""
    if now.tzinfo is None:
        raise ValueError("next_event_date needs an aware datetime")
    zone = load_zone(TIMEZONE)
    year = now.astimezone(zone).year
    while True:
        day = dt.date(year, EVENT_MONTH, EVENT_DAY)
        if localize(dt.datetime.combine(day, EVENT_START), zone) > now:
            return day
        year += 1


def _local(day: dt.date, at: dt.time) -> str:
    return f"{day:%Y-%m-%d} {at:%H:%M}"


def _programme_line(language: str) -> str:
    """The day in one line for the calendar description: lunch, interviews, seminar."""
    sep = ":" if language == "en" else "."
    lunch, talks, opens = (f"{t:%H}{sep}{t:%M}" for t in (EVENT_START, INTERVIEWS, EMBARGO))
    return {
        "fi": f"{lunch} lounas, {talks}–{opens} median haastattelut, {opens} seminaari alkaa.",
        "sv": f"{lunch} lunch, {talks}–{opens} intervjuer för medierna, {opens} seminariet börjar.",
        "en": f"{lunch} lunch, {talks}–{opens} media interviews, {opens} the seminar opens.",
    }[language]


def starter_config(event_date: dt.date) -> dict[str, Any]:
    """The starter config.toml as a dict, following the schema in :mod:`mailer.config.load`.

    ``[event]`` is Finnish (the default language); ``[event.sv]`` and ``[event.en]`` give the
    Swedish and English texts of the calendar entry and the templates (Kokkola is Karleby in
    Swedish). No text mentions the programme PDF: mailer adds "Liitteenä: programme.pdf" to
    the calendar description of the messages that carry it.
    """
    deadline = event_date - dt.timedelta(days=REGISTRATION_DAYS_BEFORE)
    return {
        "event": {
            "title": "Akkukemian vetovastuuhankkeen loppuseminaari",
            "location": "Villa Elba, Kokkola",
            "description": (
                "Akkukemian temaattisen vetovastuuhankkeen loppuseminaari.\n"
                f"{_programme_line('fi')}\n"
            ),
            "start": _local(event_date, EVENT_START),
            "end": _local(event_date, EVENT_END),
            "timezone": TIMEZONE,
            "url": "",
            "sv": {
                "title": "Slutseminarium för batterikemiprojektet",
                "location": "Villa Elba, Karleby",
                "description": (
                    "Slutseminarium för det tematiska batterikemiprojektet.\n"
                    f"{_programme_line('sv')}\n"
                ),
            },
            "en": {
                "title": "Final seminar of the battery chemistry project",
                "location": "Villa Elba, Kokkola, Finland",
                "description": (
                    "Final seminar of the Battery Chemistry Thematic Lead Project.\n"
                    f"{_programme_line('en')}\n"
                ),
            },
        },
        "organizer": {
            "name": "Kokkolan kaupunki / Viestintä",
            "email": "viestinta@kokkola.example",
            "privacy_url": "https://kokkola.example/tietosuoja",
            "unsubscribe_email": "viestinta+optout@kokkola.example",
        },
        "contacts": {
            "file": "contacts.csv",
            "default_language": "fi",
        },
        "invitation": {
            "template": "invitation",
            "reminder_template": "reminder",
            "attachments": [PROGRAMME_NAME],
            "ics_attachment": False,
            "max_attachment_mb": 10.0,
        },
        "release": {
            "template": "release",
            "embargo": _local(event_date, EMBARGO),
            "grace_minutes": 15,
            "mode": "personal",
            "prebrief_tag": "trusted",
            "attachments": [],
        },
        "transport": {
            "kind": "outbox",
            "outbox_dir": "outbox",
        },
        "store": {"path": "mailer.db"},
        "log": {"file": ""},
        "vars": {
            "lunch_time": f"{EVENT_START:%H:%M}",
            "seminar_start": f"{EMBARGO:%H:%M}",
            "registration_deadline": f"{deadline:%Y-%m-%d}",
            "speaker": "Jarkko Vesa",
            "contact_person": "Anna Niemi",
            "contact_phone": "+358 40 000 0000",
        },
    }


# --- the programme PDF -------------------------------------------------------------------------

_WEEKDAYS = {
    "fi": ("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai"),
    "sv": ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# (time, Finnish line, Swedish / English line)
_PROGRAMME: tuple[tuple[str, str, str], ...] = (
    ("12.00", "Lounas", "Lunch"),
    (
        "12.15–13.00",
        "Median haastattelut: puhujat tavattavissa",
        "Intervjuer för medierna / Media interviews with the speakers",
    ),
    (
        "13.00",
        "Seminaarin avaus – Kokkolan kaupunki",
        "Seminariet öppnas / Opening – City of Kokkola",
    ),
    (
        "13.15",
        "Akkuala muuttuvassa maailmassa – Jarkko Vesa, konsultti",
        "Batteribranschen i förändring / The battery industry in a changing world",
    ),
    (
        "14.00",
        "Hankkeen tulokset: kolme toimenpidekokonaisuutta",
        "Projektets resultat / Results of the project",
    ),
    ("14.45", "Kahvi", "Kaffe / Coffee"),
    (
        "15.00",
        "Paneeli: kaupunkien yhteistyö akkuarvoketjussa",
        "Panel: städernas samarbete / Panel: the cities in the battery value chain",
    ),
    ("15.45", "Päätössanat", "Avslutning / Closing words"),
)


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (cp1252), with (, ) and \\ escaped and every
    byte outside printable ASCII written as an octal escape."""
    out = bytearray(b"(")
    for byte in text.encode("cp1252"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    out += b")"
    return bytes(out)


def _pdf_utf16(text: str) -> bytes:
    """A text string for the document information dictionary (UTF-16BE with BOM, hex)."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _programme_stream(event_date: dt.date) -> bytes:
    weekday = event_date.weekday()
    numeric = f"{event_date.day}.{event_date.month}.{event_date.year}"
    fi_date = f"{_WEEKDAYS['fi'][weekday].capitalize()} {numeric}"
    sv_date = f"{_WEEKDAYS['sv'][weekday]} {numeric}"
    month = _MONTHS_EN[event_date.month - 1]
    en_date = f"{_WEEKDAYS['en'][weekday]}, {event_date.day} {month} {event_date.year}"
    ops: list[bytes] = []

    def line(x: int, y: int, font: str, size: int, text: str, grey: bool = False) -> None:
        colour = b"0.35 g" if grey else b"0 g"
        ops.append(
            colour
            + b" BT /"
            + font.encode("ascii")
            + b" %d Tf %d %d Td " % (size, x, y)
            + _pdf_text(text)
            + b" Tj ET"
        )

    y = 770
    line(56, y, "F2", 18, "Akkukemian temaattinen vetovastuuhanke")
    y -= 24
    line(56, y, "F2", 14, "Loppuseminaari – Slutseminarium – Final seminar")
    y -= 26
    line(56, y, "F1", 12, f"{fi_date} – Villa Elba, Kokkola")
    y -= 16
    line(56, y, "F1", 10, f"{sv_date}, Villa Elba, Karleby / {en_date}", grey=True)
    y -= 20
    ops.append(b"0.6 G 0.5 w 56 %d m 539 %d l S" % (y, y))
    y -= 30
    line(56, y, "F2", 13, "Ohjelma / Program / Programme")
    y -= 28
    for when, finnish, other in _PROGRAMME:
        line(56, y, "F2", 11, when)
        line(150, y, "F1", 11, finnish)
        y -= 14
        line(150, y, "F1", 9, other, grey=True)
        y -= 24
    y -= 10
    ops.append(b"0.6 G 0.5 w 56 %d m 539 %d l S" % (y, y))
    y -= 24
    line(56, y, "F1", 10, "Median edustajia pyydetään ilmoittautumaan etukäteen.")
    y -= 14
    line(
        56,
        y,
        "F1",
        9,
        "Vi ber medierna anmäla sig på förhand. / Journalists are asked to register in advance.",
        grey=True,
    )
    y -= 14
    line(56, y, "F1", 10, "Kokkolan kaupunki / Viestintä – viestinta@kokkola.example")
    y -= 28
    line(
        56,
        y,
        "F1",
        9,
        "Hankkeen päätoteuttaja Kokkolan kaupunki. EAKR-rahoitus: Pirkanmaan liitto.",
        grey=True,
    )
    y -= 12
    line(
        56,
        y,
        "F1",
        9,
        "Lead partner: City of Kokkola. ERDF funding granted by the Council of Tampere Region.",
        grey=True,
    )
    return b"\n".join(ops) + b"\n"


def programme_pdf(event_date: dt.date) -> bytes:
    """A one-page PDF 1.4 of the seminar programme, written by hand (Helvetica, WinAnsi)."""
    stream = _programme_stream(event_date)
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        font % b"Helvetica",
        font % b"Helvetica-Bold",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
        b"<< /Title "
        + _pdf_utf16(
            f"Loppuseminaarin ohjelma {event_date.day}.{event_date.month}.{event_date.year}"
        )
        + b" /Producer (mailer) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# --- writing the project -----------------------------------------------------------------------


def _package_files(root: Traversable, prefix: Path = Path()) -> list[tuple[Path, bytes]]:
    found: list[tuple[Path, bytes]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found.extend(_package_files(entry, prefix / entry.name))
        elif entry.is_file():
            found.append((prefix / entry.name, entry.read_bytes()))
    return found


def starter_files(now: dt.datetime) -> list[tuple[Path, bytes]]:
    """Every file of the starter project as (relative path, content), in the order written."""
    event_date = next_event_date(now)
    config = (
        CONFIG_HEADER
        + "\n"
        + tomli_w.dumps(starter_config(event_date), multiline_strings=True)
        + CONFIG_FOOTER
    )
    generated = [
        (Path(CONFIG_NAME), config.encode("utf-8")),
        (Path(PROGRAMME_NAME), programme_pdf(event_date)),
    ]
    return generated + _package_files(files("mailer.project") / "sample")


def write_starter(dest: Path, *, now: dt.datetime) -> StarterResult:
    """Create *dest* if needed and write the starter project into it.

    An existing file is never overwritten: it is left as it is and listed in ``skipped``.
    """
    try:
        make_folders(dest)
    except OSError as exc:
        raise MailerError(f"{dest}: cannot create the project directory: {exc.strerror}") from None
    written: list[Path] = []
    skipped: list[Path] = []
    for relative, content in starter_files(now):
        target = dest / relative
        try:
            make_folders(target.parent)
        except OSError as exc:
            raise MailerError(f"{target.parent}: cannot create directory: {exc.strerror}") from None
        mode = PRIVATE if relative.name in _PERSONAL else SHARED
        try:
            created = write_new(target, content, mode)
        except OSError as exc:
            raise MailerError(f"{target}: cannot write: {exc.strerror}") from None
        (written if created else skipped).append(target)
    return StarterResult(written=tuple(written), skipped=tuple(skipped))
