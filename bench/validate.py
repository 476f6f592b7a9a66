"""Every message must stay valid to the byte: send a sample through mailer's real SMTP path to a
recording aiosmtpd sink on 127.0.0.1, then parse what arrived with the standard library and
icalendar and check it against the contacts, the journal and the attachment.

    bench/.venv/bin/python bench/validate.py [--n 120] [--keep DIR]

Checked for every received message (smtp-sink discards data, so this run uses aiosmtpd):

* wire form: CRLF line ends only, no line over 998 octets, 7-bit ASCII headers, folded header
  lines start with white space, encoded-words at most 75 characters;
* the parser reports no defect in any part;
* envelope and headers: MAIL FROM is the organizer, RCPT TO is the one contact and equals To:;
  From/To display names decode to the organizer's and the contact's name (non-ASCII, long,
  quoted); Subject decodes to the rendered subject with no doubled space at a fold; Date parses;
  Message-ID equals the journal's and is unique; MIME-Version, X-Auto-Response-Suppress,
  List-Unsubscribe, Content-Language;
* structure: multipart/alternative (text/plain, text/html, text/calendar;
  method=REQUEST), inside multipart/mixed with application/pdf when attached;
* text and HTML greet the contact and carry the footer; no other journalist's address anywhere;
* the calendar parses with icalendar: METHOD:REQUEST, one VEVENT whose UID is the journal's, the
  one ATTENDEE is the contact (CN, PARTSTAT=NEEDS-ACTION, RSVP=TRUE), ORGANIZER, SUMMARY,
  DTSTART/DTEND equal to the event's, a VTIMEZONE for the TZID; content lines <= 75 octets;
* the PDF decodes to exactly the bytes of the file (SHA-256).
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.policy
import json
import re
import subprocess
import sys
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, cast

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import FIXED_NOW, PDF_NAME, ProjectSpec, contact_rows, make_project, sha256
from bench.sinks import sink

JOBS = Path(__file__).resolve().parent / "jobs.py"
_ADDRESS = re.compile(rb"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.example", re.ASCII)
_ENCODED_WORD = re.compile(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=")


class Checker:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.checks = 0

    def check(self, ok: bool, where: str, what: str) -> None:
        self.checks += 1
        if not ok:
            self.failures.append(f"{where}: {what}")


def _wire(c: Checker, name: str, raw: bytes) -> None:
    head, _, _body = raw.partition(b"\r\n\r\n")
    c.check(b"\n" not in raw.replace(b"\r\n", b""), name, "bare LF or CR in the data")
    c.check(b"\r" not in raw.replace(b"\r\n", b""), name, "bare CR in the data")
    longest = max(len(line) for line in raw.split(b"\r\n"))
    c.check(longest <= 998, name, f"a line of {longest} octets (limit 998)")
    c.check(head.isascii(), name, "non-ASCII octets in the header")
    for line in head.split(b"\r\n"):
        text = line.decode("ascii", "replace")
        if not line[:1].isspace():
            c.check(":" in text, name, f"header line is neither a field nor a fold: {text!r}")
        for word in _ENCODED_WORD.findall(text):
            c.check(len(word) <= 75, name, f"encoded-word over 75 characters: {word}")


def rfc2047_display_name(raw: str) -> str:
    """The display name of a one-address header, decoded per RFC 2047 section 6.2 (white space
    between adjacent encoded-words is dropped) and RFC 5322 (a quoted-string is unquoted)."""
    from email.header import decode_header, make_header

    unfolded = re.sub(r"\r?\n[ \t]", " ", raw).strip()
    display = unfolded.rpartition("<")[0].strip() if unfolded.endswith(">") else ""
    text = str(make_header(decode_header(display))) if display else ""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def _expected_subjects(cfg: Path) -> dict[str, str]:
    """The subject each language's template renders (no transport, no journal)."""
    from mailer.contacts import loading
    from mailer.messages.plan import build_plan, invitation_spec

    project = loading.load_project(cfg)
    contacts = loading.recipients(project, tag=None, only=None)
    one_each = {c.language: c for c in contacts}
    plan = build_plan(
        project.config,
        list(one_each.values()),
        invitation_spec(project.config),
        now=FIXED_NOW,
        store=None,
    )
    return {i.contact.language: i.subject for i in plan.items}


def check_message(c: Checker, path: Path, ctx: dict[str, Any]) -> None:
    import icalendar

    raw = path.read_bytes()
    data = raw
    env_lines = {}
    while data.startswith(b"X-Envelope-"):
        line, _, data = data.partition(b"\r\n")
        key, _, value = line.decode().partition(": ")
        env_lines[key] = value
    name = path.name
    _wire(c, name, data)
    msg = cast(EmailMessage, BytesParser(policy=email.policy.default).parsebytes(data))
    for part in msg.walk():
        c.check(
            not part.defects, name, f"parser defects in {part.get_content_type()}: {part.defects}"
        )

    to = msg["To"]
    addresses: tuple[Address, ...] = to.addresses if to is not None else ()
    c.check(len(addresses) == 1, name, f"To: has {len(addresses)} addresses")
    if not addresses:
        return
    rcpt = addresses[0].addr_spec
    contact = ctx["contacts"].get(rcpt)
    c.check(contact is not None, name, f"To: {rcpt} is not a contact of the sample")
    if contact is None:
        return
    c.check(
        env_lines.get("X-Envelope-To") == rcpt,
        name,
        f"RCPT TO {env_lines.get('X-Envelope-To')} differs from To: {rcpt}",
    )
    c.check(env_lines.get("X-Envelope-From") == ctx["organizer_email"], name, "MAIL FROM")
    raw_headers = email.message_from_bytes(data, policy=email.policy.compat32)
    shown = rfc2047_display_name(str(raw_headers["To"]))
    c.check(
        shown == contact["name"],
        name,
        f"To: display name {shown!r} != {contact['name']!r} (RFC 2047 decoding)",
    )
    if addresses[0].display_name != shown:
        # CPython's policy.default parser puts a space between adjacent encoded-words of a
        # display name (CPython issue gh-128110): the header is correct, but a word
        # split across two encoded-words reads wrong in such readers. A note, not a failure.
        ctx["notes"].append(
            f"{name}: a word of the To: display name is split across encoded-words "
            f"(CPython {sys.version_info.major}.{sys.version_info.minor} reads "
            f"{addresses[0].display_name!r})"
        )
    sender = msg["From"].addresses[0]
    from_name = rfc2047_display_name(str(raw_headers["From"]))
    c.check(
        from_name == ctx["organizer_name"] and sender.addr_spec == ctx["organizer_email"],
        name,
        f"From: {from_name!r} <{sender.addr_spec}>",
    )
    subject = str(msg["Subject"])
    c.check(
        subject == ctx["subjects"][contact["language"]],
        name,
        f"Subject {subject!r} != {ctx['subjects'][contact['language']]!r}",
    )
    c.check("  " not in subject, name, f"doubled space in the subject {subject!r}")
    try:
        date = email.utils.parsedate_to_datetime(str(msg["Date"]))
        c.check(date.tzinfo is not None, name, "Date has no zone")
    except (TypeError, ValueError):
        c.check(False, name, f"Date does not parse: {msg['Date']}")
    entry = ctx["journal"].get(rcpt)
    c.check(
        entry is not None and str(msg["Message-ID"]) == entry["message_id"],
        name,
        f"Message-ID {msg['Message-ID']} differs from the journal's",
    )
    c.check(entry is not None and entry["state"] == "sent", name, "journal state is not sent")
    mid = str(msg["Message-ID"])
    c.check(mid not in ctx["seen_ids"], name, f"Message-ID {mid} seen twice")
    ctx["seen_ids"].add(mid)
    c.check(str(msg.get("MIME-Version", "")) == "1.0", name, "MIME-Version")
    c.check(
        str(msg.get("X-Auto-Response-Suppress", "")) == "OOF, AutoReply",
        name,
        "X-Auto-Response-Suppress",
    )
    c.check(
        str(msg.get("List-Unsubscribe", "")).strip().startswith("<mailto:"),
        name,
        "List-Unsubscribe",
    )

    # structure: mixed > (alternative, attachments) with an attachment, else the alternative
    want_pdf = ctx["pdf"]
    if want_pdf:
        c.check(msg.get_content_type() == "multipart/mixed", name, msg.get_content_type())
        top = list(msg.iter_parts())
        alt = top[0] if top else None
        attached = top[1:]
    else:
        alt, attached = msg, []
    c.check(
        alt is not None and alt.get_content_type() == "multipart/alternative",
        name,
        "no multipart/alternative where expected",
    )
    if alt is None:
        return
    kinds = [p.get_content_type() for p in alt.iter_parts()]
    c.check(kinds == ["text/plain", "text/html", "text/calendar"], name, f"alternative {kinds}")
    c.check(len(attached) == (1 if want_pdf else 0), name, f"{len(attached)} attachments")
    parts = {p.get_content_type(): cast(EmailMessage, p) for p in alt.iter_parts()}
    greeting = contact["first_name"] or contact["name"]
    text = parts["text/plain"].get_content() if "text/plain" in parts else ""
    html = parts["text/html"].get_content() if "text/html" in parts else ""
    c.check(greeting in text, name, f"text does not greet {greeting!r}")
    import html as html_lib

    c.check(
        html_lib.escape(greeting) in html or greeting in html,
        name,
        f"HTML does not greet {greeting!r}",
    )
    c.check(ctx["privacy_url"] in text and ctx["privacy_url"] in html, name, "footer missing")
    c.check(
        str(parts["text/plain"].get("Content-Language", "")) == contact["language"]
        or str(msg.get("Content-Language", "")) == contact["language"],
        name,
        "Content-Language",
    )
    ics_part = parts.get("text/calendar")
    ics_text = ics_part.get_payload(decode=True) if ics_part is not None else b""
    assert isinstance(ics_text, bytes)
    headers = b"\r\n".join(
        line
        for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")
        if not line.lower().startswith(b"message-id:")
    )
    found = _ADDRESS.findall(headers + (text + html).encode() + ics_text.replace(b"\r\n ", b""))
    allowed = {rcpt.lower(), *ctx["organization_addresses"]}
    if entry is not None and entry["ics_uid"]:
        allowed.add(entry["ics_uid"].lower())  # the calendar UID looks like an address
    others = {a.decode().lower() for a in found} - allowed
    c.check(not others, name, f"other addresses in the message: {sorted(others)[:3]}")

    # calendar
    cal_part = parts.get("text/calendar")
    if cal_part is None:
        return
    c.check(cal_part.get_param("method") == "REQUEST", name, "text/calendar method")
    c.check(str(cal_part.get_param("charset")).lower() == "utf-8", name, "text/calendar charset")
    ics = cal_part.get_payload(decode=True)
    assert isinstance(ics, bytes)
    for line in ics.split(b"\r\n"):
        c.check(len(line) <= 75, name, f"calendar content line of {len(line)} octets")
    c.check(b"\n" not in ics.replace(b"\r\n", b""), name, "calendar without CRLF")
    cal = icalendar.Calendar.from_ical(ics)
    c.check(str(cal.get("METHOD")) == "REQUEST", name, "METHOD")
    events = [e for e in cal.walk("VEVENT")]
    c.check(len(events) == 1, name, f"{len(events)} VEVENTs")
    if not events:
        return
    ev = events[0]
    c.check(entry is not None and str(ev.get("UID")) == entry["ics_uid"], name, "UID != journal")
    attendees = ev.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    c.check(len(attendees) == 1, name, f"{len(attendees)} ATTENDEEs")
    att = attendees[0]
    c.check(str(att).lower() == f"mailto:{rcpt}".lower(), name, f"ATTENDEE {att}")
    c.check(att.params.get("CN") == contact["name"], name, f"ATTENDEE CN {att.params.get('CN')}")
    c.check(att.params.get("PARTSTAT") == "NEEDS-ACTION", name, "PARTSTAT")
    c.check(str(att.params.get("RSVP")).upper() == "TRUE", name, "RSVP")
    org = ev.get("ORGANIZER")
    c.check(str(org).lower() == f"mailto:{ctx['organizer_email']}", name, f"ORGANIZER {org}")
    c.check(str(ev.get("SUMMARY")) == ctx["title"], name, "SUMMARY")
    start = ev.decoded("DTSTART")
    end = ev.decoded("DTEND")
    c.check(isinstance(start, dt.datetime) and start == ctx["start"], name, f"DTSTART {start}")
    c.check(isinstance(end, dt.datetime) and end == ctx["end"], name, f"DTEND {end}")
    tzid = ev["DTSTART"].params.get("TZID")
    zones = {str(z.get("TZID")) for z in cal.walk("VTIMEZONE")}
    c.check(tzid is None or tzid in zones, name, f"no VTIMEZONE for TZID {tzid}")

    # attachment
    if want_pdf and attached:
        pdf = cast(EmailMessage, attached[0])
        c.check(pdf.get_content_type() == "application/pdf", name, pdf.get_content_type())
        c.check(pdf.get_filename() == PDF_NAME, name, f"filename {pdf.get_filename()}")
        c.check(pdf.get_content_disposition() == "attachment", name, "Content-Disposition")
        payload = pdf.get_payload(decode=True)
        c.check(
            isinstance(payload, bytes) and sha256(payload) == ctx["pdf_sha256"],
            name,
            "PDF bytes differ from the file",
        )


def validate_variant(work: Path, n: int, pdf: bool, c: Checker) -> int:
    """Send *n* invitations through mailer to a recording sink, then check what arrived."""
    variant = "pdf" if pdf else "plain"
    record = work / f"received-{variant}"
    with sink("aiosmtpd", record=record) as server:
        cfg = make_project(work / f"project-{variant}", ProjectSpec(n, pdf, server.port, 3))
        proc = subprocess.run(
            [sys.executable, str(JOBS), "mailer", "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if proc.returncode != 0:
            c.check(False, "mailer run", proc.stderr[-2000:])
            return 0
    return check_folder(cfg, record, n=n, pdf=pdf, c=c)


def check_folder(cfg: Path, record: Path, *, n: int, pdf: bool, c: Checker) -> int:
    """Check every message in *record* against the project *cfg* and its journal."""
    from mailer.config.load import load_config
    from mailer.messages.plan import invitation_spec
    from mailer.store import Store

    config = load_config(cfg)
    spec = invitation_spec(config)
    with Store(config.store_path) as store:
        journal = {
            e.email: {"message_id": e.message_id, "ics_uid": e.ics_uid, "state": e.state.value}
            for e in store.journal.entries(spec.campaign, spec.round)
        }
    org = config.organizer
    ctx: dict[str, Any] = {
        "contacts": {row["email"]: row for row in contact_rows(n)},
        "journal": journal,
        "subjects": _expected_subjects(cfg),
        "organizer_name": org.name,
        "organizer_email": org.email,
        "organization_addresses": {org.email.lower(), org.unsubscribe_email.lower()},
        "privacy_url": org.privacy_url,
        "title": config.event.title,
        "start": config.event.start,
        "end": config.event.end,
        "pdf": pdf,
        "pdf_sha256": sha256((cfg.parent / PDF_NAME).read_bytes()),
        "seen_ids": set(),
        "notes": c.notes,
    }
    files = sorted(record.glob("*.eml"))
    c.check(len(files) == n, "sink", f"received {len(files)} of {n} messages")
    for path in files:
        try:
            check_message(c, path, ctx)
        except Exception as exc:  # a message so broken that a check itself failed
            c.check(False, path.name, f"{type(exc).__name__}: {exc}")
    return len(files)


def validate_run(work: Path, *, n: int = 120) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    c = Checker()
    half = max(1, n // 2)
    count = validate_variant(work, half, True, c) + validate_variant(work, n - half, False, c)
    return {"messages": count, "checks": c.checks, "failures": c.failures, "notes": c.notes}


def main() -> int:
    import tempfile

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=120, help="messages (half with the PDF)")
    parser.add_argument("--keep", type=Path, help="work here and keep what was received")
    parser.add_argument(
        "--check-only",
        type=Path,
        metavar="DIR",
        help="only check DIR (a --keep folder) again, e.g. after editing a file",
    )
    args = parser.parse_args()
    if args.check_only:
        c = Checker()
        count = 0
        for variant, pdf in (("pdf", True), ("plain", False)):
            record = args.check_only / f"received-{variant}"
            cfg = args.check_only / f"project-{variant}" / "config.toml"
            if record.is_dir():
                n = len(list(record.glob("*.eml")))
                count += check_folder(cfg, record, n=n, pdf=pdf, c=c)
        report = {"messages": count, "checks": c.checks, "failures": c.failures, "notes": c.notes}
    elif args.keep:
        report = validate_run(args.keep, n=args.n)
    else:
        with tempfile.TemporaryDirectory(prefix="mailer-validate-") as tmp:
            report = validate_run(Path(tmp), n=args.n)
    print(json.dumps({k: v for k, v in report.items() if k not in ("failures", "notes")}))
    for note in report["notes"][:20]:
        print(f"note {note}")
    for failure in report["failures"][:50]:
        print(f"FAIL {failure}")
    print("OK" if not report["failures"] else f"{len(report['failures'])} failures")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
