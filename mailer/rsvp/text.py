"""What a written reply says, in Finnish, Swedish and English (pure; never guesses).

The answer is yes / no / maybe only when the phrases found all point the same way; otherwise
``answer`` is None and ``reason`` says why, so the message goes to review with its lines.
Extras are read where they are stated: people coming along ("kuvaajan kanssa", "med
fotograf", "with a photographer", "kahdestaan", "+1"), lunch, interview wishes ("haastattelu
Vesan kanssa kiinnostaisi" -> "Vesa") and food restrictions.

"en" is Finnish for "I don't" ("en pääse") but Swedish for "a" ("med en fotograf"): it counts
as a negation only when the reply is not Swedish or English, by the contact's language when the
caller knows it, otherwise by the words of the reply (``reply_language``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailer.rsvp.results import Answer, TextAnswer

_F = re.IGNORECASE

_YES = [
    r"\b(tulen|tulemme|tullaan|saavun|saavumme|osallistun|osallistumme|ilmoittaudun)\b",
    r"\b(olen|olemme|ollaan) (mukana|tulossa|paikalla)\b",
    r"\b(pääsen|pääsemme|päästään) (paikalle|tulemaan|mukaan|osallistumaan)\b",
    r"^(kyllä|ja|yes)\b",
    r"\b(jag|vi) (kommer|deltar|är med|närvarar|anmäler mig)\b",
    r"\b(kommer|deltar) gärna\b",
    r"\bja,? tack\b",
    r"\b(i|we)('ll| will| shall) (be there|attend|come|join)\b",
    r"\b(i|we) (am|are|'m|'re) (coming|attending|joining)\b",
    r"\bi'm (coming|attending|joining|in)\b",
    r"\bcount (me|us) in\b",
    r"\b(happy|glad|delighted|pleased) to (attend|come|join)\b",
    r"\b(i|we) (can|could) (come|attend|make it|join)\b",
    r"\bi accept\b",
    r"\bsee you (there|at the event)\b",
]
_NO = [
    r"\b(en|emme|ei)\b(\s+\w+){0,3}?\s+(pääse|päästä|ehdi|ehditä|osallistu|tule|pysty|voi "
    r"osallistua|voi tulla|pääsekään)\b",
    r"\bjoudun (perumaan|jättämään (tämän )?väliin|kieltäytymään|perua)\b",
    r"\b(estynyt|estyneenä|estyneitä)\b",
    r"\b(jag|vi)\s+(kan|kommer|har|hinner)(\s+\w+){0,2}?\s+inte\b",
    r"\b(kan|hinner|har) (tyvärr |dessvärre )?inte (komma|delta|närvara|möjlighet|tid)\b",
    r"\btyvärr (kan|kommer|hinner) (jag|vi) inte\b",
    r"\b(förhindrad|förhindrade)\b",
    r"\b(can't|cannot|can not|won't|will not|unable to|not able to|couldn't|could not)\s+"
    r"(\w+\s+){0,3}?(make it|attend|come|join|be there|participate|be attending)\b",
    r"\b(i|we) (must|have to|will have to|need to) (decline|pass|miss)\b",
    r"\bi decline\b",
    r"\b(send(ing)? (my |our )?regrets|^regrets)\b",
    r"^no\b(?!\s+(lunch|problem))",
    r"\bnot (be )?attending\b",
]
_MAYBE = [
    r"\b(tulen|osallistun|pääsen|saavun) (ehkä|mahdollisesti|alustavasti|todennäköisesti)\b",
    r"\b(ehkä|mahdollisesti|alustavasti|todennäköisesti) (tulen|osallistun|pääsen|saavun)\b",
    r"\b(saatan|yritän|yritämme) (tulla|osallistua|päästä|ehtiä)\b",
    r"\b(en (ole (vielä )?)?varma|epävarmaa|vahvistan (myöhemmin|vielä|huomenna))\b",
    r"^ehkä\b",
    r"\b(kanske|eventuellt|preliminärt)\b",
    r"\b(jag|vi) (kommer )?kanske\b",
    r"\b(osäker|vet inte än|vet ännu inte|försöker (komma|delta|hinna)|jag återkommer)\b",
    r"\b(maybe|perhaps|possibly|tentative(ly)?)\b",
    r"\b(might|may) (come|attend|make it|be able)\b",
    r"\b(not (yet )?sure|not (yet )?certain|will confirm later|i'll let you know)\b",
    r"\btry to (come|attend|make it|be there|join)\b",
]
_PATTERNS = (
    [(Answer.YES, re.compile(p, _F)) for p in _YES]
    + [(Answer.NO, re.compile(p, _F)) for p in _NO]
    + [(Answer.MAYBE, re.compile(p, _F)) for p in _MAYBE]
)

_LUNCH = re.compile(r"\b(louna\w*+|ruokailu\w*+|lunch\w*+)\b", _F)
_NEGATION = re.compile(
    r"\b(ei|emme|ilman|not|no|won't|can't|cannot|without|skip|inte|ingen|utan|"
    r"skippa|jätän|jättää)\b",
    _F,
)
_FINNISH_EN = re.compile(r"\ben\b", _F)  # "I don't" in Finnish; "a" / "one" in Swedish
_WORD = re.compile(r"[\w']+")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text))


_MARKERS = {  # short common words; ones two languages share ("en", "ja", "on") are left out
    "fi": _words(
        "ei emme olen olemme tulen tulemme kanssa kiitos mukana myös mutta pääse pääsen "
        "ehdi ole tai että se kuvaajan lounaalle"
    ),
    "sv": _words(
        "jag vi och med kommer är inte till på gärna tack att det för vill har kan men "
        "också hinner tyvärr ett"
    ),
    "en": _words(
        "i we the and with will be there a an not thanks i'll can't won't but also to of for my our"
    ),
}
_ROLES = [
    (
        "photographer",
        re.compile(
            r"\b(kuvaaj\w*+|valokuvaaj\w*+|kuvausryhm\w*+|fotograf\w*+|photographer\w*+|cameraman|"
            r"camera ?crew|kameraman\w*+)\b",
            _F,
        ),
    ),
    (
        "colleague",
        re.compile(r"\b(kollega\w*+|kolleg(a|or|an|orna)|colleague\w*+|työkaveri\w*+)\b", _F),
    ),
]
_NUMBERS = {
    "kaksi": 2,
    "kahdella": 2,
    "kahdestaan": 2,
    "kolme": 3,
    "kolmella": 3,
    "kolmestaan": 3,
    "neljä": 4,
    "neljällä": 4,
    "två": 2,
    "tre": 3,
    "fyra": 4,
    "two": 2,
    "three": 3,
    "four": 4,
    "one": 1,
    "yksi": 1,
    "en": 1,
    "ett": 1,
}
_NUM = r"(\d{1,2}|" + "|".join(_NUMBERS) + ")"
_TOTAL = [
    re.compile(
        _NUM + r"\s*(henkeä|hengellä|henkilöä|henkilön|hengen|hlö|personer|people|"
        r"persons|of us)\b",
        _F,
    ),
    re.compile(r"\b(kahdestaan|kolmestaan)\b", _F),
    re.compile(r"\b(vi är|we are|we'll be|we will be|olemme) " + _NUM + r"\b", _F),
]
_PLUS = re.compile(r"(?:\+\s?|\bplus[- ])" + _NUM + r"\b", _F)
_INTERVIEW = re.compile(r"\b(haastat\w*+|intervju\w*+|interview\w*+)\b", _F)
_NOT_INTERVIEW = re.compile(r"\b(ei|not|no|inte|ingen)\b", _F)  # and "en" in Finnish
_INTERVIEW_WORD = re.compile(r"\b(haastat|interview|intervju)", _F)
_WITHOUT = re.compile(r"\b(ilman|without|utan)\b", _F)
_DIET = re.compile(
    r"\b(kasvis\w*+|vegaan\w*+|vegetar\w*+|vegan\w*+|gluteeni\w*+|gluten\w*+|laktoosi\w*+|laktos\w*+|"
    r"allerg\w*+|keliak\w*+|maidoton|dairy[- ]free|erityisruokavalio\w*+|specialkost)\b",
    _F,
)
# A clause ends at a comma, semicolon or colon, or at "but" / "and" between spaces. The look-behind
# lets an attempt start only where a run of white space starts (else every space of a long run
# would scan the rest of the run again: quadratic in the run).
_CLAUSE = re.compile(r"(?<!\s)(?:\s*+[,;:]\s*+|\s++(?:mutta|but|men|och|ja|and)\s++)", _F)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

MAX_REVIEW_LINES = 30
MAX_CLAUSES = 300  # read from a reply, no more: each is tried against every phrase


def read_text_answer(
    lines: Sequence[str], *, speakers: Sequence[str] = (), language: str = ""
) -> TextAnswer:
    """Read the sender's own *lines* (quotes already removed); *language* is the contact's
    (``fi``, ``sv``, ``en``) when known, else the reply's own words decide."""
    language = language or reply_language(lines)
    shown = tuple(line.strip()[:300] for line in lines if line.strip())[:MAX_REVIEW_LINES]
    sentences = [s.strip() for s in _SENTENCE.split("\n".join(lines)[:20_000]) if s.strip()]
    sentences = sentences[:MAX_CLAUSES]
    questions = tuple(s[:300] for s in sentences if s.endswith("?"))[:10]
    statements = [s for s in sentences if not s.endswith("?")]
    clauses = [c for s in statements for c in _CLAUSE.split(s) if c and c.strip()][:MAX_CLAUSES]
    answer, reason = _answer(clauses)
    if answer is None and questions and not reason.startswith("both"):
        reason = "asks a question and gives no clear answer"
    guests, roles = _guests(clauses, language)
    return TextAnswer(
        answer=answer,
        guests=guests,
        guest_roles=roles,
        lunch=_lunch(clauses, language),
        interview=_interviews(sentences, speakers, language),
        diet=next((s[:300] for s in statements if _DIET.search(s)), ""),
        questions=questions,
        lines=shown,
        reason=reason,
    )


def _answer(clauses: list[str]) -> tuple[Answer | None, str]:
    found: set[Answer] = set()
    for clause in clauses:
        text = clause.strip()
        about_lunch = bool(_LUNCH.search(text))
        matches: list[tuple[int, int, Answer]] = []
        for kind, pattern in _PATTERNS:
            for m in pattern.finditer(text):
                matches.append((m.start(), m.end(), kind))
        kept: list[tuple[int, int, Answer]] = []
        for start, end, kind in sorted(matches, key=lambda m: m[0] - m[1]):  # longest first
            if all(end <= s or start >= e for s, e, _ in kept):
                kept.append((start, end, kind))
        for _s, _e, kind in kept:
            if about_lunch and kind is not Answer.YES:
                continue  # "en ehdi lounaalle" is about lunch, not about coming
            found.add(kind)
    if not found:
        return None, "no clear yes, no or maybe"
    if len(found) > 1:
        names = " and ".join(sorted(a.value for a in found))
        return None, f"both {names} in the same reply"
    return found.pop(), ""


def reply_language(lines: Sequence[str]) -> str:
    """``fi``, ``sv`` or ``en`` by the most common short words of *lines*; ``""`` on a tie."""
    counts = dict.fromkeys(_MARKERS, 0)
    for word in _WORD.findall("\n".join(lines)[:20_000].lower()):
        for language, words in _MARKERS.items():
            counts[language] += word in words
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return ranked[0][0] if ranked[0][1] > ranked[1][1] else ""


def _negated(text: str, language: str) -> bool:
    """Whether *text* holds a negation word ("en" only when the reply may be Finnish)."""
    return bool(_NEGATION.search(text)) or (
        language not in ("sv", "en") and bool(_FINNISH_EN.search(text))
    )


def _guests(clauses: list[str], language: str) -> tuple[int | None, tuple[str, ...]]:
    roles: list[str] = []
    total: int | None = None
    plus: int | None = None
    for clause in clauses:
        for role, pattern in _ROLES:
            m = pattern.search(clause)
            if m and not _negated(clause[: m.start()], language) and not _WITHOUT.search(clause):
                roles.append(role)
        for pattern in _TOTAL:
            m = pattern.search(clause)
            if m:
                total = _number(next(g for g in m.groups() if g and _is_number(g)))
                break
        m = _PLUS.search(clause)
        if m:
            plus = _number(m.group(1))
    if total is not None and total >= 1:
        return total - 1, tuple(roles)
    if plus is not None:
        return plus, tuple(roles)
    if roles:
        return len(roles), tuple(roles)
    return None, ()


def _is_number(text: str) -> bool:
    return text.isdigit() or text.lower() in _NUMBERS


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBERS[text.lower()]


def _lunch(clauses: list[str], language: str) -> bool | None:
    values = {not _negated(c, language) for c in clauses if _LUNCH.search(c)}
    return values.pop() if len(values) == 1 else None


_FI_NAME = [
    re.compile(r"\b(\w+?)n\s+kanssa\b", _F),  # genitive: "Vesan kanssa" -> Vesa
    re.compile(
        r"haastattelu\w{0,40}+\s+(\w+?)(?:lta|ltä)\b", _F
    ),  # ablative: "haastattelu Vesalta"
    re.compile(r"haastatel\w{0,40}+\s+(\w+?)(?:a|ä)\b", _F),  # partitive: "haastatella Vesaa"
    re.compile(r"\b(\w+?)n\s+haastat\w*+", _F),  # "Vesan haastattelu"
]
_SV_EN_NAME = re.compile(
    r"\b(?i:intervju\w*+|interview\w*+)\s+(?:(?i:med|with)\s+)?((?i:the\s+)?[\w-]+"
    r"(?:\s+[A-ZÅÄÖ][\w-]+)?)"
)
_STOP = frozenset(
    {
        "kiinnostaisi",
        "olisi",
        "mahdollisuus",
        "mahdollisesti",
        "jonkun",
        "kenen",
        "ett",
        "en",
        "a",
        "an",
        "someone",
        "somebody",
        "någon",
        "if",
        "om",
        "jos",
        "kanssa",
        "is",
        "would",
        "be",
        "possible",
        "möjlig",
        "möjligt",
        "hänen",
        "heidän",
        "teidän",
        "hans",
        "hennes",
        "him",
        "her",
        "them",
    }
)


def _interviews(sentences: list[str], speakers: Sequence[str], language: str) -> tuple[str, ...]:
    wishes: list[str] = []
    clauses = [c for s in sentences for c in _CLAUSE.split(s) if c and c.strip()][:MAX_CLAUSES]
    for clause in clauses:
        if not _INTERVIEW.search(clause):
            continue
        if _declines_interview(clause, language):
            continue  # "en tarvitse haastattelua", "no interview needed"
        name = _speaker(clause, speakers) or _name(clause)
        wish = name or clause.strip().rstrip("?.!")[:200]
        if wish not in wishes:
            wishes.append(wish)
    return tuple(wishes[:5])


def _declines_interview(clause: str, language: str) -> bool:
    """A negation followed (anywhere later) by an interview word: "en kaipaa haastattelua"
    ("en" only when the reply may be Finnish: in Swedish it is "a").

    The first negation is enough (it leaves the most text after it), so this is a few linear
    searches; one pattern with ``.*`` between the two would scan the rest of the clause again
    from every negation word.
    """
    found = [_NOT_INTERVIEW.search(clause)]
    if language not in ("sv", "en"):
        found.append(_FINNISH_EN.search(clause))
    ends = [m.end() for m in found if m is not None]
    return bool(ends) and _INTERVIEW_WORD.search(clause, min(ends)) is not None


def _speaker(sentence: str, speakers: Sequence[str]) -> str:
    lowered = sentence.lower()
    for speaker in speakers:
        first = speaker.split()[0] if speaker.split() else ""
        stem = first[: max(3, len(first) - 2)].lower()
        if stem and _word_start(lowered, stem):
            return speaker
    return ""


def _word_start(text: str, stem: str) -> bool:
    """Whether *stem* occurs in *text* where a word starts (``\b`` + stem, without a regex built
    from the officer's configuration)."""
    at = text.find(stem)
    while at >= 0:
        before = text[at - 1] if at else " "
        if not (before.isalnum() or before == "_") or not (stem[0].isalnum() or stem[0] == "_"):
            return True
        at = text.find(stem, at + 1)
    return False


def _name(clause: str) -> str:
    for pattern in _FI_NAME:
        for m in pattern.finditer(clause):
            word = m.group(1)
            if (
                len(word) >= 2
                and word.lower() not in _STOP
                and not _INTERVIEW.match(word)
                and not any(p.match(word) for _, p in _ROLES)
            ):
                return word
    found = _SV_EN_NAME.search(clause)
    if found and found.group(1).split()[-1].lower() not in _STOP:
        return found.group(1).strip()
    return ""


_NOTE_CLAUSE = re.compile(r"[.!?;\n]++")  # an answer's note, split into clauses


def guest_roles(text: str, *, language: str = "") -> tuple[str, ...]:
    """Who comes along according to *text* (an answer's note): ``("photographer",)``..."""
    language = language or reply_language([text])
    return _guests([c for c in _NOTE_CLAUSE.split(text) if c.strip()], language)[1]
