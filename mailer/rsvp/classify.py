"""Classify one message: calendar reply, text reply, auto-reply, bounce, unsubscribe (pure).

Order: unreadable -> bounce -> read receipt -> calendar reply -> broken calendar -> auto-reply
-> unsubscribe -> text reply / unknown. Bounces come first because they often carry
``Auto-Submitted`` and return our own invitation (a METHOD:REQUEST object); calendar replies
come before auto-reply headers because an automatic accept is still an answer. Never raises.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from mailer.rsvp.bounce import read_bounce
from mailer.rsvp.ical import read_calendar
from mailer.rsvp.parse import ParsedMessage, parse_message
from mailer.rsvp.quotes import own_lines
from mailer.rsvp.results import CalendarAnswer, Classification, Kind
from mailer.rsvp.text import read_text_answer

_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|automaattinen vastaus|autosvar|automatiskt svar|auto[- ]?reply|"
    r"autoresponse|abwesenheitsnotiz|réponse automatique|out of (the )?office|poissa(olo)?|"
    r"frånvarande|frånvaro|ooo|auto)\s*:"
    r"|\(automatic response\)|\bis out of the office\b|^\s*out of (the )?office\b"
    r"|^\s*(poissa|poissaolo|frånvarande|lomalla|semester)\b|\bvacation (reply|notice)\b",
    re.IGNORECASE,
)
_UNSUBSCRIBE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bpoista\w*+\s+(minut|meidät|osoitteeni|sähköpostiosoitteeni|nimeni)\b",
        r"\b(en|emme)\s+(enää\s+)?halua\s+(enää\s+)?(saada|vastaanottaa)\b",
        r"\blopett\w*+\s+(viestien\s+)?lähettämi\w*+",
        r"\bavregistrer\w*+",
        r"\bta(g)?\s+bort\s+mig\b",
        r"\bvill\s+inte\s+(längre\s+)?(ha|få)\b",
        r"\bavsluta\s+prenumeration\w*+",
        r"\bunsubscrib\w*+",
        r"\bremove\s+(me|my\s+(e-?mail\s+)?address)\s+from\b",
        r"\bstop\s+(sending|emailing|e-mailing)\b",
        r"\bopt(-|\s)?out\b",
        r"\btake\s+me\s+off\b",
        r"\bno\s+longer\s+(wish|want)\s+to\s+receive\b",
    )
]
_UNSUBSCRIBE_SUBJECT = re.compile(
    r"^\s*(unsubscribe|peruuta tilaus|poista listalta|avregistrera|avsluta)\b", re.IGNORECASE
)
_REPLY_SUBJECT = re.compile(r"^\s*(re|vs|sv|aw|svar|antw|vast|odp)\s*:", re.IGNORECASE)
_OTHER_METHODS = {
    "COUNTER": "proposes another time (METHOD:COUNTER)",
    "REFRESH": "asks for the invitation again (METHOD:REFRESH)",
}


def classify(raw: bytes, *, speakers: Sequence[str] = ()) -> Classification:
    """Read and classify the raw bytes of one message."""
    return classify_parsed(parse_message(raw), speakers=speakers)


def classify_parsed(msg: ParsedMessage, *, speakers: Sequence[str] = ()) -> Classification:
    try:
        return _classify(msg, speakers)
    except Exception as exc:  # untrusted input: report, never raise
        return Classification(
            Kind.UNREADABLE,
            msg.envelope,
            reason=f"cannot classify the message ({type(exc).__name__})",
        )


def _classify(msg: ParsedMessage, speakers: Sequence[str]) -> Classification:
    env = msg.envelope
    if msg.unreadable:
        return Classification(Kind.UNREADABLE, env, reason=msg.unreadable)
    bounce = read_bounce(msg)
    if bounce is not None:
        return Classification(
            Kind.BOUNCE, env, bounce=bounce, lines=tuple(msg.text.strip().splitlines()[:15])
        )
    if msg.report_type == "disposition-notification":
        return Classification(Kind.AUTO_REPLY, env, reason="read receipt")
    replies, problems, methods, warnings = _calendar(msg)
    if replies:
        return Classification(
            Kind.CALENDAR_REPLY, env, calendar=replies, reason="; ".join(warnings)
        )
    own = own_lines(msg.text)
    if problems:
        return Classification(
            Kind.UNREADABLE,
            env,
            reason="; ".join(problems),
            lines=(f"Subject: {env.subject}", *own[:15]),
        )
    tnef = [a for a in msg.attachments if "ms-tnef" in a or "winmail.dat" in a.lower()]
    if tnef and not "".join(own).strip():
        return Classification(
            Kind.UNREADABLE,
            env,
            reason="the content is inside winmail.dat (Outlook TNEF), which cannot be read",
            lines=(f"Subject: {env.subject}",),
        )
    auto = _auto_reply(msg)
    if auto:
        return Classification(
            Kind.AUTO_REPLY, env, reason=auto, lines=tuple(line for line in own[:5] if line.strip())
        )
    unsubscribe = _unsubscribe(env.subject, own)
    if unsubscribe:
        return Classification(
            Kind.UNSUBSCRIBE,
            env,
            reason=unsubscribe,
            lines=tuple(line for line in own[:30] if line.strip()),
        )
    text = read_text_answer(own, speakers=speakers)
    other = next((_OTHER_METHODS[m] for m in methods if m in _OTHER_METHODS), "")
    if other:
        text = dataclasses.replace(text, answer=None, reason=f"calendar object {other}")
    elif msg.structure_broken and text.answer is not None:
        text = dataclasses.replace(
            text, answer=None, reason="the MIME structure is damaged: read it yourself"
        )
    is_reply = bool(env.in_reply_to or env.references or _REPLY_SUBJECT.match(env.subject))
    if text.answer is not None or is_reply or other:
        return Classification(Kind.TEXT_REPLY, env, text=text, lines=text.lines)
    return Classification(
        Kind.UNKNOWN, env, reason="not a reply to an invitation", lines=text.lines[:10]
    )


def _calendar(
    msg: ParsedMessage,
) -> tuple[tuple[CalendarAnswer, ...], list[str], list[str], list[str]]:
    replies: list[CalendarAnswer] = []
    problems: list[str] = []
    methods: list[str] = []
    warnings: list[str] = []
    seen: set[tuple[object, ...]] = set()
    for part in msg.calendars:
        read = read_calendar(part.text, from_address=part.from_address, forwarded=part.forwarded)
        if read.problem:
            problems.append(f"{part.where}: {read.problem}")
        methods.extend(read.methods)
        warnings.extend(read.warnings)
        for reply in read.replies:
            ident = (reply.uid, reply.attendee, reply.dtstamp, reply.partstat)
            if ident not in seen:  # the same object inline and attached counts once
                seen.add(ident)
                replies.append(reply)
    if not replies and any(m == "REPLY" for m in methods):
        problems.append("a METHOD:REPLY object without an ATTENDEE answer (PARTSTAT)")
    return tuple(replies), problems, methods, warnings


def _auto_reply(msg: ParsedMessage) -> str:
    submitted = msg.header("auto-submitted").partition(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply"):
        value = msg.header(name).strip().lower()
        if value and value not in ("no", "false", "0"):
            return f"{name}: {value}"
    precedence = msg.header("precedence").strip().lower()
    if precedence in ("bulk", "junk", "auto_reply", "auto-reply"):
        return f"Precedence: {precedence}"
    m = _AUTO_SUBJECT.search(msg.envelope.subject)
    if m:
        return f"subject: {msg.envelope.subject[:120]}"
    return ""


def _unsubscribe(subject: str, own: list[str]) -> str:
    if _UNSUBSCRIBE_SUBJECT.match(subject):
        return f"subject: {subject[:120]}"
    text = "\n".join(own)[:20_000]
    for pattern in _UNSUBSCRIBE:
        m = pattern.search(text)
        if m:
            return m.group(0)
    return ""
