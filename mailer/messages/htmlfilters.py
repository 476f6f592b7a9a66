"""Template filters for the HTML part: web and mail addresses as links, phone numbers that
never break. In a text part (no autoescaping) they give their value back unchanged, so one
template line can be copied between ``body.txt`` and ``body.html``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jinja2
from markupsafe import Markup, escape

# Words are tried whole (no search inside a word, so a long text costs linear time), without
# the brackets and punctuation around them: "(https://x.example/a)." links https://x.example/a.
_WORD = re.compile(r"\S+")
_WEB = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_MAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_BEFORE = "([<\"'"
_AFTER = ".,;:!?)]>\"'"


def _link(word: str) -> Markup | None:
    if _WEB.fullmatch(word):
        href = word if word.lower().startswith("http") else f"https://{word}"
    elif _MAIL.fullmatch(word):
        href = f"mailto:{word}"
    else:
        return None
    return Markup('<a href="{}">{}</a>').format(href, word)


@lru_cache(maxsize=256)  # a round links the same few addresses in every message
def linked(text: str) -> Markup:
    """*text* as HTML, with each web and mail address a link to itself."""
    out: list[Markup] = []
    last = 0
    for found in _WORD.finditer(text):
        word = found[0]
        core = word.lstrip(_BEFORE)
        lead = len(word) - len(core)
        core = core.rstrip(_AFTER)
        link = _link(core) if core else None
        if link is None:
            continue
        start = found.start() + lead
        out += [escape(text[last:start]), link]
        last = start + len(core)
    out.append(escape(text[last:]))
    return Markup("").join(out)


@jinja2.pass_eval_context
def links(ctx: jinja2.nodes.EvalContext, value: object) -> str | Markup:
    """``{{ organizer.email|links }}``: addresses as links in HTML; text as it is otherwise.
    A value that already is HTML (``Markup``) is left alone."""
    if not ctx.autoescape or isinstance(value, Markup):
        return value if isinstance(value, Markup) else str(value)
    return linked(str(value))


@jinja2.pass_eval_context
def phone(ctx: jinja2.nodes.EvalContext, value: object) -> str | Markup:
    """``{{ vars.contact_phone|phone }}``: a number no line break splits (no-break spaces,
    non-breaking hyphens, and ``white-space:nowrap`` for the clients that honour it)."""
    return _unbroken(str(value)) if ctx.autoescape else str(value)


@lru_cache(maxsize=256)
def _unbroken(number: str) -> Markup:
    text = number.replace(" ", "\u00a0").replace("-", "\u2011")
    return Markup('<span style="white-space:nowrap;">{}</span>').format(text)
