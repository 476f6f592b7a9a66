"""First and last names made from a full name, and a full name made from them.

A greeting needs a first name; a list often has only ``name``, written "Matti Virtanen" or
"Virtanen, Matti". The rules (also in docs/contacts-and-templates.md):

* "Last, First ..." (a comma): the last name is what comes before the first comma, the first name
  is the first word after it. "Virtanen, Matti" -> Matti / Virtanen.
* Otherwise the first name is the first word and the last name is the last word, together with
  the lower-case particles just before it: "Anna-Liisa Mäki-Jaakkola" -> Anna-Liisa /
  Mäki-Jaakkola, "Georg Henrik von Wright" -> Georg / von Wright. Middle names are in neither.
* One word is a first name ("Matti" -> Matti / ""); a name made only of a particle and a last
  name has no first name ("van Gogh" -> "" / van Gogh).
* Titles in front ("Dr.", "Prof.", "tri", ...) and suffixes at the end ("Jr.", "III") are
  left out, and so are words with an ``@`` (an address is not a name).

The results never contain a comma, and nothing here raises.
"""

from __future__ import annotations

__all__ = ["full_name", "split_name"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PARTICLES = _words("af av da das de del della der di dos du la le van von zu zum zur ten ter")
_TITLES = _words("dr prof professor mr mrs ms miss mx sir dame tri herr fru")
_SUFFIXES = _words("jr sr ii iii iv")


def _bare(word: str) -> str:
    return word.rstrip(".").casefold()


def split_name(name: str) -> tuple[str, str]:
    """(first name, last name) of a full *name*; ``("", "")`` when there is none."""
    if "@" in name:  # "matti@hs.fi", "Matti Virtanen <matti@hs.fi>"
        name = " ".join(word for word in name.split() if "@" not in word)
    parts = [" ".join(part.split()) for part in name.split(",")]
    parts = [part for part in parts if part]
    if len(parts) >= 2:  # "Virtanen, Matti"
        last = _strip_titles(parts[0].split())
        given = _strip_titles(parts[1].split())
        return (given[0] if given else ""), " ".join(last)
    words = _strip_titles(" ".join(parts).split())
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    start = len(words) - 1
    while start > 0 and words[start - 1] in _PARTICLES:
        start -= 1
    if start == 0:  # "van Gogh": a last name with its particle
        return "", " ".join(words)
    return words[0], " ".join(words[start:])


def _strip_titles(words: list[str]) -> list[str]:
    """*words* without titles in front and suffixes at the end (keeping at least one word)."""
    while len(words) > 1 and _bare(words[0]) in _TITLES:
        words = words[1:]
    while len(words) > 1 and _bare(words[-1]) in _SUFFIXES:
        words = words[:-1]
    return words


def full_name(first: str, last: str) -> str:
    """The name of a contact that has only first and last names."""
    return " ".join(f"{first} {last}".split())
