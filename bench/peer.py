"""The peer's inputs: a mailmerge template, database and server config producing a comparable
message (text, HTML and a per-recipient calendar part, about 6 KB; with the 200 KB PDF attached
through mailmerge's ``ATTACHMENT:`` template header).

The template is derived from a message that mailer renders for the same project, so both tools
send the same words, markup and calendar object. Two differences are forced by mailmerge and make
its job slightly easier, not harder: mailmerge passes the flattened message to ``smtplib`` as a
``str``, which must be ASCII, so the From and Subject headers are pre-encoded once in the template
(RFC 2047) and ``To:`` carries the bare address (a per-recipient non-ASCII display name cannot be
encoded by a Jinja2 template without a custom filter). mailmerge base64-encodes every non-ASCII
part.
"""

from __future__ import annotations

import csv
import email
import email.policy
import secrets
import shutil
from email.header import Header
from email.message import EmailMessage
from pathlib import Path
from typing import cast

from bench.common import LOOPBACK, PDF_NAME, contact_rows, pdf_200k


def _parts(data: bytes) -> tuple[str, str, str, str, str]:
    msg = cast(EmailMessage, email.message_from_bytes(data, policy=email.policy.default))
    text = html = cal = ""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "text/plain":
            text = cast(EmailMessage, part).get_content()
        elif ctype == "text/html":
            html = cast(EmailMessage, part).get_content()
        elif ctype == "text/calendar":
            raw = part.get_payload(decode=True)
            assert isinstance(raw, bytes)
            cal = raw.decode("utf-8")
    return str(msg["Subject"]), str(msg["From"]), text, html, cal


def _guard(text: str) -> str:
    if "{{" in text or "{%" in text or "{#" in text:
        raise ValueError("rendered text looks like Jinja2 syntax; cannot be made a template")
    return text


def _templated(text: str, first: str, name: str, email_addr: str, uid: str) -> str:
    text = _guard(text)
    for value, slot in ((uid, "{{uid}}"), (email_addr, "{{email}}"), (name, "{{name}}")):
        text = text.replace(value, slot)
    return text.replace(f"Hei {first},", "Hei {{first_name}},")


def write_peer_project(
    dest: Path,
    *,
    sample: bytes,
    sample_contact: dict[str, str],
    sample_uid: str,
    n: int,
    pdf: bool,
    port: int,
) -> Path:
    """Write template.txt, database.csv, server.conf (and programme.pdf) into *dest*."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    subject, sender, text, html, cal = _parts(sample)
    first, name, addr = (sample_contact[k] for k in ("first_name", "name", "email"))
    text = _templated(text, first, name, addr, sample_uid)
    html = _templated(html, first, name, addr, sample_uid)
    cal = cal.replace("\r\n ", "").replace("\n ", "")  # unfold: values are substituted
    cal = _templated(cal, first, name, addr, sample_uid).replace("\r\n", "\n")
    enc_subject = Header(subject, "utf-8").encode()
    display, _, address = sender.rpartition(" <")
    enc_from = f"{Header(display, 'utf-8').encode()} <{address}"
    attachment = f"ATTACHMENT: {PDF_NAME}\n" if pdf else ""
    template = (
        "TO: {{email}}\n"
        f"FROM: {enc_from}\n"
        f"SUBJECT: {enc_subject}\n"
        f"{attachment}"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="bench-outer"\n'
        "\n"
        "--bench-outer\n"
        'Content-Type: multipart/alternative; boundary="bench-alt"\n'
        "\n"
        "--bench-alt\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "\n"
        f"{text}\n"
        "--bench-alt\n"
        'Content-Type: text/html; charset="utf-8"\n'
        "\n"
        f"{html}\n"
        "--bench-alt\n"
        'Content-Type: text/calendar; charset="utf-8"; method=REQUEST\n'
        "\n"
        f"{cal}\n"
        "--bench-alt--\n"
        "\n"
        "--bench-outer--\n"
    )
    (dest / "template.txt").write_text(template, encoding="utf-8")
    with (dest / "database.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "first_name", "uid"])
        for row in contact_rows(n):
            uid = f"bench-{secrets.token_urlsafe(18)}@kokkola.example"
            writer.writerow([row["email"], row["name"], row["first_name"] or row["name"], uid])
    (dest / "server.conf").write_text(
        f"[smtp_server]\nhost = {LOOPBACK}\nport = {port}\nratelimit = 0\n", encoding="utf-8"
    )
    if pdf:
        (dest / PDF_NAME).write_bytes(pdf_200k())
    return dest


def peer_message_size(dest: Path) -> int:
    """Bytes of the first message mailmerge renders from *dest* (what smtplib would send)."""
    from mailmerge.template_message import TemplateMessage

    with (dest / "database.csv").open(encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    _sender, _rcpts, message = TemplateMessage(dest / "template.txt").render(row)
    flat = str(message).replace("\r\n", "\n").replace("\n", "\r\n")
    return len(flat.encode("ascii"))
