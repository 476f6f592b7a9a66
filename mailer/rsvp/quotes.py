"""Strip quoted text and signatures from a reply, leaving what the journalist wrote (pure).

Cuts at the first mark of quoted material: ``>`` lines are dropped; the reply ends at an
attribution line ("On ... wrote:", "... kirjoitti:", "Den ... skrev ...:"), an Outlook header
block ("From: / Sent:", "Lähettäjä: / Lähetetty:", "Från: / Skickat:"), a separator
("-----Original Message-----", "-----Alkuperäinen viesti-----", a line of underscores), a
signature separator ("-- "), a mobile footer ("Sent from my iPhone") or a sign-off line
("Terveisin", "Med vänliga hälsningar", "Best regards").
"""

from __future__ import annotations

import re

from mailer.rsvp.textutil import clean_lines

MAX_LINES = 200
MAX_SCAN_LINES = 2_000  # the sender's own text is looked for in this many lines, no further

_SEPARATOR = re.compile(
    r"^\s*+-{2,}+\s*+(original message|alkuperäinen viesti|ursprungligt meddelande|"
    r"ursprüngliche nachricht|forwarded message|välitetty viesti|vidarebefordrat meddelande|"
    r"reply message|vastausviesti)\s*-{2,}",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*+_{8,}+\s*+$")
# These run on every line of a reply, which anyone can send: each is linear in the line (leading
# and trailing white space is possessive, so it is never given back and tried again, and the
# free text between two words is bounded). tests/reliability/test_linear_time.py checks it.
_ATTRIBUTION = re.compile(
    r"^\s*+(on\b.{0,300}\bwrote|.{0,300}\bkirjoitti|(den|on)?\b.{0,300}\bskrev\b.{0,300}"
    r"|am\b.{0,300}\bschrieb|le\b.{0,300}\ba écrit)\s*+:\s*+$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^\s*+(on|den)\s++\S", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"^.{0,300}\b(wrote|skrev|kirjoitti)\s*+(?::\s*+)?$", re.IGNORECASE)
_FROM = re.compile(r"^\s*+\*?(from|lähettäjä|från|von|de|lähettäjä)\s*:", re.IGNORECASE)
_HEADER = re.compile(
    r"^\s*+\*?(sent|date|lähetetty|päivämäärä|skickat|datum|gesendet|to|vastaanottaja|till|"
    r"an|subject|aihe|ämne|betreff|cc|kopio|kopia)\s*:",
    re.IGNORECASE,
)
_ALWAYS_HEADER = re.compile(r"^\s*+\*?(lähetetty|från|skickat|lähettäjä)\s*:", re.IGNORECASE)
_MOBILE = re.compile(
    r"^\s*+(sent from my|lähetetty (iphonesta|ipadista|android|mobiili|outlook)|"
    r"skickat från min|get outlook for)",
    re.IGNORECASE,
)
_SIGNOFF = re.compile(
    r"^\s*+(terveisin|ystävällisin terveisin|parhain terveisin|hyvin terveisin|t\.|"
    r"med vänlig(a)? hälsning(ar)?|vänliga hälsningar|hälsningar|mvh|"
    r"best regards|kind regards|regards|best wishes|br|cheers)\s*+(?:[,.!]\s*+)?$",
    re.IGNORECASE,
)


def own_lines(text: str) -> list[str]:
    """The lines the sender wrote, in order, blank lines at the ends removed."""
    lines = clean_lines(text)[:MAX_SCAN_LINES]
    cut = len(lines)
    for index, line in enumerate(lines):
        if not line or line.isspace():
            continue  # a blank line never marks a quote: skip the patterns
        where = _cut_at(lines, index, line)
        if where is not None:
            cut = where
            break
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept[:MAX_LINES]


def _cut_at(lines: list[str], index: int, line: str) -> int | None:
    if line.strip() in ("--", "-- ") or line == "-- ":
        return index
    if _SEPARATOR.match(line) or _UNDERSCORES.match(line) or _MOBILE.match(line):
        return index
    if _SIGNOFF.match(line):
        return index
    if len(line) < 400 and _ATTRIBUTION.match(line):
        return index
    if _ATTRIBUTION_START.match(line) and index + 1 < len(lines):
        following = lines[index + 1]
        if not _ATTRIBUTION.match(line) and _ATTRIBUTION_END.match(following) and len(line) < 300:
            return index
    if _ALWAYS_HEADER.match(line):
        return _header_block_start(lines, index)
    if _FROM.match(line):
        after = lines[index + 1 : index + 5]
        if any(_HEADER.match(other) for other in after):
            return index
    return None


def _header_block_start(lines: list[str], index: int) -> int:
    """An Outlook block may start one or two lines above its "Sent:" line."""
    start = index
    for back in (1, 2):
        if index - back >= 0 and (
            _FROM.match(lines[index - back]) or _HEADER.match(lines[index - back])
        ):
            start = index - back
    return start
