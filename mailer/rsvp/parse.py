"""Read one raw message into a :class:`ParsedMessage` (pure; untrusted input; never raises).

The MIME tree is walked by :mod:`.mimewalk` (the body text of the message itself, calendar
objects wherever they are, the machine-readable parts of delivery reports; parts over
:data:`~.mimewalk.MAX_PART_BYTES` skipped) and headers are read through :mod:`.mailheaders`
(a value over :data:`~.textutil.MAX_HEADER_CHARS` is cut; ``References`` keeps its end). A
message over :data:`MAX_MESSAGE_BYTES` is read for its headers only; each cut or skip is listed
in ``notes``.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
from dataclasses import dataclass

from mailer.rsvp.mailheaders import all_headers, capped, content_type_of, param_of, raw_headers
from mailer.rsvp.mimewalk import CalendarPart, Walk, structure_defects, walk
from mailer.rsvp.results import Envelope
from mailer.rsvp.senders import Sender, read_sender
from mailer.rsvp.textutil import (
    MAX_TEXT_CHARS,
    decode_header,
    html_to_text,
    message_ids,
    parse_date,
    tidy,
)

MAX_MESSAGE_BYTES = 40 * 1024 * 1024

_KNOWN_HEADERS = frozenset({"from", "subject", "message-id", "date", "content-type"})
_STRUCTURE_DEFECTS = frozenset(
    {
        "StartBoundaryNotFoundDefect",
        "CloseBoundaryNotFoundDefect",
        "NoBoundaryInMultipartDefect",
        "MultipartInvariantViolationDefect",
        "MissingHeaderBodySeparatorDefect",
        "InvalidMultipartContentTransferEncodingDefect",
        "MisplacedEnvelopeHeaderDefect",
    }
)


@dataclass(frozen=True)
class ParsedMessage:
    envelope: Envelope
    headers: tuple[tuple[str, str], ...]  # (lower-case name, decoded value), top level only
    content_type: str
    report_type: str  # of a top-level multipart/report ("delivery-status", ...)
    text: str  # the body text of the message itself (plain preferred, else HTML as text)
    calendars: tuple[CalendarPart, ...] = ()
    delivery_status: tuple[tuple[tuple[str, str], ...], ...] = ()  # field blocks of RFC 3464
    returned_headers: tuple[tuple[str, str], ...] = ()  # of the message a report returns
    attachments: tuple[str, ...] = ()  # "application/ms-tnef winmail.dat", ...
    structure_broken: bool = False  # MIME structure defects: the text may be mixed up
    unreadable: str = ""  # why nothing could be read ("" when readable)

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for n, v in self.headers if n == wanted), "")


def message_key(raw: bytes, message_id: str) -> str:
    """The idempotency key of a message: its Message-ID, else a hash of its bytes."""
    if message_id:
        return f"mid:{message_id}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def parse_message(raw: bytes) -> ParsedMessage:
    """Read *raw*; on input that cannot be read at all, ``unreadable`` says why."""
    try:
        return _parse(raw)
    except Exception as exc:  # untrusted input: report, never raise
        key = message_key(raw, "")
        env = Envelope(key, "", "", "", "", None, (), (), len(raw), ())
        return ParsedMessage(env, (), "", "", "", unreadable=f"cannot read the message: {exc!r}")


def _parse(raw: bytes) -> ParsedMessage:
    state = Walk()
    data = raw
    if len(raw) > MAX_MESSAGE_BYTES:
        data = header_block(raw, 1024 * 1024)
        state.note(f"message of {len(raw) / 1048576:.1f} MB: only its headers were read")
    if not data.strip():
        key = message_key(raw, "")
        env = Envelope(key, "", "", "", "", None, (), (), len(raw), tuple(state.notes))
        return ParsedMessage(env, (), "", "", "", unreadable="empty message")
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    items = msg.items()
    headers = tuple(
        (str(name).lower(), decode_header(capped(str(name).lower(), value, state.note)))
        for name, value in items[:200]
    )
    if not {n for n, _v in headers} & _KNOWN_HEADERS and all(
        msg.get(n) is None for n in ("From", "Subject", "Message-ID", "Date", "Content-Type")
    ):
        key = message_key(raw, "")
        env = Envelope(key, "", "", "", "", None, (), (), len(raw), tuple(state.notes))
        return ParsedMessage(env, headers, "", "", "", unreadable="no mail headers found")
    top = _Headers(msg, headers, complete=len(items) <= len(headers))
    defects = structure_defects(msg)
    sender = read_sender(raw_headers(msg, "from"))
    ctype = content_type_of(msg)
    report = ctype == "multipart/report"
    walk(msg, state, depth=0, forwarded=False, carrier=sender.address, top_report=report)
    if defects & _STRUCTURE_DEFECTS:
        state.note("the MIME structure is damaged (" + ", ".join(sorted(defects)) + ")")
    envelope = _envelope(raw, top, sender, tuple(state.notes))
    plain = "\n".join(state.plain).strip()
    text = plain or "\n".join(html_to_text(h) for h in state.html).strip()
    return ParsedMessage(
        envelope=envelope,
        headers=headers,
        content_type=ctype,
        report_type=param_of(msg, "report-type").lower() if report else "",
        text=text[:MAX_TEXT_CHARS],
        calendars=tuple(state.calendars),
        delivery_status=tuple(state.status),
        returned_headers=state.returned,
        attachments=tuple(state.attachments),
        structure_broken=bool(defects & _STRUCTURE_DEFECTS),
    )


def header_block(raw: bytes, limit: int) -> bytes:
    """The header block of *raw* (to the first blank line, within its first *limit* bytes),
    ended by a blank line."""
    head = raw[:limit]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return head[: min(ends)] + b"\n\n" if ends else head + b"\n\n"


class _Headers:
    """The decoded top-level headers, looked up without scanning the message again."""

    def __init__(
        self, msg: email.message.Message, decoded: tuple[tuple[str, str], ...], *, complete: bool
    ) -> None:
        self._msg = msg
        self._complete = complete  # False past 200 headers: ask the message itself
        self._values: dict[str, list[str]] = {}
        for name, value in decoded:
            self._values.setdefault(name, []).append(value)

    def all(self, name: str) -> list[str]:
        if not self._complete:
            return all_headers(self._msg, name)
        return self._values.get(name, [])[:10]

    def first(self, name: str) -> str:
        values = self.all(name)
        return values[0] if values else ""


def _envelope(raw: bytes, top: _Headers, sender: Sender, notes: tuple[str, ...]) -> Envelope:
    mid_header = top.first("message-id")
    ids = message_ids(mid_header)
    message_id = ids[0] if ids else tidy(mid_header)[:300]
    return Envelope(
        key=message_key(raw, message_id),
        message_id=message_id,
        subject=top.first("subject")[:500],
        sender=sender.address,
        sender_name=sender.name[:200],
        date=parse_date(top.first("date")),
        in_reply_to=message_ids(top.first("in-reply-to"))[:20],
        references=message_ids(" ".join(top.all("references")))[-50:],
        size=len(raw),
        notes=notes,
        sender_doubt=sender.doubt,
    )
