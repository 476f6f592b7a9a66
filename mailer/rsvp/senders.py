"""Who sent a message: addresses read from the raw header, display names decoded afterwards (pure).

The address of a ``From:`` is taken from the header as it came, before any RFC 2047 decoding:
an encoded display name (``=?utf-8?b?...?=``) that decodes to ``x <victim@example>`` stays a
name and is never read as an address. Display names are decoded only once the addresses are
known, and only for showing.

A ``From:`` that is not exactly one plain mailbox (several addresses, a group, no address at all,
several From headers) gives a sender in doubt: whatever such a message says goes to review, never
straight onto a contact. ``Sender:`` is not read: it is as easy to forge as ``From:``, DMARC
checks the From, and Google Calendar sends every reply with ``Sender:
calendar-notification@google.com``.

Addresses are compared in one normal form (:func:`address_key`): the domain in ASCII (IDNA
A-labels, strict IDNA 2008 without mapping), the local part lower-cased only when it is ASCII.
Letters that merely look alike (Cyrillic ``а`` for Latin ``a``, fullwidth ``ｙ``, the Kelvin
sign for ``K``) are never mapped onto Latin ones, so they never match a contact.
"""

from __future__ import annotations

import email.utils
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import idna

from mailer.rsvp.textutil import decode_header, tidy

MAX_ADDRESS = 320
MAX_RAW = 4000  # characters of a From header read; the rest cannot hold one more mailbox


@dataclass(frozen=True)
class Sender:
    """The sender of a message, from its raw ``From:`` (and ``Sender:``) header."""

    address: str  # the one From address ("" when none), domain lower-case, as written
    name: str  # its display name, decoded for showing only
    doubt: str  # "" when From is one plain mailbox; else why it cannot stand for one person


def read_sender(froms: Sequence[str]) -> Sender:
    """The sender from the raw values of the ``From:`` headers."""
    if not froms:
        return Sender("", "", "the message has no From header")
    if len(froms) > 1:
        found = [m for raw in froms[:5] for m in mailboxes(raw)]
        first = found[0] if found else ("", "")
        listed = ", ".join(a for _n, a in found[:3]) or "no address"
        return Sender(first[1], first[0], f"the message has {len(froms)} From headers ({listed})")
    raw = froms[0]
    found = mailboxes(raw)
    if not found:
        shown = tidy(decode_header(raw))[:80]
        return Sender("", "", f"the From header names no address ({shown!r})")
    name, address = found[0]
    if len(found) > 1:
        listed = ", ".join(a for _n, a in found[:3])
        return Sender(address, name, f"the From header names {len(found)} addresses ({listed})")
    if is_group(raw):
        return Sender(address, name, "the From header is a group list, not one person's address")
    return Sender(address, name, "")


def mailboxes(raw: str) -> list[tuple[str, str]]:
    """(display name, address) of each mailbox in a raw address header, never decoded first.

    Addresses lose a ``mailto:`` prefix and get a lower-case domain; anything without an ``@``,
    with spaces or control characters, or too long is left out. Names are decoded afterwards.
    """
    text = _text(raw)[:MAX_RAW]
    try:
        pairs = email.utils.getaddresses([text])
    except Exception:
        return []
    out: list[tuple[str, str]] = []
    for name, addr in pairs[:50]:
        address = _clean(addr)
        if address:
            out.append((_display(name), address))
    return out


def is_group(raw: str) -> bool:
    """True when the header uses group syntax (``name: a@b, c@d;``) outside quotes, comments
    and angle brackets."""
    depth = 0  # comment nesting
    quoted = angle = escaped = False
    for ch in _text(raw)[:MAX_RAW]:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif ch == '"':
            quoted = True
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch in ":;" and not angle:
            return True
    return False


def address_key(address: str) -> str | None:
    """The form in which two addresses are compared; None when it cannot equal any contact's.

    The domain becomes ASCII: A-labels as they are (lower-case), U-labels through strict IDNA
    2008 after NFC (no mapping of fullwidth or look-alike letters). The local part is
    lower-cased only when it is ASCII; a non-ASCII one is kept as it is (contacts never have
    one, so it never matches).
    """
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or len(address) > MAX_ADDRESS:
        return None
    labels: list[str] = []
    for label in domain.rstrip(".").split("."):
        if label.isascii():
            labels.append(label.lower())
            continue
        try:
            label = unicodedata.normalize("NFC", _ascii_lower(label))
            labels.append(idna.encode(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    if not all(labels):
        return None
    local = local.lower() if local.isascii() else unicodedata.normalize("NFC", _ascii_lower(local))
    return f"{local}@{'.'.join(labels)}"


def same_address(a: str, b: str) -> bool:
    """True when *a* and *b* are the same mailbox in :func:`address_key`'s normal form."""
    ka = address_key(a)
    return ka is not None and ka == address_key(b)


def mismatch(contact: str, sender: str, doubt: str) -> str:
    """Why a message matched to *contact* cannot be applied to them ("" when it can).

    Only the contact's own address, in a From that is one plain mailbox, speaks for them.
    """
    if doubt:
        return f"{doubt}; the message is about {contact}"
    if not sender:
        return f"the message has no sender address; it is about {contact}"
    if same_address(sender, contact):
        return ""
    return f"sent from {shown_address(sender)}, not from {contact}"


def shown_address(address: str) -> str:
    """The address for the officer, with a warning when its letters are not all ASCII."""
    if address.isascii():
        return address
    odd = "".join(sorted({c for c in address if not c.isascii()}))[:10]
    names = ", ".join(unicodedata.name(c, f"U+{ord(c):04X}") for c in odd[:3])
    return f"{address} (letters that are not plain Latin: {names})"


def _text(raw: str) -> str:
    """The raw header as text, unfolded: 8-bit bytes (held as surrogates) read as UTF-8."""
    raw = raw[: MAX_RAW * 2].replace("\r", "").replace("\n", "")
    try:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return raw.encode("utf-8", "replace").decode("utf-8", "replace")


def _clean(addr: str) -> str:
    address = addr.strip()
    if address[:7].lower() == "mailto:":
        address = address[7:]
    if "@" not in address or len(address) >= MAX_ADDRESS:
        return ""
    if any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in address):
        return ""
    local, _at, domain = address.rpartition("@")
    if not local or not domain:
        return ""
    return f"{_ascii_lower(local)}@{_ascii_lower(domain)}"


def _ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only: ``str.lower`` would turn the Kelvin sign into ``k``."""
    return (
        text.lower() if text.isascii() else "".join(c.lower() if c.isascii() else c for c in text)
    )


def _display(name: str) -> str:
    """A display name decoded for showing (it is never parsed for addresses again)."""
    return decode_header(name)[:200] if name else ""
