"""The HTML filters: addresses as links, phone numbers that never break."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from mailer.messages.htmlfilters import linked
from mailer.messages.render import Renderer


def render(tmp_path: Path, html_part: str, text_part: str, **values: object) -> tuple[str, str]:
    folder = tmp_path / "templates" / "t" / "fi"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subject.txt").write_text("S\n", encoding="utf-8")
    (folder / "body.txt").write_text(text_part, encoding="utf-8")
    (folder / "body.html").write_text(html_part, encoding="utf-8")
    out = Renderer(tmp_path / "templates", default_language="fi", label_root=tmp_path).render(
        "t", "fi", values
    )
    assert out.html is not None
    return out.text, out.html


def test_links_in_html_and_plain_text_in_text(tmp_path: Path) -> None:
    line = "{{ value|links }}"
    text, page = render(
        tmp_path, line, line, value="Kirjoita a.b@kokkola.example tai katso https://x.example/s."
    )
    assert text == "Kirjoita a.b@kokkola.example tai katso https://x.example/s."
    assert page == (
        'Kirjoita <a href="mailto:a.b@kokkola.example">a.b@kokkola.example</a> tai katso '
        '<a href="https://x.example/s">https://x.example/s</a>.'
    )


def test_links_escape_everything_else(tmp_path: Path) -> None:
    _, page = render(tmp_path, "{{ value|links }}", "", value='<b>"x"</b> www.ot.fi & more')
    assert page == (
        '&lt;b&gt;&#34;x&#34;&lt;/b&gt; <a href="https://www.ot.fi">www.ot.fi</a> &amp; more'
    )


def test_a_url_with_a_query_and_brackets(tmp_path: Path) -> None:
    _, page = render(tmp_path, "{{ v|links }}", "", v="(https://x.example/a?b=1&c=2)")
    assert page == (
        '(<a href="https://x.example/a?b=1&amp;c=2">https://x.example/a?b=1&amp;c=2</a>)'
    )


def test_phone_never_breaks(tmp_path: Path) -> None:
    line = "{{ value|phone }}"
    text, page = render(tmp_path, line, line, value="+358 40-123 4567")
    assert text == "+358 40-123 4567"
    assert page == ('<span style="white-space:nowrap;">+358\u00a040\u2011123\u00a04567</span>')
    _, evil = render(tmp_path, line, "", value="<script>")
    assert evil == '<span style="white-space:nowrap;">&lt;script&gt;</span>'


def _visible(markup: str) -> str:
    """The text a reader sees: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_links_show_exactly_the_text_and_add_only_anchors(text: str) -> None:
    started = time.monotonic()
    out = linked(text)
    assert time.monotonic() - started < 0.5
    assert isinstance(out, Markup)
    assert _visible(out) == text
    tags = re.findall(r"<[^>]*>", out)
    assert all(re.fullmatch(r'<a href="[^"<>]*">|</a>', tag) for tag in tags), tags
    assert len(tags) % 2 == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["viestinta@kokkola.example", "https://kokkola.example/a?b=1", "www.ot.fi", " ", ", "]
        )
        | st.text(alphabet="abc<>&\"' .,:;()@/", max_size=8),
        max_size=12,
    )
)
def test_every_address_becomes_one_link(pieces: list[str]) -> None:
    text = "".join(pieces)
    out = linked(text)
    assert _visible(out) == text
    for href in re.findall(r'<a href="([^"]*)">', out):
        assert href.startswith(("https://", "http://", "mailto:"))


def test_long_text_is_linked_quickly() -> None:
    text = ("x" * 5000 + "@") * 20 + "a." * 5000
    started = time.monotonic()
    assert _visible(linked(text)) == text
    assert time.monotonic() - started < 2
