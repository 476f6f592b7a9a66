"""Header access on a parsed :class:`email.message.Message` that never raises on hostile mail.

Values are cut to :data:`~.textutil.MAX_HEADER_CHARS` before decoding (``References`` keeps
its end: the nearest ancestors), addresses come from the raw header (names decoded afterwards),
and the Content-Type's parts (type, parameters, file name, charset) have safe defaults.
"""

from __future__ import annotations

import email.message
import email.utils
from collections.abc import Callable

from mailer.rsvp.senders import mailboxes
from mailer.rsvp.textutil import MAX_HEADER_CHARS, decode_header, tidy

_KEEP_END = frozenset({"references"})  # its last ids are the nearest ancestors


def capped(name: str, value: object, note: Callable[[str], None] | None = None) -> object:
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
    if note is not None:
        note(f"the {name} header of {len(text):,} characters was cut to {MAX_HEADER_CHARS:,}")
    if name in _KEEP_END:
        return text[-MAX_HEADER_CHARS:]
    return text[:MAX_HEADER_CHARS]


def all_headers(msg: email.message.Message, name: str) -> list[str]:
    try:
        values = (msg.get_all(name) or [])[:10]
        return [decode_header(capped(name.lower(), v)) for v in values]
    except Exception:
        return []


def get_header(msg: email.message.Message, name: str) -> str:
    values = all_headers(msg, name)
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


def content_type_of(msg: email.message.Message) -> str:
    try:
        return msg.get_content_type().lower()
    except Exception:
        return "text/plain"


def param_of(msg: email.message.Message, name: str) -> str:
    try:
        value = msg.get_param(name)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return tidy(str(value))


def filename_of(msg: email.message.Message) -> str:
    try:
        name = msg.get_filename() or param_of(msg, "name")
    except Exception:
        return ""
    return decode_header(name)[:200] if name else ""


def charset_of(msg: email.message.Message) -> str:
    try:
        return str(msg.get_content_charset() or "")
    except Exception:
        return ""
