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

import base64
import binascii
import datetime as dt
import email.policy
import email.utils
import html as html_lib
import mimetypes
import re
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.header import Header
from email.message import MIMEPart
from functools import lru_cache
from pathlib import Path

from mailer.addresses import has_control
from mailer.errors import AttachmentError
from mailer.models import Attachment

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

    def html_lines(self, language: str) -> list[str]:
        """:meth:`lines` as HTML, the privacy notice and the opt-out address as links."""
        privacy, optout = _FOOTER.get(language, _FOOTER["en"])
        out = []
        if self.privacy_url:
            url = html_lib.escape(self.privacy_url)
            link = f'<a href="{url}">{url}</a>' if _WEB.match(self.privacy_url) else url
            out.append(_html_format(privacy, privacy=link))
        if self.unsubscribe_email:
            address = html_lib.escape(self.unsubscribe_email)
            out.append(
                _html_format(optout, unsubscribe=f'<a href="mailto:{address}">{address}</a>')
            )
        return out


@lru_cache(maxsize=64)
def _footer_lines(footer: Footer, language: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The footer's text and HTML lines, built once per language (not per message)."""
    return tuple(footer.lines(language)), tuple(footer.html_lines(language))


_WEB = re.compile(r"https?://[^\s\"<>]+\Z", re.IGNORECASE)
# Where the footer goes in the HTML part: this comment, inside the content column of the
# starter templates; without it, a column of its own before </body>.
FOOTER_MARK = "<!-- mailer: footer -->"


def _html_format(line: str, **links: str) -> str:
    """*line* escaped, with its ``{name}`` places filled by the (already HTML) *links*."""
    pieces = re.split(r"(\{\w+\})", line)
    return "".join(
        links[piece[1:-1]] if piece[1:-1] in links else html_lib.escape(piece) for piece in pieces
    )


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


def attachment_parts(attachments: Sequence[Attachment]) -> tuple[EncodedPart, ...]:
    """Encode each attachment once; the encoded bytes are shared by every message of a batch."""
    parts = []
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        part = MIMEPart(policy=POLICY)
        part.set_content(att.data, maintype=maintype, subtype=subtype, filename=att.filename)
        parts.append(EncodedPart(part.as_bytes(policy=POLICY)))
    return tuple(parts)


def _with_footer_text(text: str, footer: Sequence[str]) -> str:
    if not footer:
        return text
    return text.rstrip("\n") + "\n\n-- \n" + "\n".join(footer) + "\n"


def _with_footer_html(body: str, footer: Sequence[str]) -> str:
    """The footer at :data:`FOOTER_MARK` (inside the template's content column), else in a
    600 px column of its own at the end of the body."""
    if not footer:
        return body
    block = (
        '<hr style="border:none;border-top:1px solid #cccccc;margin:32px 0 0 0;">'
        '<p style="margin:8px 0 0 0;font-size:13px;line-height:1.4;color:#555555;">'
        + "<br>".join(footer)
        + "</p>"
    )
    at = body.find(FOOTER_MARK)
    if at >= 0:
        return body[:at] + block + body[at + len(FOOTER_MARK) :]
    block = f'<div style="max-width:600px;margin:0 auto;">{block}</div>'
    at = body.lower().rfind("</body>")
    return body[:at] + block + body[at:] if at >= 0 else body + block


@lru_cache(maxsize=1024)
def _subject_value(subject: str) -> str:
    """The folded value of ``Subject``.

    Non-ASCII subjects as whole encoded-words: Python's own folding can leave a doubled space
    at the fold ("25.  kesäkuuta"), which mail clients then show. ASCII subjects are folded at
    spaces (never right after the colon, which parsers read back with a leading space). Text
    that looks like an encoded-word is encoded, so that nobody's client decodes it."""
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
        return "\r\n ".join(lines)[len("Subject: ") :]
    return Header(subject, "utf-8", maxlinelen=76, header_name="Subject").encode(linesep="\r\n")


_PLAIN_NAME_MAX = 40  # longer names are encoded, so that folding never splits a quoted name


@lru_cache(maxsize=4096)
def _address_value(header: str, name: str, addr: str) -> str:
    """``From`` / ``To``: a display name can never add an address or a header line.

    A name that looks like an encoded-word (``=?utf-8?b?PGFAZXZpbD4=?=``), a non-ASCII name and a
    long name are written as encoded-words of their literal text, which every client shows as
    written; short ASCII names are quoted where RFC 5322 needs it."""
    if has_control(name) or has_control(addr):
        raise ValueError(f"{header}: control characters (CR/LF?) in {name!r} <{addr}>")
    if not addr.isascii() or any(ch in addr for ch in ' <>,;"\\'):
        raise ValueError(f"{header}: not a single plain address: {addr!r}")
    if not name:
        return addr
    if name.isascii() and "=?" not in name and len(name) <= _PLAIN_NAME_MAX:
        value = email.utils.formataddr((name, addr))
        if len(header) + 2 + len(value) <= 78:
            return value
        display = value[: -len(addr) - 2].rstrip()
        return f"{display}\r\n <{addr}>"
    encoded = Header(name, "utf-8", maxlinelen=76, header_name=header).encode(linesep="\r\n")
    _, crlf, last = encoded.rpartition("\r\n")
    used = len(last) if crlf else len(header) + 2 + len(last)
    gap = " " if used + len(addr) + 3 <= 78 else "\r\n "
    return f"{encoded}{gap}<{addr}>"


def _plain_value(header: str, value: str) -> str:
    """A header whose value is ASCII without spaces to fold at (List-Unsubscribe, Message-ID)."""
    if has_control(value):
        raise ValueError(f"{header}: control characters (CR/LF?) in {value!r}")
    if not value.isascii():
        raise ValueError(f"{header}: not a plain ASCII value: {value!r}")
    if len(header) + 2 + len(value) > 78 and not value.startswith(" "):
        return f"\r\n {value}"
    return value


@dataclass(frozen=True)
class EncodedPart:
    """A MIME entity serialised once (headers, blank line, body; CRLF line endings)."""

    data: bytes


def qp_without_leading_dots(body: bytes) -> bytes:
    """No encoded line starts with a dot: SMTP would have to dot-stuff it (and some gateways
    mangle such lines), so a leading ``.`` becomes ``=2E`` (RFC 2045 §6.7 allows encoding any
    octet), with a soft line break added where that takes a line over 76 characters."""
    if b"\n." not in body and not body.startswith(b"."):
        return body
    out: list[bytes] = []
    for line in body.split(b"\r\n"):
        while line.startswith(b"."):
            line = b"=2E" + line[1:]
            if len(line) <= 76:
                break
            cut = 75  # room for the soft break's "="; never inside an "=XX" escape
            while b"=" in line[cut - 2 : cut]:
                cut -= 1
            out.append(line[:cut] + b"=")
            line = line[cut:]
        out.append(line)
    return b"\r\n".join(out)


def _text_entity(subtype: str, text: str) -> EncodedPart:
    """UTF-8 text, quoted-printable (readable in the raw source, 7-bit safe, lines <= 76)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    body = binascii.b2a_qp(normalised.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    body = qp_without_leading_dots(body)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return EncodedPart(head.encode("ascii") + body)


def _base64_entity(head: str, data: bytes) -> EncodedPart:
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return EncodedPart(f"{head}Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii") + body)


def _multipart_pieces(subtype: str, parts: Sequence[EncodedPart], boundary: str) -> list[bytes]:
    """A multipart entity as pieces; each part's bytes are one piece, the same object."""
    delimiter = f"--{boundary}\r\n".encode("ascii")
    chunks = [f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n\r\n'.encode()]
    for part in parts:
        chunks.append(delimiter)
        chunks.append(part.data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return chunks


def _multipart(subtype: str, parts: Sequence[EncodedPart], boundary: str) -> EncodedPart:
    return EncodedPart(b"".join(_multipart_pieces(subtype, parts, boundary)))


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
    attachments: Sequence[EncodedPart] = (),
    footer: Footer | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> bytes:
    """The complete message as bytes with CRLF line endings.

    Assembled from encoded parts rather than flattened by the ``email`` package: the shared
    parts (attachments) are encoded once per batch, and each message costs a few string joins.
    Tests parse every kind of message back with the standard library and a second parser.
    """
    return b"".join(
        build_segments(spec, attachments=attachments, footer=footer, extra_headers=extra_headers)
    )


def build_segments(
    spec: MessageSpec,
    *,
    attachments: Sequence[EncodedPart] = (),
    footer: Footer | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[bytes, ...]:
    """:func:`build_message` in pieces: each attachment's encoded bytes are a piece of their own
    (the very object in *attachments*, shared by the batch), the message's own bytes between
    them are joined. The pieces concatenated are the message."""
    lines, html_lines = _footer_lines(footer, spec.language) if footer else ((), ())
    headers = [
        f"From: {_address_value('From', spec.from_name, spec.from_email)}",
        f"To: {_address_value('To', spec.to_name, spec.to_email)}",
        f"Subject: {_subject_value(spec.subject)}",
        f"Date: {email.utils.format_datetime(spec.date.astimezone(dt.UTC))}",
        f"Message-ID: {_plain_value('Message-ID', spec.message_id)}",
        "X-Auto-Response-Suppress: OOF, AutoReply",
    ]
    for name, value in (extra_headers or {}).items():
        folded = _plain_value(name, value)
        headers.append(f"{name}:{folded}" if folded.startswith("\r\n") else f"{name}: {folded}")
    headers.append("MIME-Version: 1.0")

    alternatives = [_text_entity("plain", _with_footer_text(spec.text, lines))]
    if spec.html is not None:
        alternatives.append(_text_entity("html", _with_footer_html(spec.html, html_lines)))
    if spec.calendar is not None:
        alternatives.append(
            _base64_entity(
                f'Content-Type: text/calendar; charset="UTF-8"; method={spec.calendar_method}\r\n',
                spec.calendar,
            )
        )
    token = secrets.token_hex(12)
    body = (
        alternatives[0]
        if len(alternatives) == 1
        else _multipart("alternative", alternatives, f"=_a{token}")
    )
    mixed = [body, *attachments]
    if spec.calendar is not None and spec.calendar_attachment:
        mixed.append(
            _base64_entity(
                'Content-Type: application/ics; name="invite.ics"\r\n'
                'Content-Disposition: attachment; filename="invite.ics"\r\n',
                spec.calendar,
            )
        )
    pieces = [body.data] if len(mixed) == 1 else _multipart_pieces("mixed", mixed, f"=_m{token}")
    head, _, rest = pieces[0].partition(b"\r\n\r\n")
    headers.append(f"Content-Language: {spec.language}")
    pieces[0] = "\r\n".join(headers).encode("ascii") + b"\r\n" + head + b"\r\n\r\n" + rest
    return _coalesce(pieces, {id(part.data) for part in attachments})


def _coalesce(pieces: Sequence[bytes], shared: set[int]) -> tuple[bytes, ...]:
    """Join the runs of pieces between the shared ones."""
    if not shared:
        return (b"".join(pieces),)
    out: list[bytes] = []
    run: list[bytes] = []
    for piece in pieces:
        if id(piece) in shared:
            if run:
                out.append(b"".join(run))
                run = []
            out.append(piece)
        else:
            run.append(piece)
    if run:
        out.append(b"".join(run))
    return tuple(out)
