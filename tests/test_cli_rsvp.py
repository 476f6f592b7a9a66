"""``mailer rsvp ...`` and ``mailer contacts suppress`` through the real CLI: a whole RSVP round.

The replies are built from the project's own journal (its Message-IDs and calendar UIDs), in the
formats the clients really send: an Outlook / Exchange iTIP REPLY (no ORGANIZER, Windows TZID,
localised SUMMARY prefix, COMMENT), a Google Calendar REPLY from another address with
X-NUM-GUESTS (inline + application/ics), a Finnish written reply with In-Reply-To and a quoted
original, a Swedish decline with References only, an Exchange out-of-office, a Postfix RFC 3464
bounce (5.1.1) and an unsubscribe request.
"""

from __future__ import annotations

import base64
import csv
import email
import email.header
import email.utils
import hashlib
import io
import json
import stat
import time
from dataclasses import dataclass
from email import policy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer import console
from mailer.cli import app
from mailer.console import rsvp as console_rsvp
from mailer.models import Campaign
from mailer.store import Store
from tests.fixtures_imap import DovecotServer
from tests.helpers import make_project, set_keys

runner = CliRunner()

PAIVI = "paivi.maki-jaakkola@keskipohjanmaa.example"
JYRKI = "jyrki.hyvonen@yle.example"
JYRKI_GMAIL = "jyrki.hyvonen@gmail.example"
RIIKKA = "riikka.lansimaki@teollisuusuutiset.example"
ASA = "asa.sjoholm@ot.example"
JORGEN = "jorgen.bystrom@yle.example"
MIKAEL = "mikael.bjorklund@nordiskenergi.example"
SARAH = "sarah.okafor@batteryinsider.example"
RIIKKA_TEXT = (
    "Hei,\n\nTulen kuvaajan kanssa, haastattelu Vesan kanssa kiinnostaisi.\n\nTerveisin\nRiikka"
)
ASA_TEXT = "Hej,\n\nTyvärr kan jag inte komma den dagen.\n\nÅsa"

# --- replies built from the journal ---------------------------------------------------------------

ORGANIZER = "viestinta@kokkola.example"
TITLE = "Akkukemian vetovastuuhankkeen loppuseminaari"


@dataclass(frozen=True)
class Invited:
    email: str
    name: str
    message_id: str
    uid: str


def invited(store_path: Path) -> dict[str, Invited]:
    with Store(store_path) as store:
        return {
            e.email: Invited(e.email, e.name, e.message_id, e.ics_uid or "")
            for e in store.journal.entries(Campaign.INVITATION)
        }


def _tag(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _date(minutes_ago: int) -> str:
    return email.utils.formatdate(time.time() - 60 * minutes_ago, localtime=False)


def _stamp(minutes_ago: int) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 60 * minutes_ago))


def _b64(text: str) -> str:
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return "\n".join(data[i : i + 76] for i in range(0, len(data), 76))


def outlook_accept(inv: Invited, *, comment: str, minutes_ago: int = 50) -> bytes:
    cal = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "METHOD:REPLY",
            "PRODID:Microsoft Exchange Server 2010",
            "VERSION:2.0",
            "BEGIN:VTIMEZONE",
            "TZID:FLE Standard Time",
            "BEGIN:STANDARD",
            "DTSTART:16010101T040000",
            "TZOFFSETFROM:+0300",
            "TZOFFSETTO:+0200",
            "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
            "END:STANDARD",
            "BEGIN:DAYLIGHT",
            "DTSTART:16010101T030000",
            "TZOFFSETFROM:+0200",
            "TZOFFSETTO:+0300",
            "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3",
            "END:DAYLIGHT",
            "END:VTIMEZONE",
            "BEGIN:VEVENT",
            f"ATTENDEE;PARTSTAT=ACCEPTED;CN={inv.name}:MAILTO:{inv.email}",
            f"COMMENT;LANGUAGE=fi-FI:{comment.replace(',', chr(92) + ',')}",
            f"SUMMARY;LANGUAGE=fi-FI:Hyväksytty: {TITLE}",
            "DTSTART;TZID=FLE Standard Time:20270625T120000",
            "DTEND;TZID=FLE Standard Time:20270625T160000",
            f"UID:{inv.uid}",
            "CLASS:PUBLIC",
            "PRIORITY:5",
            f"DTSTAMP:{_stamp(minutes_ago)}",
            "TRANSP:OPAQUE",
            "STATUS:CONFIRMED",
            "SEQUENCE:0",
            "LOCATION;LANGUAGE=fi-FI:Villa Elba\\, Kokkola",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    boundary = "_000_AM0PR07MB1234ABCDEFprod_"
    return f"""\
From: {inv.name} <{inv.email}>
To: =?utf-8?q?Kokkolan_kaupunki_/_Viestint=C3=A4?= <{ORGANIZER}>
Subject: =?utf-8?b?{base64.b64encode(f"Hyväksytty: {TITLE}".encode()).decode()}?=
Thread-Topic: {TITLE}
Date: {_date(minutes_ago)}
Message-ID: <AM0PR07MB1234{_tag(inv.uid)}@AM0PR07MB1234.eurprd07.prod.outlook.com>
Content-Language: fi-FI
Content-Type: multipart/alternative; boundary="{boundary}"
MIME-Version: 1.0

--{boundary}
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

{_b64(comment + chr(10))}

--{boundary}
Content-Type: text/calendar; charset="utf-8"; method=REPLY
Content-Transfer-Encoding: base64

{_b64(cal)}

--{boundary}--
""".encode()


def google_accept(
    inv: Invited, *, sender: str, guests: int, minutes_ago: int = 40, attendee: str = ""
) -> bytes:
    attendee = attendee or sender
    cal = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:REPLY",
            "BEGIN:VEVENT",
            "DTSTART:20270625T090000Z",
            "DTEND:20270625T130000Z",
            f"DTSTAMP:{_stamp(minutes_ago)}",
            f"ORGANIZER;CN=Kokkolan kaupunki / Viestintä:mailto:{ORGANIZER}",
            f"UID:{inv.uid}",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN="
            f"{inv.name};X-NUM-GUESTS={guests}:mailto:{attendee}",
            "SEQUENCE:0",
            "STATUS:CONFIRMED",
            f"SUMMARY:{TITLE}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    return f"""\
MIME-Version: 1.0
Date: {_date(minutes_ago)}
Sender: Google Calendar <calendar-notification@google.com>
Message-ID: <0000000000{_tag(inv.uid)}@google.com>
Subject: Accepted: {TITLE} @ Fri 25 Jun 2027 12:00 - 16:00 (EEST) ({attendee})
From: {inv.name} <{sender}>
To: {ORGANIZER}
Content-Type: multipart/mixed; boundary="000000000000c0ffee01"

--000000000000c0ffee01
Content-Type: multipart/alternative; boundary="000000000000c0ffee02"

--000000000000c0ffee02
Content-Type: text/plain; charset="UTF-8"

{inv.name} has accepted this invitation.

--000000000000c0ffee02
Content-Type: text/calendar; charset="UTF-8"; method=REPLY
Content-Transfer-Encoding: base64

{_b64(cal)}
--000000000000c0ffee02--

--000000000000c0ffee01
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

{_b64(cal)}
--000000000000c0ffee01--
""".encode()


def text_reply(
    inv: Invited,
    body: str,
    *,
    subject: str = f"Re: Kutsu medialle: {TITLE}",
    in_reply_to: bool = True,
    minutes_ago: int = 30,
    quote: str = "",
) -> bytes:
    threading = (
        f"In-Reply-To: {inv.message_id}\nReferences: {inv.message_id}\n"
        if in_reply_to
        else f"References: {inv.message_id}\n"
    )
    quoted = "".join(f"> {line}\n" for line in quote.splitlines())
    attribution = time.strftime("%d.%m.%Y klo %H.%M", time.gmtime(time.time() - 36000))
    wrote = f"\n{attribution} Kokkolan kaupunki <{ORGANIZER}> kirjoitti:\n{quoted}" if quote else ""
    return f"""\
From: {inv.name} <{inv.email}>
To: {ORGANIZER}
Subject: {email.header.Header(subject, "utf-8").encode()}
Date: {_date(minutes_ago)}
Message-ID: <reply-{_tag(inv.uid, body)}@mail.example>
{threading}MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

{body}
{wrote}""".encode()


def out_of_office(inv: Invited, *, minutes_ago: int = 20) -> bytes:
    return f"""\
From: {inv.name} <{inv.email}>
To: {ORGANIZER}
Subject: =?utf-8?q?Automatiskt_svar:_Kutsu_medialle?=
Date: {_date(minutes_ago)}
Message-ID: <oof-{_tag(inv.uid)}@yle.example>
In-Reply-To: {inv.message_id}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Jag är på semester till 5.7. och läser inte min e-post.
""".encode()


def bounce_511(inv: Invited, *, minutes_ago: int = 45) -> bytes:
    boundary = "4Z1b2C3d4E.1772355607/mx.kokkola.example"
    return f"""\
Return-Path: <>
Date: {_date(minutes_ago)}
From: MAILER-DAEMON@mx.kokkola.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {ORGANIZER}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"
Message-Id: <bounce-{_tag(inv.uid)}@mx.kokkola.example>

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=utf-8

This is the mail system at host mx.kokkola.example.

<{inv.email}>: host mx.example[192.0.2.25] said: 550 5.1.1
    <{inv.email}>: Recipient address rejected: User unknown

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.kokkola.example

Final-Recipient: rfc822; {inv.email}
Original-Recipient: rfc822;{inv.email}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example
Diagnostic-Code: smtp; 550 5.1.1 <{inv.email}>: Recipient address rejected: User unknown

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Kokkolan kaupunki <{ORGANIZER}>
To: {inv.name} <{inv.email}>
Subject: Kutsu medialle
Message-ID: {inv.message_id}

--{boundary}--
""".encode()


def unsubscribe(inv: Invited, *, minutes_ago: int = 10) -> bytes:
    return text_reply(
        inv,
        "Please remove me from your mailing list.\n\nSarah",
        subject=f"Re: Invitation: {TITLE}",
        minutes_ago=minutes_ago,
    )


def write_replies(project: Path) -> Path:
    """The seven answers of the round, one .eml file each, in a folder."""
    inv = invited(project / "mailer.db")
    folder = project / "replies"
    folder.mkdir()
    files = {
        "01-outlook-accept.eml": outlook_accept(inv[PAIVI], comment="Tulen, lounaalle myös."),
        "02-google-accept.eml": google_accept(
            inv[JYRKI], sender=JYRKI, attendee=JYRKI_GMAIL, guests=1
        ),
        "03-text-fi.eml": text_reply(inv[RIIKKA], RIIKKA_TEXT, quote="Tervetuloa!"),
        "04-decline-sv.eml": text_reply(
            inv[ASA], ASA_TEXT, subject="SV: Inbjudan", in_reply_to=False
        ),
        "05-out-of-office.eml": out_of_office(inv[JORGEN]),
        "06-bounce.eml": bounce_511(inv[MIKAEL]),
        "07-unsubscribe.eml": unsubscribe(inv[SARAH]),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


# --- fixtures and helpers ------------------------------------------------------------------------


def mailer(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), env=env, input=input)


def ok(*args: str, **kwargs: Any) -> Any:
    result = mailer(*args, **kwargs)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The starter project as the current directory, with the invitations sent to the outbox."""
    path = make_project(tmp_path / "project")
    monkeypatch.chdir(path)
    ok("invite", "send", "--yes")
    return path


@pytest.fixture
def answered(project: Path) -> Path:
    """The round after ``rsvp import`` of the seven replies."""
    ok("rsvp", "import", str(write_replies(project)))
    return project


def listed(*args: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(ok("rsvp", "list", "--json", *args).stdout)
    return {r["email"]: r for r in rows}


def outbox(project: Path, campaign: str) -> list[str]:
    """Recipients of the .eml files of one campaign in the outbox."""
    found = []
    for path in sorted((project / "outbox").glob(f"{campaign}-*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        found.append(msg["To"].addresses[0].addr_spec)
    return sorted(found)


# --- import, list, summary, export ---------------------------------------------------------------


def test_import_records_each_kind_of_reply(project: Path) -> None:
    folder = write_replies(project)
    result = ok("rsvp", "import", str(folder))
    assert result.stderr == ""
    out = result.stdout.splitlines()
    assert out[-2:] == [
        "7 messages: 4 answers recorded, 1 bounced, 1 noted (no answer), 1 for review",
        "Next: mailer rsvp review (2 new items wait for your decision)",
    ]
    rows = {line.split()[0]: line.split()[1:4] for line in out if line.startswith("0")}
    assert rows == {
        "01-outlook-accept.eml": ["calendar", "reply", "applied"],
        "02-google-accept.eml": ["calendar", "reply", "applied"],
        "03-text-fi.eml": ["text", "reply", "applied"],
        "04-decline-sv.eml": ["text", "reply", "applied"],
        "05-out-of-office.eml": ["auto", "reply", "noted"],
        "06-bounce.eml": ["bounce", "bounced", MIKAEL],  # addresses whole, never split
        "07-unsubscribe.eml": ["unsubscribe", "review", SARAH],
    }
    again = ok("rsvp", "import", str(folder))
    assert again.stdout == "7 messages: 7 seen before\n"


@pytest.mark.parametrize("columns", [80, 150])
def test_import_rows_keep_the_reason_readable(
    columns: int, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Narrower than 110 columns the reason gets its own line under its row: as a fifth column
    it was squeezed to a few letters a line (and a contact column of "-" folded its heading)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    lines = ok("rsvp", "import", str(write_replies(project))).stdout.splitlines()
    assert lines[0].split() == ["message", "kind", "outcome", "contact"] + (
        ["detail"] if columns > 110 else []
    )
    row = next(i for i, x in enumerate(lines) if x.startswith("07-unsubscribe.eml"))
    cells = lines[row].split()
    assert cells[:4] == ["07-unsubscribe.eml", "unsubscribe", "review", SARAH]
    reason = " ".join(cells[4:]) if columns > 110 else lines[row + 1]
    if columns < 110:
        assert reason.startswith("    ") and len(cells) == 4
    assert "unsubscribe" in reason.lower() or "list" in reason.lower(), reason


def test_a_large_import_shows_counts_instead_of_a_row_each(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_rsvp, "MAX_MESSAGE_ROWS", 6)
    result = ok("rsvp", "import", str(write_replies(project)))
    table = [line.rstrip() for line in result.stdout.splitlines()[:7]]
    assert table == [
        "kind             applied   bounced   noted   review",
        "─" * 51,
        "auto reply                               1",
        "bounce                           1",
        "calendar reply         2",
        "text reply             2",
        "unsubscribe                                       1",
    ]
    assert result.stdout.splitlines()[7:] == [
        "(a row for each message is shown for up to 6 new messages)",
        "7 messages: 4 answers recorded, 1 bounced, 1 noted (no answer), 1 for review",
        "Next: mailer rsvp review (2 new items wait for your decision)",
    ]


def test_list_json_has_every_answer_and_delivery(answered: Path) -> None:
    rows = listed()
    assert list(rows) == [PAIVI, JYRKI, RIIKKA, ASA, JORGEN, MIKAEL, SARAH]  # contacts.csv order
    brief = {
        e: (r["status"], r["guests"], r["lunch"], r["interview"], r["source"], r["delivery"])
        for e, r in rows.items()
    }
    assert brief == {
        PAIVI: ("yes", 0, True, "", "calendar", "sent"),
        JYRKI: ("yes", 1, None, "", "calendar", "sent"),
        RIIKKA: ("yes", 1, None, "Jarkko Vesa", "text", "sent"),
        ASA: ("no", 0, None, "", "text", "sent"),
        JORGEN: ("none", 0, None, "", "", "sent"),
        MIKAEL: ("none", 0, None, "", "", "bounced"),
        SARAH: ("none", 0, None, "", "", "sent"),
    }
    assert rows[PAIVI]["note"] == "Tulen, lounaalle myös."
    assert rows[JYRKI]["answered_from"] == JYRKI
    assert rows[RIIKKA]["note"].endswith(
        "Tulen kuvaajan kanssa, haastattelu Vesan kanssa kiinnostaisi."
    )
    assert (rows[MIKAEL]["bounce"], rows[MIKAEL]["suppressed"]) == ("5.1.1", False)
    assert rows[PAIVI]["outlet"] == "Keskipohjanmaa"
    assert rows[ASA]["name"] == "Åsa Sjöholm"
    assert list(listed("--status", "none")) == [JORGEN, MIKAEL, SARAH]
    assert list(listed("--status", "yes")) == [PAIVI, JYRKI, RIIKKA]
    assert listed("--status", "maybe") == {}


def test_list_table(answered: Path) -> None:
    out = ok("rsvp", "list", "--status", "none").stdout.splitlines()
    assert out[0].split() == ["contact", "answer", "interview", "delivery"]
    assert out[2].split() == ["Jörgen", "Byström", "(Yle", "Österbotten)", "none", "sent"]
    assert out[3].strip() == JORGEN
    assert out[4].split() == [
        "Mikael",
        "Björklund",
        "(Nordisk",
        "Energi)",
        "none",
        "bounced",
        "5.1.1",
    ]
    assert out[-1] == "3 contacts (none 3)"
    result = mailer("rsvp", "list", "--status", "later")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --status: 'later' is not one of 'yes', 'no', 'maybe', 'none'",
        "hint: see 'mailer rsvp list --help'",
    ]


def test_list_names_the_interview_wish_as_the_summary_does(answered: Path) -> None:
    """Riikka wrote "haastattelu Vesan kanssa": both the list and the summary say Jarkko Vesa."""
    (row,) = [r for r in ok("rsvp", "list", "--status", "yes").stdout.splitlines() if "Vesa" in r]
    assert row.split()[-3:] == ["Jarkko", "Vesa", "sent"]
    assert f"Interviews:   Jarkko Vesa: 1 ({RIIKKA})" in ok("rsvp", "summary").stdout.splitlines()


def test_list_at_80_columns_keeps_every_address_whole(
    answered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.out, "width", 80)  # the terminal the officer has
    out = ok("rsvp", "list").stdout.splitlines()
    assert max(len(line.rstrip()) for line in out) <= 80
    for address in (PAIVI, JYRKI, RIIKKA, ASA, JORGEN, MIKAEL, SARAH):
        assert any(line.strip().startswith(address) for line in out), address


SUMMARY = [
    "Invited:      7 (sent 6, bounced 1)",
    "Coming:       3 + 2 guests = 5 people",
    "Maybe:        0",
    "Not coming:   1",
    "No answer:    3 (2 can get a reminder: mailer invite remind)",
    "Lunch:        1 person (and 4 people coming did not say)",
    f"Interviews:   Jarkko Vesa: 1 ({RIIKKA})",
    f"Bounced:      {MIKAEL} (5.1.1)",
    "Suppressed:   0 addresses",
    "To review:    2 items: mailer rsvp review",
]


def test_summary(answered: Path) -> None:
    assert ok("rsvp", "summary").stdout.splitlines() == SUMMARY


def test_summary_json(answered: Path) -> None:
    assert json.loads(ok("rsvp", "summary", "--json").stdout) == {
        "invited": 7,
        "yes": 3,
        "maybe": 0,
        "no": 1,
        "none": 3,
        "guests": 2,
        "expected": 5,
        "maybe_people": 0,
        "lunch": 1,
        "lunch_unknown": 4,
        "interviews": {"Jarkko Vesa": [RIIKKA]},
        "delivery": {"sent": 6, "bounced": 1},
        "bounced": [{"email": MIKAEL, "status": "5.1.1"}],
        "suppressed": 0,
        "review": 2,
        "to_remind": 2,
    }


def test_status_json_has_the_rsvp_counts(answered: Path) -> None:
    data = json.loads(ok("status", "--json").stdout)
    assert data["rsvp"] == {
        "yes": 3,
        "no": 1,
        "maybe": 0,
        "none": 3,
        "guests": 2,
        "lunch": 1,
        "bounced": 1,
        "review": 2,
    }
    assert (
        "RSVP:        yes 3  no 1  maybe 0  none 3  guests 2  lunch 1  bounced 1  review 2"
        in ok("status").stdout.splitlines()
    )


def test_summary_before_any_answer(project: Path) -> None:
    assert ok("rsvp", "summary").stdout.splitlines() == [
        "Invited:      7 (sent 7)",
        "Coming:       0 = 0 people",
        "Maybe:        0",
        "Not coming:   0",
        "No answer:    7 (7 can get a reminder: mailer invite remind)",
        "Lunch:        0 people",
        "Interviews:   none asked",
        "Bounced:      0",
        "Suppressed:   0 addresses",
        "To review:    0",
    ]


def test_export_for_excel(answered: Path) -> None:
    target = answered / "vastaukset.csv"
    result = ok("rsvp", "export", str(target))
    assert result.stdout == (
        f"Wrote 7 rows to {target} (UTF-8 with BOM, ';'-separated, for "
        "Excel; readable by you only)\n"
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfemail;name;outlet;")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert [r["email"] for r in rows] == [PAIVI, JYRKI, RIIKKA, ASA, JORGEN, MIKAEL, SARAH]
    jyrki = rows[1]
    assert {
        k: jyrki[k]
        for k in (
            "name",
            "outlet",
            "status",
            "guests",
            "lunch",
            "source",
            "answered_from",
            "delivery",
        )
    } == {
        "name": "Jyrki Hyvönen",
        "outlet": "Yle Keski-Pohjanmaa",
        "status": "yes",
        "guests": "1",
        "lunch": "",
        "source": "calendar",
        "answered_from": JYRKI,
        "delivery": "sent",
    }
    assert (rows[0]["lunch"], rows[2]["interview"]) == ("yes", "Jarkko Vesa")
    assert (rows[5]["delivery"], rows[5]["bounce"]) == ("bounced", "5.1.1")
    assert rows[4]["status"] == "none"
    comma = answered / "english.csv"
    ok("rsvp", "export", str(comma), "--delimiter", ",")
    assert comma.read_bytes().startswith(b"\xef\xbb\xbfemail,name,outlet,")


def test_export_neutralises_formulas(answered: Path) -> None:
    ok(
        "rsvp",
        "set",
        JORGEN,
        "--status",
        "yes",
        "--note",
        '=HYPERLINK("http://x.example","a")',
        "--interview",
        "@SUM(A1)",
    )
    target = answered / "out.csv"
    ok("rsvp", "export", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8-sig")), delimiter=";"))
    jorgen = next(r for r in rows if r["email"] == JORGEN)
    assert jorgen["note"] == '\'=HYPERLINK("http://x.example","a")'
    assert jorgen["interview"] == "'@SUM(A1)"


def test_export_to_a_missing_folder_is_one_error_line(answered: Path) -> None:
    result = mailer("rsvp", "export", str(answered / "no" / "such" / "x.csv"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {answered / 'no' / 'such' / 'x.csv'}: cannot write the "
        "export: No such file or directory\n"
    )


# --- answers by phone ----------------------------------------------------------------------------


def test_set_records_an_answer_by_phone(answered: Path) -> None:
    result = ok(
        "rsvp",
        "set",
        JORGEN,
        "--status",
        "yes",
        "--guests",
        "1",
        "--lunch",
        "--interview",
        "Jarkko Vesa",
        "--note",
        "soitti 1.6.",
    )
    assert result.stdout == (
        f"Recorded for {JORGEN}: yes, +1 guest, lunch, interview: Jarkko "
        "Vesa, note: soitti 1.6. (by hand)\n"
    )
    row = listed()[JORGEN]
    assert (row["status"], row["guests"], row["lunch"], row["source"]) == ("yes", 1, True, "manual")
    summary = json.loads(ok("rsvp", "summary", "--json").stdout)
    assert summary["interviews"] == {"Jarkko Vesa": [RIIKKA, JORGEN]}
    assert (summary["expected"], summary["lunch"], summary["to_remind"]) == (7, 3, 1)
    # a later change keeps what it does not mention; upper case addresses are found
    ok("rsvp", "set", JORGEN.upper(), "--status", "maybe")
    row = listed()[JORGEN]
    assert (row["status"], row["guests"], row["lunch"]) == ("maybe", 1, True)
    ok("rsvp", "set", JORGEN, "--status", "no")
    row = listed()[JORGEN]
    assert (row["status"], row["guests"], row["lunch"], row["interview"]) == ("no", 0, None, "")


def test_set_wins_over_an_earlier_mail(answered: Path) -> None:
    ok("rsvp", "set", ASA, "--status", "yes", "--no-lunch")
    assert (listed()[ASA]["status"], listed()[ASA]["lunch"]) == ("yes", False)
    ok("rsvp", "import", str(answered / "replies"))  # the old decline again: seen before
    assert listed()[ASA]["status"] == "yes"


def test_set_for_an_unknown_address(answered: Path) -> None:
    result = mailer("rsvp", "set", "someone@else.example", "--status", "yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: someone@else.example: not in contacts.csv and never invited",
        "hint: check the address with 'mailer rsvp list' or 'mailer contacts list'",
    ]
    assert mailer("rsvp", "set", JORGEN, "--status", "perhaps").exit_code == 2
    assert mailer("rsvp", "set", JORGEN, "--status", "yes", "--guests", "-1").exit_code == 2
    assert mailer("rsvp", "set", JORGEN).exit_code == 2


def test_set_closes_the_review_item_it_answers(project: Path) -> None:
    inv = invited(project / "mailer.db")
    folder = project / "unclear"
    folder.mkdir()
    (folder / "q.eml").write_bytes(text_reply(inv[JORGEN], "Onko tilaisuudessa tulkkausta?"))
    out = ok("rsvp", "import", str(folder)).stdout
    assert "1 message: 1 for review" in out
    result = ok("rsvp", "set", JORGEN, "--status", "maybe")
    assert result.stdout.splitlines() == [
        f"Recorded for {JORGEN}: maybe (by hand)",
        "Closed 1 review item that waited for this answer.",
    ]
    assert ok("rsvp", "review").stdout == "Nothing to review.\n"


# --- review --------------------------------------------------------------------------------------


def test_review_without_a_terminal_only_lists(answered: Path) -> None:
    result = ok("rsvp", "review")
    assert result.stdout.splitlines() == [
        f"#1 suppress: {MIKAEL} (from mailer-daemon@mx.kokkola.example)",
        f"  the address does not exist (5.1.1): suppress {MIKAEL}?",
        f"  | 550 5.1.1 <{MIKAEL}>: Recipient address rejected: User unknown",
        "",
        f"#2 unsubscribe: {SARAH}",
        "  asks to be removed: remove me from",
        "  | Please remove me from your mailing list.",
        "  | Sarah",
        "",
        "2 open items; run 'mailer rsvp review' in a terminal to decide them.",
    ]
    assert json.loads(ok("rsvp", "summary", "--json").stdout)["review"] == 2  # nothing decided


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailer.console.is_interactive", lambda: True)


def test_review_decides_in_a_terminal(answered: Path, terminal: None) -> None:
    inv = invited(answered / "mailer.db")
    folder = answered / "more"
    folder.mkdir()
    (folder / "a-unclear.eml").write_bytes(text_reply(inv[JORGEN], "Onko paikalla pysäköintiä?"))
    stranger = Invited("freelancer@media.example", "Free Lancer", "<none@x>", "")
    (folder / "b-stranger.eml").write_bytes(
        text_reply(stranger, "Tulen mielelläni!", in_reply_to=False)
    )
    ok("rsvp", "import", str(folder))
    # 1: suppress Mikael; 2: later; 3: Jörgen's question -> maybe; 4: a stranger says yes ->
    # the officer types the stranger's address, which is no contact: error, the item stays open
    keys = "s\n\nm\ny\nfreelancer@media.example\nq\n"
    result = mailer("rsvp", "review", input=keys)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert f"  -> {MIKAEL} suppressed: no further mail of any round" in result.stdout
    assert f"  -> recorded maybe for {JORGEN}" in result.stdout
    assert out[-1] == "Decided 2; 2 still open."
    assert result.stderr.splitlines() == [
        "error: freelancer@media.example: not in contacts.csv and never invited",
        "hint: check the address with 'mailer rsvp list' or 'mailer contacts list'",
    ]
    rows = listed()
    assert rows[MIKAEL]["suppressed"] is True
    assert (rows[JORGEN]["status"], rows[JORGEN]["source"]) == ("maybe", "manual")
    assert rows[JORGEN]["note"] == "Onko paikalla pysäköintiä?"
    # the stranger's reply is applied to the contact the officer names
    result = mailer("rsvp", "review", input="\ny\nJORGEN.BYSTROM@yle.example\n")
    assert result.exit_code == 0, result.output
    assert f"(e-mail)?   -> recorded yes for {JORGEN}" in result.stdout
    assert listed()[JORGEN]["status"] == "yes"
    result = mailer("rsvp", "review", input="i\n")
    assert "Enter = later:   -> closed, nothing recorded\n" in result.stdout
    assert result.stdout.endswith("\nDecided 1; 0 still open.\n")
    assert ok("rsvp", "review").stdout == "Nothing to review.\n"


def test_review_suppresses_an_unsubscribe(answered: Path, terminal: None) -> None:
    result = mailer("rsvp", "review", input="\nx\ns\n")
    assert result.exit_code == 0, result.output
    assert "Enter = later:   'x': type y, n, m, s, i or q, or press Enter\n" in result.stdout
    assert f"  -> {SARAH} suppressed: no further mail of any round" in result.stdout
    listing = ok("contacts", "suppressed").stdout.splitlines()
    assert listing[2].split()[:4] == [SARAH, "asked", "to", "be"]
    assert listing[-1] == "1 suppressed address"


# --- reminders and the suppression list ----------------------------------------------------------


def test_remind_reaches_only_the_unanswered_reachable_ones(answered: Path) -> None:
    ok("contacts", "suppress", SARAH, "--reason", "asked by e-mail")
    result = ok("invite", "remind", "--yes")
    assert "To send now:  1 (one message per contact; languages: sv 1)" in result.stdout
    assert outbox(answered, "reminder") == [JORGEN]
    assert json.loads(ok("rsvp", "summary", "--json").stdout)["to_remind"] == 1  # still none


def test_remind_without_suppression_includes_the_pending_unsubscribe(answered: Path) -> None:
    ok("invite", "remind", "--yes")
    assert outbox(answered, "reminder") == sorted([JORGEN, SARAH])


def test_suppressed_address_gets_no_invitation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_project(tmp_path / "fresh")
    monkeypatch.chdir(path)
    result = ok("contacts", "suppress", PAIVI.upper(), "--reason", "asked by phone")
    assert result.stdout == (
        f"Suppressed {PAIVI.upper().split('@')[0]}@{PAIVI.split('@')[1]}: "
        "no invitation, reminder, update or release goes to it.\n"
    )
    again = ok("contacts", "suppress", PAIVI)
    assert again.stdout == f"{PAIVI} was already on the suppression list.\n"
    sent = ok("invite", "send", "--yes")
    assert (
        f"Not sent:     {PAIVI}: suppressed (opted out or address bounced)"
        in sent.stdout.splitlines()
    )
    assert PAIVI not in outbox(path, "invitation") and len(outbox(path, "invitation")) == 6
    ok("rsvp", "set", JORGEN, "--status", "yes")
    ok("invite", "remind", "--yes")
    assert PAIVI not in outbox(path, "reminder") and JORGEN not in outbox(path, "reminder")
    assert len(outbox(path, "reminder")) == 5
    assert (
        ok("contacts", "unsuppress", PAIVI).stdout
        == f"Removed {PAIVI} from the suppression list.\n"
    )
    missing = mailer("contacts", "unsuppress", PAIVI)
    assert missing.exit_code == 1
    assert missing.stderr.splitlines() == [
        f"error: {PAIVI}: not on the suppression list",
        "hint: 'mailer contacts suppressed' lists it",
    ]
    assert ok("contacts", "suppressed").stdout == "The suppression list is empty.\n"
    bad = mailer("contacts", "suppress", "not-an-address")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: invalid e-mail address 'not-an-address'")


# --- fetch ---------------------------------------------------------------------------------------


def test_fetch_needs_an_imap_section(project: Path) -> None:
    result = mailer("rsvp", "fetch")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: config.toml: no [imap] section, so there is no mailbox to read",
        "hint: add [imap] host, username and password_env (README: 'Reading the answers'), or "
        "save the replies as files and use 'mailer rsvp import'",
    ]


def test_fetch_without_a_password_never_prompts(project: Path) -> None:
    set_keys(
        project,
        "imap",
        host="127.0.0.1",
        port=1,
        security="tls",
        username="viestinta",
        password_env="RSVP_TEST_PASSWORD",
    )
    result = mailer("rsvp", "fetch")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: 127.0.0.1: no password for viestinta: the environment variable "
        "RSVP_TEST_PASSWORD ([imap] password_env) is not set"
    )


@pytest.mark.imap
def test_fetch_from_dovecot_then_nothing_new(project: Path, dovecot: DovecotServer) -> None:
    set_keys(
        project,
        "imap",
        host=dovecot.host,
        port=dovecot.imap_port,
        security="starttls",
        username=dovecot.user,
        password_env="RSVP_TEST_PASSWORD",
        ca_file=str(dovecot.ca_file),
    )
    env = {"RSVP_TEST_PASSWORD": dovecot.password}
    for path in sorted(write_replies(project).glob("*.eml")):
        dovecot.deliver(path.read_bytes())
    first = ok("rsvp", "fetch", env=env)
    out = first.stdout.splitlines()
    assert out[0] == (
        f"{dovecot.user}@127.0.0.1 INBOX: 7 messages (the whole folder was read: "
        "first fetch, or the server renumbered it)"
    )
    assert [line.split()[0] for line in out if line.startswith("imap:")] == [
        f"imap:INBOX/{n}" for n in range(1, 8)
    ]
    assert out[-2:] == [
        "7 messages: 4 answers recorded, 1 bounced, 1 noted (no answer), 1 for review",
        "Next: mailer rsvp review (2 new items wait for your decision)",
    ]
    assert ok("rsvp", "summary").stdout.splitlines() == SUMMARY
    second = ok("rsvp", "fetch", env=env)
    assert second.stdout == f"{dovecot.user}@127.0.0.1 INBOX: nothing new since the last fetch\n"
    late = invited(project / "mailer.db")[JORGEN]
    dovecot.deliver(text_reply(late, "Jag kommer gärna, med fotograf."))
    third = ok("rsvp", "fetch", env=env)
    assert third.stdout.splitlines()[0] == f"{dovecot.user}@127.0.0.1 INBOX: 1 new message"
    assert listed()[JORGEN]["status"] == "yes"
    assert len(dovecot.messages()) == 8  # nothing moved or deleted


def test_import_of_a_missing_path(project: Path) -> None:
    result = mailer("rsvp", "import", "nowhere")
    assert result.exit_code == 1
    assert result.stderr == "error: nowhere: no such file or folder\n"
    assert mailer("rsvp", "import").exit_code == 2


@pytest.mark.imap
def test_fetch_moves_handled_mail_only_when_configured(
    project: Path, dovecot: DovecotServer
) -> None:
    set_keys(
        project,
        "imap",
        host=dovecot.host,
        port=dovecot.imaps_port,
        security="tls",
        username=dovecot.user,
        password_env="RSVP_TEST_PASSWORD",
        ca_file=str(dovecot.ca_file),
        processed_folder="Vastaukset",
    )
    for path in sorted(write_replies(project).glob("*.eml"))[:3]:
        dovecot.deliver(path.read_bytes())
    dovecot.deliver(
        b"From: news@vendor.example\nTo: viestinta@kokkola.example\n"
        b"Subject: Newsletter\nMessage-ID: <nl@vendor.example>\n\nHello\n"
    )
    result = ok("rsvp", "fetch", env={"RSVP_TEST_PASSWORD": dovecot.password})
    assert result.stdout.splitlines()[-1] == "3 handled messages moved to Vastaukset"
    assert dovecot.messages() == ["<nl@vendor.example>"]  # the unrelated mail stays
    assert len(dovecot.messages("Vastaukset")) == 3
