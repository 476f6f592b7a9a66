"""One walk through a message's MIME tree: body text, calendar objects, delivery reports.

Calendar objects are found wherever they are (inline ``text/calendar`` with or without a
``method`` parameter, ``application/ics``, an ``.ics`` attachment of any name, an
``application/octet-stream`` named ``*.ics``, inside forwarded ``message/rfc822`` parts). Limits
keep hostile mail cheap: parts over :data:`MAX_PART_BYTES` are skipped, at most
:data:`MAX_PARTS` parts are read, nested at most :data:`MAX_DEPTH` deep, and each cut or skip
is noted in :class:`Walk`.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
from dataclasses import dataclass, field

from mailer.rsvp.mailheaders import (
    address_of,
    capped,
    charset_of,
    content_type_of,
    filename_of,
    param_of,
)
from mailer.rsvp.textutil import decode_bytes, decode_header, tidy

MAX_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 300
MAX_DEPTH = 8


_CALENDAR_TYPES = frozenset(
    {"text/calendar", "application/ics", "text/x-vcalendar", "application/x-ics", "text/ics"}
)
_CALENDAR_SUFFIXES = (".ics", ".ical", ".icalendar", ".vcs")


@dataclass(frozen=True)
class CalendarPart:
    """The text of one calendar object as found in the message."""

    text: str
    where: str  # "text/calendar (inline)", "application/ics invite.ics", ...
    method_param: str  # the Content-Type "method" parameter, upper-case, "" if absent
    from_address: str  # From of the message that carries it (the inner one when forwarded)
    forwarded: bool


@dataclass
class Walk:
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


def walk(
    msg: email.message.Message,
    state: Walk,
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
    ctype = content_type_of(msg)
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
    state: Walk,
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
                    (str(k).lower(), decode_header(capped(str(k).lower(), v)))
                    for k, v in inner.items()[:200]
                )
            _name, inner_from = address_of(inner)
            walk(
                inner, state, depth=depth + 1, forwarded=True, carrier=inner_from, top_report=False
            )
        return
    for sub in subs:
        walk(
            sub, state, depth=depth + 1, forwarded=forwarded, carrier=carrier, top_report=top_report
        )


def _leaf(
    msg: email.message.Message,
    ctype: str,
    state: Walk,
    *,
    forwarded: bool,
    carrier: str,
    top_report: bool,
) -> None:
    filename = filename_of(msg)
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
    charset = charset_of(msg)
    if _is_calendar(ctype, filename, data):
        text, note = decode_bytes(data, charset or "utf-8")
        if note:
            state.note(f"{label}: {note}")
        normal = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if normal in state.seen_calendars:
            return  # the same object inline and attached counts once
        state.seen_calendars.add(normal)
        where = f"{label} (inline)" if not filename else label
        method = param_of(msg, "method").upper()
        state.calendars.append(CalendarPart(text, where, method, carrier, forwarded))
        return
    if top_report and not forwarded and ctype in ("text/rfc822-headers", "message/rfc822-headers"):
        text, _ = decode_bytes(data, charset or "utf-8")
        parsed = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
        state.returned = tuple(
            (str(k).lower(), decode_header(capped(str(k).lower(), v)))
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


def structure_defects(msg: email.message.Message) -> set[str]:
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
