"""Quoted-printable text parts never have a line that starts with a dot (mailer/messages.py)."""

from __future__ import annotations

import binascii

from hypothesis import given
from hypothesis import strategies as st

from mailer.messages.mime import qp_without_leading_dots

_TEXT = st.text(alphabet=st.sampled_from(list("ab. =\täÅ\n")), max_size=400)


def _encode(text: str) -> bytes:
    return binascii.b2a_qp(text.encode(), istext=True).replace(b"\n", b"\r\n")


@given(_TEXT)
def test_dots_are_encoded_and_the_text_decodes_unchanged(text: str) -> None:
    body = qp_without_leading_dots(_encode(text))
    lines = body.split(b"\r\n")
    assert not any(line.startswith(b".") for line in lines)
    assert all(len(line) <= 76 for line in lines)
    assert binascii.a2b_qp(body.replace(b"\r\n", b"\n")) == text.encode()


def test_a_soft_break_before_a_dot_is_the_case_seen_in_a_real_release() -> None:
    text = ("Seminaari Villa Elbassa Kokkolassa " * 3)[:75] + ". Tervetuloa!"
    raw = _encode(text)
    fixed = qp_without_leading_dots(raw)
    assert b"\r\n." in raw  # b2a_qp breaks a line just before the full stop
    assert b"\r\n." not in fixed and b"\r\n=2E" in fixed
    assert binascii.a2b_qp(fixed.replace(b"\r\n", b"\n")) == text.encode()


def test_a_long_line_starting_with_a_dot_is_rewrapped() -> None:
    line = "." + "x" * 74 + "=C3"  # 78 octets once the dot is =2E: too long
    fixed = qp_without_leading_dots(line.encode())
    first, second = fixed.split(b"\r\n")
    assert first.startswith(b"=2E") and first.endswith(b"=") and len(first) <= 76
    assert not second.startswith(b".")
    assert binascii.a2b_qp(fixed.replace(b"\r\n", b"\n")) == binascii.a2b_qp(line.encode())
