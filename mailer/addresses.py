"""E-mail addresses and display names: the only way a CSV field gets into a header.

Also :func:`is_loopback`, for the server host names of ``[smtp]`` and ``[imap]``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]")


class AddressError(ValueError):
    """An address or display name that must not be used; the message says why."""


def has_control(value: str) -> bool:
    return bool(_CONTROL.search(value))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=8192)
def _ascii_domain(domain: str) -> str:
    """Check a domain once per run (contact lists repeat a few domains many times)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(f"x@{domain}", check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise AddressError(str(exc).replace("x@", "", 1)) from None
    return (result.ascii_domain or result.domain).lower()


def normalize_address(value: str) -> str:
    """Check *value* and return it with the domain lower-cased and in ASCII (IDNA).

    Non-ASCII local parts need SMTPUTF8, which most submission servers lack; they are refused.
    """
    from email_validator import EmailNotValidError
    from email_validator.syntax import validate_email_local_part

    text = value.strip()
    if not text:
        raise AddressError("empty e-mail address")
    if has_control(text):
        raise AddressError(f"control characters (CR/LF?) in e-mail address {_short(text)!r}")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(
            f"invalid e-mail address {_short(text)!r}: An email address must have an @-sign."
        )
    if len(text) > 254:
        raise AddressError(f"invalid e-mail address {_short(text)!r}: longer than 254 characters")
    try:
        validate_email_local_part(local, allow_smtputf8=True)
        ascii_domain = _ascii_domain(domain)
    except (EmailNotValidError, AddressError) as exc:
        raise AddressError(f"invalid e-mail address {_short(text)!r}: {exc}") from None
    if not local.isascii():
        raise AddressError(
            f"e-mail address {_short(text)!r} has non-ASCII letters before the @, which mail "
            "servers without SMTPUTF8 cannot deliver"
        )
    return f"{local}@{ascii_domain}"


def clean_display_name(value: str) -> str:
    """A display name safe for a header: no control characters, normalised, trimmed."""
    if has_control(value):
        raise AddressError(f"control characters (CR/LF?) in name {value!r}")
    return unicodedata.normalize("NFC", " ".join(value.split()))


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1): the only hosts a
    password may be sent to in clear text (``security = "none"``) without ``allow_insecure``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
