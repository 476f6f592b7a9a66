"""MIME: one complete message per journalist, built from rendered text and prebuilt parts.

Structure (what Outlook, Gmail, Apple Mail and Thunderbird all read as an invitation)::

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8
        text/html; charset=utf-8            (when the template has one)
        text/calendar; charset=UTF-8; method=REQUEST   (invitations only)
      application/pdf; name=programme.pdf  (attachments, encoded once per batch)
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import html as html_lib
import mimetypes
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from pathlib import Path
from typing import cast

from mailer.addresses import has_control
from mailer.errors import AttachmentError
from mailer.models import Attachment


def _attach(msg: EmailMessage, part: MIMEPart) -> None:
    msg.attach(cast(EmailMessage, part))


POLICY = email.policy.SMTP  # CRLF line endings, RFC 2047 for non-ASCII headers

_FOOTER = {
    "fi": (
        "Tietosuojaseloste: {privacy}",
        "Jos et halua enää saada median tiedotteitamme, vastaa tähän viestiin tai kirjoita"
        " osoitteeseen {unsubscribe}.",
    ),
    "sv": (
        "Dataskyddsbeskrivning: {privacy}",
        "Om du inte längre vill få våra medieutskick, svara på detta meddelande eller skriv till"
        " {unsubscribe}.",
    ),
    "en": (
        "Privacy notice: {privacy}",
        "To stop receiving our media mailings, reply to this message or write to {unsubscribe}.",
    ),
}


@dataclass(frozen=True)
class Footer:
    privacy_url: str
    unsubscribe_email: str

    def lines(self, language: str) -> list[str]:
        privacy, optout = _FOOTER.get(language, _FOOTER["en"])
        out = []
        if self.privacy_url:
            out.append(privacy.format(privacy=self.privacy_url))
        if self.unsubscribe_email:
            out.append(optout.format(unsubscribe=self.unsubscribe_email))
        return out


def load_attachments(
    paths: Sequence[Path], *, max_mb: float, label_root: Path, key: str
) -> tuple[Attachment, ...]:
    """Read every attachment once; one clear line for a missing, unreadable or large file."""
    out = []
    for path in paths:
        try:
            shown = str(path.relative_to(label_root))
        except ValueError:
            shown = str(path)
        limit = max_mb * 1024 * 1024
        try:
            # Size and kind first: a FIFO or /dev/zero would be read forever, a huge file whole.
            info = path.stat()
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError
            if not stat.S_ISREG(info.st_mode):
                raise AttachmentError(f"{shown}: not a regular file ({key})")
            data = b"" if info.st_size > limit else path.read_bytes()
        except FileNotFoundError:
            raise AttachmentError(f"{shown}: no such file (listed in config.toml {key})") from None
        except IsADirectoryError:
            raise AttachmentError(f"{shown}: is a folder, not a file ({key})") from None
        except OSError as exc:
            raise AttachmentError(f"{shown}: cannot read: {exc.strerror} ({key})") from None
        size = max(info.st_size, len(data))
        if size > limit:
            raise AttachmentError(
                f"{shown}: {size / 1024 / 1024:.1f} MB is larger than the limit of "
                f"{max_mb:g} MB ([invitation] max_attachment_mb)"
            )
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        out.append(Attachment(filename=path.name, content_type=ctype, data=data))
    return tuple(out)


def attachment_parts(attachments: Sequence[Attachment]) -> tuple[MIMEPart, ...]:
    """Encode each attachment once; the parts are shared by every message of a batch."""
    parts = []
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        part = MIMEPart(policy=POLICY)
        part.set_content(att.data, maintype=maintype, subtype=subtype, filename=att.filename)
        parts.append(part)
    return tuple(parts)


def _with_footer_text(text: str, footer: list[str]) -> str:
    if not footer:
        return text
    return text.rstrip("\n") + "\n\n-- \n" + "\n".join(footer) + "\n"


def _with_footer_html(body: str, footer: list[str]) -> str:
    if not footer:
        return body
    block = (
        '<hr style="border:none;border-top:1px solid #ccc;margin-top:2em">'
        '<p style="font-size:small;color:#555">'
        + "<br>".join(html_lib.escape(line) for line in footer)
        + "</p>"
    )
    lower = body.lower()
    at = lower.rfind("</body>")
    return body[:at] + block + body[at:] if at >= 0 else body + block


def _set_subject(msg: EmailMessage, subject: str) -> None:
    """Non-ASCII subjects as whole encoded-words: Python's own folding can leave a doubled space
    at the fold ("25.  kesäkuuta"), which mail clients then show.

    ASCII subjects are folded here at spaces too: Python folds a long one that has a colon
    ("Invitation for the media: ...") as ``Subject:<CRLF> Invitation``, which its own parser then
    reads back with a leading space. Text that looks like an encoded-word is encoded."""
    if "\r" in subject or "\n" in subject:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    words = subject.split(" ")
    if subject.isascii() and "=?" not in subject and max(map(len, words)) < 900:
        lines = [f"Subject: {words[0]}"]
        for word in words[1:]:
            if len(lines[-1]) + 1 + len(word) > 78:
                lines.append(word)
            else:
                lines[-1] += f" {word}"
        msg.set_raw("Subject", "\r\n ".join(lines)[len("Subject: ") :])
        return
    encoded = Header(subject, "utf-8", maxlinelen=76, header_name="Subject").encode(linesep="\r\n")
    msg.set_raw("Subject", encoded)


_PLAIN_NAME_MAX = 40  # Python folds a longer quoted name across lines and drops its quotes


def _set_address(msg: EmailMessage, header: str, name: str, addr: str) -> None:
    """``From`` / ``To``: a display name can never add an address or a header line.

    Python parses ``Address(...)`` back from text before folding it: a name that is an
    encoded-word (``=?utf-8?b?PGFAZXZpbD4=?=``) is decoded and written raw (``<a@evil>``, or a
    CR LF and ``Bcc: ...``), and a long quoted name is folded without its quotes. Such names are
    written here as encoded-words of their literal text, which every client shows as written."""
    if has_control(name) or has_control(addr):
        raise ValueError(f"{header}: control characters (CR/LF?) in {name!r} <{addr}>")
    if not name or ("=?" not in name and len(name) <= _PLAIN_NAME_MAX):
        msg[header] = Address(display_name=name, addr_spec=addr)
        return
    encoded = Header(name, "utf-8", maxlinelen=76, header_name=header).encode(linesep="\r\n")
    last = encoded.rpartition("\r\n")[2]
    gap = " " if len(last) + len(addr) + 3 <= 78 else "\r\n "
    msg.set_raw(header, f"{encoded}{gap}<{addr}>")


@dataclass(frozen=True)
class MessageSpec:
    from_name: str
    from_email: str
    to_name: str
    to_email: str
    subject: str
    text: str
    html: str | None
    message_id: str
    date: dt.datetime
    language: str
    calendar: bytes | None = None
    calendar_method: str = "REQUEST"
    calendar_attachment: bool = False
    bcc: tuple[str, ...] = ()


def build_message(
    spec: MessageSpec,
    *,
    attachments: Sequence[MIMEPart] = (),
    footer: Footer | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> bytes:
    """The complete message as bytes with CRLF line endings."""
    lines = footer.lines(spec.language) if footer else []
    msg = EmailMessage(policy=POLICY)
    _set_address(msg, "From", spec.from_name, spec.from_email)
    _set_address(msg, "To", spec.to_name, spec.to_email)
    _set_subject(msg, spec.subject)
    msg["Date"] = email.utils.format_datetime(spec.date.astimezone(dt.UTC))
    msg["Message-ID"] = spec.message_id
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg["MIME-Version"] = "1.0"

    msg.set_content(_with_footer_text(spec.text, lines), charset="utf-8")
    if spec.html is not None:
        msg.add_alternative(_with_footer_html(spec.html, lines), subtype="html", charset="utf-8")
    if spec.calendar is not None:
        if spec.html is None:
            msg.make_alternative()
        cal = MIMEPart(policy=POLICY)
        cal.set_content(
            spec.calendar,
            maintype="text",
            subtype="calendar",
            cte="base64",
            params={"method": spec.calendar_method},
        )
        cal.replace_header(
            "Content-Type", f'text/calendar; charset="UTF-8"; method={spec.calendar_method}'
        )
        _attach(msg, cal)
    if attachments or (spec.calendar is not None and spec.calendar_attachment):
        msg.make_mixed()
        for part in attachments:
            _attach(msg, part)
        if spec.calendar is not None and spec.calendar_attachment:
            ics = MIMEPart(policy=POLICY)
            ics.set_content(
                spec.calendar, maintype="application", subtype="ics", filename="invite.ics"
            )
            _attach(msg, ics)
    msg["Content-Language"] = spec.language
    # Our raw headers (From, To, Subject) are folded already; Python must not parse and refold
    # them (see _set_address).
    return msg.as_bytes(policy=POLICY.clone(refold_source="none"))
