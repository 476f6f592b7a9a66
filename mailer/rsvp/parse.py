"""Read one raw message into a :class:`ParsedMessage` (pure; untrusted input; never raises).

The reader finds calendar objects wherever they are (inline ``text/calendar`` with or without a
``method`` parameter, ``application/ics``, an ``.ics`` attachment of any name, an
``application/octet-stream`` named ``*.ics``, inside forwarded ``message/rfc822`` parts), the
body text of the message itself, and the machine-readable parts of delivery reports. Limits keep
hostile mail cheap: parts over :data:`MAX_PART_BYTES` are skipped, a message over
:data:`MAX_MESSAGE_BYTES` is read for its headers only, a header value over
:data:`MAX_HEADER_CHARS` is cut (``References`` keeps its end: the nearest ancestors), and each
cut or skip is listed in ``notes``.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.parser
import email.policy
import email.utils
import hashlib
from dataclasses import dataclass, field

from mailer.rsvp.results import Envelope
from mailer.rsvp.senders import Sender, mailboxes, read_sender
from mailer.rsvp.textutil import (
    MAX_HEADER_CHARS,
    MAX_TEXT_CHARS,
    decode_bytes,
    decode_header,
    html_to_text,
    message_ids,
    parse_date,
    tidy,
)

MAX_PART_BYTES = 5 * 1024 * 1024
MAX_MESSAGE_BYTES = 40 * 1024 * 1024
MAX_PARTS = 300
MAX_DEPTH = 8
_KEEP_END = frozenset({"references"})  # its last ids are the nearest ancestors

_CALENDAR_TYPES = frozenset(
    {"text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics", "text/ics"}
)
_KNOWN_HEADERS = frozenset({"from", "subject", "message-id", "date", "content-type"})
_CALENDAR_SUFFIXES = (".ics", ".ical", ".icalendar", ".vcs")
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
class CalendarPart:
    """The text of one calendar object as found in the message."""

    text: str
    where: str  # "text/calendar (inline)", "application/ics invite.ics", ...
    method_param: str  # the Content-Type "method" parameter, upper-case, "" if absent
    from_address: str  # From of the message that carries it (the inner one when forwarded)
    forwarded: bool


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


@dataclass
class _Walk:
    """Mutable state of one walk through the MIME tree."""

    notes: list[str] = field(default_factory=list)
    parts: int = 0
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    calendars: list[CalendarPart] = field(default_factory=list)
    seen_calendars: set[str] = field(default_factory=set)
    status: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    returned: tuple[tuple[str, str], ...] = ()
    attachments: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < 20:
            self.notes.append(text)


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
    state = _Walk()
    data = raw
    if len(raw) > MAX_MESSAGE_BYTES:
        data = _header_block(raw)
        state.note(f"message of {len(raw) / 1048576:.1f} MB: only its headers were read")
    if not data.strip():
        key = message_key(raw, "")
        env = Envelope(key, "", "", "", "", None, (), (), len(raw), tuple(state.notes))
        return ParsedMessage(env, (), "", "", "", unreadable="empty message")
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    items = msg.items()
    headers = tuple(
        (str(name).lower(), decode_header(_capped(str(name).lower(), value, state)))
        for name, value in items[:200]
    )
    if not {n for n, _v in headers} & _KNOWN_HEADERS and all(
        msg.get(n) is None for n in ("From", "Subject", "Message-ID", "Date", "Content-Type")
    ):
        key = message_key(raw, "")
        env = Envelope(key, "", "", "", "", None, (), (), len(raw), tuple(state.notes))
        return ParsedMessage(env, headers, "", "", "", unreadable="no mail headers found")
    top = _Headers(msg, headers, complete=len(items) <= len(headers))
    defects = _defects(msg)
    sender = read_sender(raw_headers(msg, "from"))
    ctype = _content_type(msg)
    report = ctype == "multipart/report"
    _walk(msg, state, depth=0, forwarded=False, carrier=sender.address, top_report=report)
    if defects & _STRUCTURE_DEFECTS:
        state.note("the MIME structure is damaged (" + ", ".join(sorted(defects)) + ")")
    envelope = _envelope(raw, top, sender, tuple(state.notes))
    plain = "\n".join(state.plain).strip()
    text = plain or "\n".join(html_to_text(h) for h in state.html).strip()
    return ParsedMessage(
        envelope=envelope,
        headers=headers,
        content_type=ctype,
        report_type=_param(msg, "report-type").lower() if report else "",
        text=text[:MAX_TEXT_CHARS],
        calendars=tuple(state.calendars),
        delivery_status=tuple(state.status),
        returned_headers=state.returned,
        attachments=tuple(state.attachments),
        structure_broken=bool(defects & _STRUCTURE_DEFECTS),
    )


def _capped(name: str, value: object, state: _Walk | None = None) -> object:
    """*value* cut to :data:`MAX_HEADER_CHARS` (before decoding, so the decoder never sees more),
    with a note; ``References`` keeps its end."""
    text = value if isinstance(value, str) else None
    if text is None:
        try:
            text = str(value)
        except Exception:
            return value
    if len(text) <= MAX_HEADER_CHARS:
        return value
    if state is not None:
        state.note(f"the {name} header of {len(text):,} characters was cut to {MAX_HEADER_CHARS:,}")
    if name in _KEEP_END:
        return text[-MAX_HEADER_CHARS:]
    return text[:MAX_HEADER_CHARS]


def _header_block(raw: bytes) -> bytes:
    head = raw[: 1024 * 1024]
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
            return _all_headers(self._msg, name)
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


def _walk(
    msg: email.message.Message,
    state: _Walk,
    *,
    depth: int,
    forwarded: bool,
    carrier: str,
    top_report: bool,
) -> None:
    state.parts += 1
    if state.parts > MAX_PARTS:
        state.note(f"more than {MAX_PARTS} MIME parts: the rest was not read")
        return
    if depth > MAX_DEPTH:
        state.note(f"MIME parts nested deeper than {MAX_DEPTH}: not read")
        return
    ctype = _content_type(msg)
    try:
        if msg.is_multipart():
            _walk_container(msg, ctype, state, depth, forwarded, carrier, top_report)
        else:
            _leaf(msg, ctype, state, forwarded=forwarded, carrier=carrier, top_report=top_report)
    except Exception as exc:  # one bad part must not hide the others
        state.note(f"a {ctype} part could not be read ({type(exc).__name__})")


def _walk_container(
    msg: email.message.Message,
    ctype: str,
    state: _Walk,
    depth: int,
    forwarded: bool,
    carrier: str,
    top_report: bool,
) -> None:
    payload = msg.get_payload()
    subs = (
        [p for p in payload if isinstance(p, email.message.Message)]
        if isinstance(payload, list)
        else []
    )
    if ctype == "message/delivery-status":
        if top_report and not forwarded:
            state.status.extend(
                tuple((str(k).lower(), tidy(str(v))) for k, v in b.items()) for b in subs[:100]
            )
        return
    if ctype.startswith("message/"):
        for inner in subs[:1]:
            if not forwarded and not state.returned:  # a returned or forwarded original
                state.returned = tuple(
                    (str(k).lower(), decode_header(_capped(str(k).lower(), v)))
                    for k, v in inner.items()[:200]
                )
            _name, inner_from = address_of(inner)
            _walk(
                inner, state, depth=depth + 1, forwarded=True, carrier=inner_from, top_report=False
            )
        return
    for sub in subs:
        _walk(
            sub, state, depth=depth + 1, forwarded=forwarded, carrier=carrier, top_report=top_report
        )


def _leaf(
    msg: email.message.Message,
    ctype: str,
    state: _Walk,
    *,
    forwarded: bool,
    carrier: str,
    top_report: bool,
) -> None:
    filename = _filename(msg)
    label = f"{ctype} {filename}".strip()
    encoded = msg.get_payload()
    if isinstance(encoded, str) and len(encoded) > MAX_PART_BYTES * 4 // 3 + 4096:
        state.note(f"{label}: part of {len(encoded) / 1048576:.1f} MB skipped (limit 5 MB)")
        return
    data = msg.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = b""
    if len(data) > MAX_PART_BYTES:
        state.note(f"{label}: part of {len(data) / 1048576:.1f} MB skipped (limit 5 MB)")
        return
    charset = _charset(msg)
    if _is_calendar(ctype, filename, data):
        text, note = decode_bytes(data, charset or "utf-8")
        if note:
            state.note(f"{label}: {note}")
        normal = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if normal in state.seen_calendars:
            return  # the same object inline and attached counts once
        state.seen_calendars.add(normal)
        where = f"{label} (inline)" if not filename else label
        method = _param(msg, "method").upper()
        state.calendars.append(CalendarPart(text, where, method, carrier, forwarded))
        return
    if top_report and not forwarded and ctype in ("text/rfc822-headers", "message/rfc822-headers"):
        text, _ = decode_bytes(data, charset or "utf-8")
        parsed = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
        state.returned = tuple(
            (str(k).lower(), decode_header(_capped(str(k).lower(), v)))
            for k, v in parsed.items()[:200]
        )
        return
    if (
        top_report
        and not forwarded
        and ctype in ("message/delivery-status", "message/global-delivery-status")
    ):
        text, _ = decode_bytes(data, charset or "utf-8")
        state.status.extend(_field_blocks(text))
        return
    disposition = (msg.get_content_disposition() or "").lower()
    if ctype in ("text/plain", "text/html") and not forwarded and disposition != "attachment":
        text, note = decode_bytes(data, charset or "us-ascii")
        if note:
            state.note(f"{label}: {note}")
        (state.plain if ctype == "text/plain" else state.html).append(text)
        return
    if not forwarded:
        state.attachments.append(label)


def _field_blocks(text: str) -> list[tuple[tuple[str, str], ...]]:
    """RFC 3464 field blocks from a delivery-status text (blocks separated by blank lines)."""
    blocks: list[tuple[tuple[str, str], ...]] = []
    for chunk in text.replace("\r\n", "\n").split("\n\n")[:100]:
        parsed = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(chunk.strip())
        fields = tuple((str(k).lower(), tidy(str(v))) for k, v in parsed.items())
        if fields:
            blocks.append(fields)
    return blocks


def _is_calendar(ctype: str, filename: str, data: bytes) -> bool:
    if ctype in _CALENDAR_TYPES:
        return True
    if filename.lower().endswith(_CALENDAR_SUFFIXES):
        return True
    return ctype == "application/octet-stream" and data.lstrip()[:15].upper() == b"BEGIN:VCALENDAR"


def _defects(msg: email.message.Message) -> set[str]:
    found: set[str] = set()
    for part in _limited_walk(msg):
        found.update(type(d).__name__ for d in getattr(part, "defects", []))
    return found


def _limited_walk(msg: email.message.Message) -> list[email.message.Message]:
    out: list[email.message.Message] = []
    stack = [msg]
    while stack and len(out) < MAX_PARTS:
        part = stack.pop()
        out.append(part)
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(p for p in payload if isinstance(p, email.message.Message))
    return out


# --- headers ---------------------------------------------------------------------------------


def _all_headers(msg: email.message.Message, name: str) -> list[str]:
    try:
        values = (msg.get_all(name) or [])[:10]
        return [decode_header(_capped(name.lower(), v)) for v in values]
    except Exception:
        return []


def get_header(msg: email.message.Message, name: str) -> str:
    values = _all_headers(msg, name)
    return values[0] if values else ""


def raw_headers(msg: email.message.Message, name: str) -> list[str]:
    """The values of header *name* as they came (not RFC 2047-decoded), at most 10."""
    try:
        return [str(v) for k, v in msg.raw_items() if str(k).lower() == name][:10]
    except Exception:
        return []


def address_of(msg: email.message.Message) -> tuple[str, str]:
    """(display name, address) of the first mailbox of the raw From header; ("", "") when none.

    The address comes from the raw header; the name is decoded afterwards, for showing only.
    """
    values = raw_headers(msg, "from")
    found = mailboxes(values[0]) if values else []
    return found[0] if found else ("", "")


def _content_type(msg: email.message.Message) -> str:
    try:
        return msg.get_content_type().lower()
    except Exception:
        return "text/plain"


def _param(msg: email.message.Message, name: str) -> str:
    try:
        value = msg.get_param(name)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return tidy(str(value))


def _filename(msg: email.message.Message) -> str:
    try:
        name = msg.get_filename() or _param(msg, "name")
    except Exception:
        return ""
    return decode_header(name)[:200] if name else ""


def _charset(msg: email.message.Message) -> str:
    try:
        return str(msg.get_content_charset() or "")
    except Exception:
        return ""
