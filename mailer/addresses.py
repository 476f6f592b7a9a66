"""E-mail addresses and display names: the only way a CSV field gets into a header."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]")


class AddressError(ValueError):
    """An address or display name that must not be used; the message says why."""


def has_control(value: str) -> bool:
    return bool(_CONTROL.search(value))


def normalize_address(value: str) -> str:
    """Check *value* and return it with the domain lower-cased and in ASCII (IDNA).

    Non-ASCII local parts need SMTPUTF8, which most submission servers lack; they are refused.
    """
    from email_validator import EmailNotValidError, validate_email

    text = value.strip()
    if not text:
        raise AddressError("empty e-mail address")
    if has_control(text):
        raise AddressError(f"control characters (CR/LF?) in e-mail address {text!r}")
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise AddressError(f"invalid e-mail address {text!r}: {exc}") from None
    local = result.local_part
    if not local.isascii():
        raise AddressError(
            f"e-mail address {text!r} has non-ASCII letters before the @, which mail servers "
            "without SMTPUTF8 cannot deliver"
        )
    domain = result.ascii_domain or result.domain
    return f"{local}@{domain.lower()}"


def clean_display_name(value: str) -> str:
    """A display name safe for a header: no control characters, normalised, trimmed."""
    if has_control(value):
        raise AddressError(f"control characters (CR/LF?) in name {value!r}")
    return unicodedata.normalize("NFC", " ".join(value.split()))
