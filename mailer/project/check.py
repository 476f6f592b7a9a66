"""``mailer check``: everything a send needs, verified without sending anything.

Every round the project can send is rendered in every language for every contact: the
invitation, the reminder, the update, the cancellation, the release and the pre-brief. Each
problem is one line, listed once however many contacts it hits and whichever later round hits
it again, with what to do about it (:mod:`mailer.messages.hints`); the officer fixes them all
after one run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailer.clock import Clock, SystemClock
from mailer.config import Config, SmtpConfig, imap_password_for, smtp_password
from mailer.contacts import load_project
from mailer.errors import ConfigError, MailerError, SignInRequired
from mailer.invitations import check_specs
from mailer.messages import Finding, RoundCheck, RoundSpec, check_round, invitation_spec
from mailer.models import Campaign, Contact
from mailer.oauth import token_source
from mailer.project.files import file_warnings
from mailer.project.starter import starter_config
from mailer.release import check_rounds, clock_line
from mailer.rsvp import probe_imap
from mailer.wording import plural

_LABELS = {Campaign.PREBRIEF: "pre-brief"}


@dataclass(frozen=True)
class CheckReport:
    lines: tuple[str, ...]
    ok: bool
    sign_in_required: bool = False  # the OAuth 2.0 sign-in has lapsed: exit code 4


@dataclass(frozen=True)
class _SignIn:
    token: str | None
    line: str
    lapsed: bool


FALLBACK_NOTE = " ([smtp.fallback]: the release goes on through it if the primary fails)"


def _oauth_in_use(config: Config) -> bool:
    smtp = config.smtp if config.transport.kind == "smtp" else None
    fallback = smtp.fallback if smtp is not None else None
    return any(s is not None and s.auth == "oauth2" for s in (smtp, fallback, config.imap))


def _check_relay(smtp: SmtpConfig, sign_in: _SignIn) -> str:
    """``ok    <what worked>`` or ``FAIL  <why>`` for [smtp] or [smtp.fallback]: connect,
    (STARTTLS,) sign in with its own password or the [oauth2] token, QUIT."""
    from mailer.sending import check_smtp  # lazy: aiosmtplib only when a server is probed

    try:
        if smtp.auth == "oauth2":
            if sign_in.token is None:
                raise SignInRequired("not tried: no access token (see sign-in above)")
            password: str | None = sign_in.token
        else:
            password = smtp_password(smtp, interactive=False)
        return f"ok    {check_smtp(smtp, password, timeout=smtp.timeout_seconds)}"
    except MailerError as exc:
        return f"FAIL  {exc.message}"


def _sign_in(config: Config, clock: Clock) -> _SignIn:
    """One access token for both servers, and the line that says whose it is and how fresh."""
    try:
        source = token_source(config, clock)
        token = source.access_token()
    except SignInRequired as exc:
        return _SignIn(None, f"FAIL  sign-in     {exc.message}", True)
    except MailerError as exc:
        return _SignIn(None, f"FAIL  sign-in     {exc.message}", False)
    status = source.status()
    if status.last_refreshed is None:
        fresh = "token from [oauth2] token_command"
    else:
        stamp = status.last_refreshed.astimezone(config.zone).strftime("%Y-%m-%d %H:%M %Z")
        fresh = f"token last refreshed {stamp}"
    return _SignIn(
        str(token),
        f"ok    sign-in     {status.account}, {status.method}, SASL XOAUTH2, {fresh}",
        False,
    )


def run_check(
    config_path: Path, *, now: dt.datetime, connect: bool, clock: Clock | None = None
) -> CheckReport:
    """Config, contacts, every round's templates and attachments, and (optionally) the servers: SMTP
    (log in and QUIT) and IMAP (log in, examine the folder read-only, log out). With
    ``auth = "oauth2"`` the token is obtained first (renewed if needed, *clock*) and both
    servers are signed in to with SASL XOAUTH2."""
    lines: list[str] = []
    ok = True
    project = load_project(config_path)
    config = project.config
    lines.append(f"ok    config      {config_path}")
    lines.extend(file_warnings(config))
    lines.extend(starter_leftovers(config))
    book = project.book
    if book.errors:
        ok = False
        lines.append(f"FAIL  contacts    {book.errors[0]} ({plural(len(book.errors), 'error')})")
    else:
        lines.append(
            f"ok    contacts    {plural(len(book.contacts), 'contact')}, "
            f"{plural(len(book.warnings), 'warning')}"
        )
    blank = Contact(
        email=config.organizer.email,
        name="",
        outlet="",
        language=config.contacts.default_language,
        tags=(),
        line=0,
        fields={column: "" for column in book.columns},
    )
    rounds_ok, round_lines = check_templates(config, book.contacts, now=now, blank=blank)
    ok = ok and rounds_ok
    lines.extend(round_lines)
    sign_in = _SignIn(None, "", False)
    if connect and _oauth_in_use(config):
        sign_in = _sign_in(config, clock or SystemClock())
        lines.append(sign_in.line)
        ok = ok and sign_in.token is not None
    if connect and config.transport.kind == "smtp" and config.smtp is not None:
        relays = [("smtp", config.smtp, "")]
        if config.smtp.fallback is not None:
            relays.append(("fallback", config.smtp.fallback, FALLBACK_NOTE))
        for label, smtp, note in relays:
            line = _check_relay(smtp, sign_in)
            ok = ok and line.startswith("ok")
            lines.append(f"{line[:6]}{label:<12}{line[6:]}{note}")
    if connect and config.imap is not None:
        try:
            if config.imap.auth == "oauth2":
                if not config.imap.username:
                    raise ConfigError(f"{config.path.name}: [imap] username: is empty")
                if sign_in.token is None:
                    raise SignInRequired("not tried: no access token (see sign-in above)")
                imap_password: str | None = sign_in.token
            else:
                imap_password = imap_password_for(config, interactive=False)
            if imap_password is None:
                raise ConfigError(f"{config.path.name}: [imap] username is empty")
            found = probe_imap(config.imap, password=imap_password)
            lines.append(f"ok    imap        {found}")
        except MailerError as exc:
            ok = False
            hint = f" ({exc.hint})" if exc.hint else ""
            lines.append(f"FAIL  imap        {exc.message}{hint}")
    if connect:
        clock_ok, line = clock_line(config, clock or SystemClock())
        ok = ok and clock_ok
        lines.extend([line] if line else [])
    return CheckReport(tuple(lines), ok, sign_in_required=sign_in.lapsed)


def check_templates(
    config: Config, contacts: Sequence[Contact], *, now: dt.datetime, blank: Contact | None = None
) -> tuple[bool, list[str]]:
    """Render every round for every contact: whether all rendered, and a line per round (ok)
    or per problem (FAIL). Without contacts the templates are rendered for *blank* (a contact
    with the file's columns, all empty), so they are checked before the list is ready."""
    embargo = config.release.embargo or config.event.start
    rounds: list[tuple[RoundSpec, Sequence[Contact]]] = [
        (invitation_spec(config), contacts),
        *((spec, contacts) for spec in check_specs(config)),
        *check_rounds(config, contacts, embargo),
    ]
    contacts_file = _label(config.contacts.file, config.root)
    lines: list[str] = []
    listed: set[tuple[str, int, str]] = set()
    ok = True
    for spec, who in rounds:
        result = check_round(config, who, spec, now=now, blank=blank)
        label = f"{_LABELS.get(spec.campaign, spec.campaign.value):<11}"
        if result.ok:
            lines.append(f"ok    {label} {result.messages} messages render{_notes(config, result)}")
            continue
        ok = False
        new = [f for f in result.findings if f.key not in listed]
        again = len(result.findings) - len(new)
        for finding in new:
            lines.append(f"FAIL  {label} {_line(finding, contacts_file)}")
            listed.add(finding.key)
        if again:
            what = "problem" if again == 1 else f"{again} problems"
            lines.append(
                f"FAIL  {label} {'the same' if not new else 'and the'} {what} "
                f"{'as' if not new else 'listed'} above"
            )
    return ok, lines


def _line(finding: Finding, contacts_file: str) -> str:
    """One problem: where, what, for how many contacts (when only some), and what to do."""
    text = f"{finding.where}: {finding.problem}" if finding.file else finding.problem
    if finding.per_contact and finding.first is not None:
        first = finding.first
        at = f"{contacts_file}:{first.line}" if first.line else first.email
        count = (
            f"all {finding.contacts}"
            if finding.contacts >= finding.of
            else f"{finding.contacts} of {finding.of}"
        )
        text += f" (for {count} contacts, first {at})"
    return f"{text} — {finding.hint}" if finding.hint else text


def _notes(config: Config, result: RoundCheck) -> str:
    notes = []
    if result.spec.campaign is Campaign.RELEASE and config.release.mode == "bcc":
        notes.append("Bcc: one message per language")
    if result.spec.campaign in (Campaign.RELEASE, Campaign.PREBRIEF) and (
        config.release.embargo is None
    ):
        notes.append("no [release] embargo yet: rendered with the event's start")
    if result.stand_ins:
        langs = ", ".join(result.stand_ins)
        noun = "contact" if len(result.stand_ins) == 1 else "contacts"
        notes.append(f"{langs}: no {noun}, rendered for a stand-in")
    return f" ({'; '.join(notes)})" if notes else ""


def _label(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def starter_leftovers(config: Config) -> list[str]:
    """A warning for each ``[event.<language>]`` that still has the starter's title or place
    while ``[event]`` was changed: its journalists would be invited to the sample seminar."""
    sample = starter_config(config.event.start.date())["event"]
    if (config.event.title, config.event.location) == (sample["title"], sample["location"]):
        return []  # the starter's own event: its language tables belong to it
    found = []
    for language, text in sorted(config.event.languages.items()):
        theirs = sample.get(language)
        if not isinstance(theirs, dict):
            continue
        kept = [key for key in ("title", "location") if getattr(text, key) == theirs[key]]
        if kept:
            what = " and ".join(kept)
            found.append(
                f"warn  event       [event.{language}] {what} still the starter's "
                f"({getattr(text, kept[0])!r}) though [event] was changed: "
                f"edit or remove [event.{language}] in config.toml"
            )
    return found
