"""No header injection from any CSV field or template output; one message per journalist.

Attacks tried (names, outlets and subjects, through a real CSV and the CLI, and generated):
CR/LF and other line breaks (refused by the loader), an RFC 2047 encoded-word that decodes to
``<spy@evil.example>`` or to CR LF + ``Bcc: spy@evil.example``, commas, quotes and angle
brackets in names, an address as the name, names long enough to be folded, RTL overrides.
Every message is read back by three parsers (the standard library's modern and legacy ones and
mail-parser): it has exactly one recipient, the contact; no Bcc, Cc or Reply-To header; the
sender is the organizer; no other contact's address appears anywhere in it (decoded parts too).

Found by this suite (fixed in ``mailer/messages.py``): Python decoded an encoded-word in a display
name and wrote it back raw (``To: <spy@evil.example> <victim@...>``, or a CR LF and a real
``Bcc:`` line), and folded long quoted names without their quotes.
"""

from __future__ import annotations

import datetime as dt
import email
import logging
import re
from email import policy
from email.header import decode_header, make_header
from email.utils import getaddresses
from pathlib import Path

import mailparser  # the "mail-parser" package (test extra)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailer.cli import app
from mailer.messages.mime import MessageSpec, build_message
from tests.helpers import make_project, write_contacts
from tests.reliability.conftest import Figures
from tests.reliability.harness import foreign_addresses

logging.getLogger("mailparser").setLevel(logging.ERROR)
runner = CliRunner()
ORGANIZER = "viestinta@kokkola.example"
SPY = "spy@evil.example"
ADDRESS_HEADERS = ("from", "to", "cc", "bcc", "reply-to", "sender", "resent-to", "resent-cc")

NASTY_NAMES = [
    "=?utf-8?b?PHNweUBldmlsLmV4YW1wbGU+?=",  # decodes to <spy@evil.example>
    "=?iso-8859-1?q?=0D=0ABcc:_spy@evil.example?=",  # decodes to CR LF Bcc: ...
    f"=?utf-8?q?Anna?= <{SPY}>",
    f'Evil, "Quoted" <{SPY}>',
    f"Evil <{SPY}>, Other",
    SPY,
    f"{SPY};",
    "Müller, Jörg (YLE) <x@y>;" + "z" * 70,
    "A" * 90 + f" <{SPY}>",
    '"' * 20,
    "\\" * 10 + '"',
    "Anna\u202egro.live@yps",  # RTL override
    "Päivi ==?utf-8?q?x?= Mäki",
    '(comment) <x@y> "q" [d] : ;',
]


def parse_all(data: bytes, contact: str) -> None:
    """Three parsers agree: one recipient (the contact), the organizer as sender, no extras."""
    modern = email.message_from_bytes(data, policy=policy.default)
    headers = [k.lower() for k in modern]
    assert "bcc" not in headers and "cc" not in headers and "reply-to" not in headers, headers
    assert headers.count("to") == 1 and headers.count("from") == 1, headers
    assert [a.addr_spec for a in modern["To"].addresses] == [contact]
    assert [a.addr_spec for a in modern["From"].addresses] == [ORGANIZER]
    assert not modern["To"].defects and not modern["From"].defects
    legacy = email.message_from_bytes(data, policy=policy.compat32)
    assert [a for _, a in getaddresses(legacy.get_all("To", []))] == [contact]
    assert [a for _, a in getaddresses(legacy.get_all("From", []))] == [ORGANIZER]
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        if line[:1] not in (b" ", b"\t"):
            assert name not in ("bcc", "cc", "reply-to", "sender"), line
    parsed = mailparser.parse_from_bytes(data)
    assert [a for _, a in parsed.to] == [contact]


def shown_name(data: bytes) -> str:
    """The To display name as a client that follows RFC 2047 shows it."""
    message = email.message_from_bytes(data, policy=policy.compat32)
    raw = str(message["To"]).rstrip()
    if not raw.endswith(">"):
        return ""  # a bare address
    raw = " ".join(raw[: raw.rindex("<")].split())
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):  # a quoted-string
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return str(make_header(decode_header(raw))).strip()  # atoms or encoded-words


def spec(name: str, subject: str = "Kutsu", to: str = "victim@news.example") -> MessageSpec:
    return MessageSpec(
        from_name="Kokkolan kaupunki / Viestintä",
        from_email=ORGANIZER,
        to_name=name,
        to_email=to,
        subject=subject,
        text="t",
        html="<p>t</p>",
        message_id="<m@kokkola.example>",
        date=dt.datetime(2027, 3, 1, 10, tzinfo=dt.UTC),
        language="fi",
    )


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_a_display_name_never_becomes_an_address_or_a_header(name: str) -> None:
    data = build_message(spec(name, subject=name))
    parse_all(data, "victim@news.example")
    assert shown_name(data) == name
    assert str(email.message_from_bytes(data, policy=policy.default)["Subject"]) == name


TOKEN = st.one_of(
    st.sampled_from(
        [
            *"<>@,;:\"\\()[]=?_ .'",
            "=?",
            "?=",
            "=?utf-8?q?",
            "=?utf-8?b?",
            SPY,
            "\u202e",
            "=0D=0A",
            "Bcc:",
        ]
    ),
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöå", min_size=1, max_size=12),
)
NAME = st.lists(TOKEN, max_size=40).map(lambda parts: " ".join("".join(parts).split()))
EXAMPLES = 400


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAME, subject=NAME.filter(lambda s: s.strip() != ""))
def test_generated_names_and_subjects_never_inject(
    name: str, subject: str, figures: Figures
) -> None:
    figures.add("hypothesis examples (this suite)", "names and subjects into headers")
    data = build_message(spec(name, subject=subject))
    parse_all(data, "victim@news.example")
    assert "".join(shown_name(data).split()) == "".join(name.split())
    got = str(email.message_from_bytes(data, policy=policy.default)["Subject"])
    assert "".join(got.split()) == "".join(subject.split())


def test_hostile_contacts_through_the_cli_get_one_clean_message_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures: Figures
) -> None:
    project = make_project(tmp_path / "project")
    rows = [
        {
            "email": f"reporter{i}@outlet{i}.example",
            "name": name,
            "outlet": name,
            "language": "fi",
            "tags": "",
            "first_name": name,
        }
        for i, name in enumerate(NASTY_NAMES)
    ]
    write_contacts(project, rows)
    # Template output in the subject: the name and the outlet of each contact.
    (project / "templates/invitation/fi/subject.txt").write_text(
        "Kutsu {{ contact.name }} / {{ contact.outlet }}: {{ event.title }}\n", encoding="utf-8"
    )
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["invite", "send", "--yes"])
    assert result.exit_code == 0, result.output
    contacts = {r["email"] for r in rows}
    files = sorted((project / "outbox").glob("*.eml"))
    assert len(files) == len(rows)
    for path in files:
        data = path.read_bytes()
        modern = email.message_from_bytes(data, policy=policy.default)
        (to,) = modern["To"].addresses
        parse_all(data, to.addr_spec)
        row = next(r for r in rows if r["email"] == to.addr_spec)
        assert shown_name(data) == row["name"]
        assert str(modern["Subject"]).startswith(f"Kutsu {row['name']} / {row['name']}:")
        assert not foreign_addresses(data, to.addr_spec, contacts)
        body = b"".join(
            p.get_payload(decode=True) or b"" for p in modern.walk() if not p.is_multipart()
        )
        assert body.count(b"ATTENDEE") == 1
    figures.add(
        "messages scanned for other contacts' addresses", "hostile names (outbox)", len(files)
    )
