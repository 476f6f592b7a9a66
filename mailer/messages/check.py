"""Checking a round without sending it: every message rendered, every problem found.

:func:`build_plan` stops at the first problem, as a send must. :func:`check_round` renders the
same messages (:func:`~mailer.messages.plan.render_one`, calendar and MIME included) for every
contact, goes on after a failure, and returns each problem once with the number of contacts it
hit, so that ``mailer check`` lists everything in one run. A language that has templates but no
contact is rendered for a stand-in (the first contact in that language), so a Swedish template
is checked before the first Swedish journalist is added.

Follow-up rounds need a calendar UID from the journal; here every message gets a stand-in UID,
so their calendar parts are built and checked too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from mailer.config import LANGUAGES, Config
from mailer.errors import MailerError, TemplateError
from mailer.messages.mime import EncodedPart, Footer, attachment_parts, load_attachments
from mailer.messages.plan import (
    RoundSpec,
    contact_context,
    event_context,
    make_renderer,
    render_one,
)
from mailer.messages.render import Renderer
from mailer.models import Contact
from mailer.store import Reservation


@dataclass(frozen=True)
class Finding:
    """One problem of a round, listed once however many contacts it hit."""

    message: str  # one line: "templates/x/fi/body.txt:3: what is wrong — what to do"
    file: str  # "" for a problem of the round as a whole (an attachment)
    line: int
    problem: str  # what is wrong, without where and hint (with them: a key to list it once)
    hint: str | None
    contacts: int  # contacts whose message it stopped (0: every message of the round)
    of: int  # contacts rendered with the same templates
    first: Contact | None  # the first contact it hit
    varies: bool = False  # the message names each contact's own value; shown: the first's

    @property
    def key(self) -> tuple[str, int, str]:
        return problem_key(self.file, self.line, self.problem)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def per_contact(self) -> bool:
        """Whether it depends on the contact: it hit only some of the contacts that use these
        templates, or names each one's own value."""
        return 0 < self.contacts < self.of or self.varies


@dataclass(frozen=True)
class RoundCheck:
    spec: RoundSpec
    messages: int  # messages that rendered
    contacts: int  # contacts rendered for (with the stand-ins)
    findings: tuple[Finding, ...]
    stand_ins: tuple[str, ...]  # languages with templates but no contact, rendered for a stand-in

    @property
    def ok(self) -> bool:
        return not self.findings


def check_round(
    config: Config,
    contacts: Sequence[Contact],
    spec: RoundSpec,
    *,
    now: dt.datetime,
    renderer: Renderer | None = None,
    blank: Contact | None = None,
) -> RoundCheck:
    """Render every message of *spec* for *contacts* and compile its templates in every
    language; collect every problem. A language with templates and no contact is rendered for
    a stand-in: the first contact, or *blank* when there are none."""
    renderer = renderer or make_renderer(config)
    whole: list[Finding] = []
    found = _Tally()
    everyone, stand_ins = _with_stand_ins(renderer, spec.template, contacts, blank)

    broken: set[str] = set()  # template languages that do not compile: nothing renders
    for language in sorted(set(LANGUAGES) | {c.language for c in everyone}):
        try:
            used = renderer.language_for(spec.template, language)
        except TemplateError as exc:  # no templates at all for this round
            whole.append(_finding(exc, contacts=0, of=0, first=None))
            broken.add(language)
            continue
        problems = renderer.compile_problems(spec.template, {language})
        if problems:
            broken.add(used)
            whole.extend(_finding(e, contacts=0, of=0, first=None) for e in problems)
    whole = list({f.key: f for f in whole}.values())
    parts: Sequence[EncodedPart] = ()
    try:
        parts = attachment_parts(
            load_attachments(
                spec.attachments,
                max_mb=config.invitation.max_attachment_mb,
                label_root=config.root,
                key=spec.attachments_key,
            )
        )
    except MailerError as exc:
        whole.append(Finding(exc.message, "", 0, exc.message, exc.hint, 0, 0, None))

    footer = Footer(config.organizer.privacy_url, config.organizer.unsubscribe_email)
    base = {**event_context(config), **spec.extra_context}
    domain = config.organizer.domain
    uid = f"check-{config.event.id}@{domain}" if spec.calendar_method else None
    rendered = 0
    for contact in everyone:
        if contact.language in broken:
            continue
        used = renderer.language_for(spec.template, contact.language)
        if used in broken:
            continue
        found.used[used] += 1
        ids = Reservation(contact.email, contact.name, f"<check@{domain}>", uid, spec.sequence)
        try:
            render_one(config, renderer, spec, contact, ids, base, parts, footer, now)
        except TemplateError as exc:
            context = {**base, "contact": contact_context(contact)}
            errors = renderer.problems(spec.template, contact.language, context) or (exc,)
            for error in errors:
                found.add(error, contact, used)
        except MailerError as exc:
            found.add(TemplateError(exc.message), contact, used)
        else:
            rendered += 1
    findings = sorted(whole, key=lambda f: (f.file, f.line)) + found.findings()
    return RoundCheck(spec, rendered, len(everyone), tuple(findings), stand_ins)


def _with_stand_ins(
    renderer: Renderer, template: str, contacts: Sequence[Contact], blank: Contact | None
) -> tuple[list[Contact], tuple[str, ...]]:
    """The contacts, and a stand-in for each language that has templates but no contact."""
    everyone = list(contacts)
    base = everyone[0] if everyone else blank
    if base is None:
        return everyone, ()
    try:
        present = {renderer.language_for(template, c.language) for c in contacts}
        own = [lang for lang in LANGUAGES if renderer.language_for(template, lang) == lang]
    except TemplateError:  # no templates at all: compiling says so
        return everyone, ()
    missing = tuple(lang for lang in own if lang not in present)
    everyone.extend(dataclasses.replace(base, language=language) for language in missing)
    return everyone, missing


class _Hit:
    def __init__(self, error: TemplateError) -> None:
        self.error = error
        self.languages: set[str] = set()
        self.contacts: list[Contact] = []
        self.varies = False  # the contacts' messages differ (the values they name)


class _Tally:
    """Render problems, each once, with the contacts they hit. The same problem at the same
    place is one problem also when it names each contact's own value ("cannot format 'Anna'
    as a date"): it is listed with the first contact's value and how many it hit."""

    def __init__(self) -> None:
        self.used: Counter[str] = Counter()  # contacts per template language
        self._hits: dict[tuple[str, int, str], _Hit] = {}

    def add(self, error: TemplateError, contact: Contact, language: str) -> None:
        hit = self._hits.setdefault(problem_key(error.file, error.line, error.problem), _Hit(error))
        hit.languages.add(language)
        hit.varies = hit.varies or error.problem != hit.error.problem
        if not hit.contacts or hit.contacts[-1] is not contact:
            hit.contacts.append(contact)

    def findings(self) -> list[Finding]:
        out = []
        for hit in self._hits.values():
            of = sum(self.used[lang] for lang in hit.languages)
            out.append(
                _finding(
                    hit.error,
                    contacts=len(hit.contacts),
                    of=of,
                    first=hit.contacts[0],
                    varies=hit.varies,
                )
            )
        return sorted(out, key=lambda f: (f.file, f.line))


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def problem_key(file: str, line: int, problem: str) -> tuple[str, int, str]:
    """What makes two problems the same: the place, and the text without the quoted values."""
    return (file, line, _QUOTED.sub("'…'", problem))


def _finding(
    error: TemplateError, *, contacts: int, of: int, first: Contact | None, varies: bool = False
) -> Finding:
    return Finding(
        error.message,
        error.file,
        error.line,
        error.problem,
        error.hint,
        contacts,
        of,
        first,
        varies,
    )
