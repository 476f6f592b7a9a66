"""Small helpers for untrusted mail: charsets, headers, addresses, dates, HTML to text (pure)."""

from __future__ import annotations

import codecs
import datetime as dt
import email.header
import email.utils
import html
import re
from html.parser import HTMLParser

MAX_TEXT_CHARS = 200_000
MAX_HEADER_CHARS = 16_384  # per header value; 50 message ids of the longest kind fit in it

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_SPACES = re.compile(r"\s+")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_TAG = re.compile(r"<[^<>]*+>")
_STRAY_LT = re.compile(r"<(?![^<>]*+>)")
_BLANK_LINES = re.compile(r"\n{3,}+")


def decode_bytes(data: bytes, charset: str) -> tuple[str, str]:
    """*data* as text in *charset*; returns (text, note). Never raises.

    An unknown or unusable charset is read as UTF-8 with replacement characters (noted).
    Text declared US-ASCII that is not ASCII is read as UTF-8, else Windows-1252 (common
    mislabelling).
    """
    name = (charset or "us-ascii").strip().strip('"').lower()[:60]
    if name in ("us-ascii", "ascii", "ansi_x3.4-1968") and not data.isascii():
        try:
            return data.decode("utf-8"), ""
        except UnicodeDecodeError:
            return data.decode("windows-1252", "replace"), ""
    try:
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):
            raise LookupError(name)
        return data.decode(info.name, "replace"), ""
    except Exception:
        text = data.decode("utf-8", "replace")
        return text, f"unknown charset {name!r} read as UTF-8"


def tidy(text: str) -> str:
    """One line: control characters removed, runs of white space made one space."""
    return _SPACES.sub(" ", _CONTROL.sub("", text)).strip()


def clean_lines(text: str) -> list[str]:
    """Lines without control characters or trailing space; CR LF / CR made LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [_CONTROL.sub("", line).rstrip() for line in text[:MAX_TEXT_CHARS].split("\n")]


def message_ids(text: str) -> tuple[str, ...]:
    """The ``<...>`` message ids in a header value, in order, without repeats (linear: a dict
    keeps the order and finds a repeat at once)."""
    return tuple(dict.fromkeys(_MESSAGE_ID.findall(text)))


class _TextExtractor(HTMLParser):
    """HTML to plain text, dropping blockquotes and the quoted parts mail clients mark."""

    _BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._drop_tag = ""
        self._drop_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._drop_depth:
            if tag == self._drop_tag:
                self._drop_depth += 1
            return
        marks = " ".join(f"{k}={v}" for k, v in attrs if v).lower()
        if tag == "blockquote" or (
            tag == "div"
            and any(
                m in marks
                for m in ("gmail_quote", "divrplyfwdmsg", "moz-cite-prefix", "appendonsend")
            )
        ):
            self._drop_tag, self._drop_depth = tag, 1
            return
        if tag in self._SKIP:
            self._skip += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._drop_depth:
            if tag == self._drop_tag:
                self._drop_depth -= 1
            return
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._drop_depth:
            self.parts.append(data)


def _defused(markup: str) -> str:
    """*markup* without comments, and with every ``<`` that does not open a tag closed before the
    next ``<`` made a space.

    The standard library's HTMLParser scans from an unclosed ``<`` to the end of the text again
    for every one of them (``<a <a <a ...``: 20 KB took 11 s); after this it never has to.
    Linear: the comments are found moving forward only, and the look-ahead of
    :data:`_STRAY_LT` stops at the next ``<`` or ``>``.
    """
    out: list[str] = []
    pos = 0
    while True:
        start = markup.find("<!--", pos)
        if start < 0:
            out.append(markup[pos:])
            break
        out.append(markup[pos:start])
        end = markup.find("-->", start + 4)
        if end < 0:
            break  # an unclosed comment runs to the end
        pos = end + 3
    return _STRAY_LT.sub(" ", "".join(out))


def html_to_text(markup: str) -> str:
    """The readable text of an HTML body, quotes dropped. Never raises."""
    markup = _defused(markup[:MAX_TEXT_CHARS])
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
        text = "".join(extractor.parts)
    except Exception:
        text = html.unescape(_TAG.sub(" ", markup))
    lines = [_SPACES.sub(" ", line.replace("\xa0", " ")).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --- headers ---------------------------------------------------------------------------------


def decode_header(value: object) -> str:
    """A header value as text: RFC 2047 words decoded, unknown charsets read as UTF-8.

    Raw 8-bit headers (which the compat32 parser hands over as ``Header`` objects) are read as
    UTF-8, else Windows-1252.
    """
    if isinstance(value, str) and len(value) > MAX_HEADER_CHARS:
        value = value[:MAX_HEADER_CHARS]  # the decoder takes time quadratic in encoded words
    if isinstance(value, str) and "=?" not in value:  # no encoded words: nothing to decode
        return tidy(_unsurrogate(value) if not value.isascii() else value)
    try:
        if isinstance(value, email.header.Header):
            chunks = email.header.decode_header(value)
        else:
            chunks = email.header.decode_header(_unsurrogate(str(value)))
    except Exception:
        return tidy(_unsurrogate(str(value)))
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            name = "us-ascii" if charset in (None, "unknown-8bit") else charset
            out.append(decode_bytes(chunk, name)[0])
        else:
            out.append(chunk)
    return tidy("".join(out))


def _unsurrogate(text: str) -> str:
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return text.encode("utf-8", "replace").decode("utf-8", "replace")


def parse_address(value: str) -> tuple[str, str]:
    try:
        pairs = email.utils.getaddresses([value[:MAX_HEADER_CHARS]])
    except Exception:
        return "", ""
    for name, addr in pairs:
        addr = addr.strip().lower()
        if addr.startswith("mailto:"):
            addr = addr[7:]
        if "@" in addr and not any(c.isspace() or ord(c) < 32 for c in addr) and len(addr) < 320:
            return tidy(name), addr
    return "", ""


def parse_date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except Exception:
        return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
