"""``mailer check``: everything a send needs, verified without sending anything."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from mailer.clock import Clock, SystemClock
from mailer.config import Config, imap_password_for, password_for
from mailer.contacts import load_project
from mailer.errors import ConfigError, MailerError, SignInRequired
from mailer.messages import build_plan, invitation_spec
from mailer.oauth import token_source
from mailer.release import release_spec
from mailer.rsvp import probe_imap


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


def _oauth_in_use(config: Config) -> bool:
    smtp = config.smtp if config.transport.kind == "smtp" else None
    return any(s is not None and s.auth == "oauth2" for s in (smtp, config.imap))


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
    """Config, contacts, every template and attachment, and (optionally) the servers: SMTP
    (log in and QUIT) and IMAP (log in, examine the folder read-only, log out). With
    ``auth = "oauth2"`` the token is obtained first (renewed if needed, *clock*) and both
    servers are signed in to with SASL XOAUTH2."""
    lines: list[str] = []
    ok = True
    project = load_project(config_path)
    config = project.config
    lines.append(f"ok    config      {config_path}")
    book = project.book
    if book.errors:
        ok = False
        lines.append(f"FAIL  contacts    {book.errors[0]} ({len(book.errors)} errors)")
    else:
        lines.append(
            f"ok    contacts    {len(book.contacts)} contacts, {len(book.warnings)} warnings"
        )
    contacts = book.contacts
    specs = [invitation_spec(config)]
    if config.release.embargo is not None:
        specs.append(release_spec(config, config.release.embargo))
    for spec in specs:
        try:
            plan = build_plan(config, contacts, spec, now=now, store=None)
            lines.append(f"ok    {spec.campaign.value:<11} {len(plan.items)} messages render")
        except MailerError as exc:
            ok = False
            lines.append(f"FAIL  {spec.campaign.value:<11} {exc.message}")
    sign_in = _SignIn(None, "", False)
    if connect and _oauth_in_use(config):
        sign_in = _sign_in(config, clock or SystemClock())
        lines.append(sign_in.line)
        ok = ok and sign_in.token is not None
    if connect and config.transport.kind == "smtp" and config.smtp is not None:
        from mailer.sending import check_smtp

        try:
            if config.smtp.auth == "oauth2":
                if sign_in.token is None:
                    raise SignInRequired("not tried: no access token (see sign-in above)")
                password: str | None = sign_in.token
            else:
                password = password_for(config, interactive=False)
            found = check_smtp(config.smtp, password, timeout=config.smtp.timeout_seconds)
            lines.append(f"ok    smtp        {found}")
        except MailerError as exc:
            ok = False
            lines.append(f"FAIL  smtp        {exc.message}")
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
    return CheckReport(tuple(lines), ok, sign_in_required=sign_in.lapsed)
