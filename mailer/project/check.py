"""``mailer check``: everything a send needs, verified without sending anything."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from mailer.config import imap_password_for, password_for
from mailer.contacts import load_project
from mailer.errors import ConfigError, MailerError
from mailer.messages import build_plan, invitation_spec
from mailer.release import release_spec
from mailer.rsvp import probe_imap


@dataclass(frozen=True)
class CheckReport:
    lines: tuple[str, ...]
    ok: bool


def run_check(config_path: Path, *, now: dt.datetime, connect: bool) -> CheckReport:
    """Config, contacts, every template and attachment, and (optionally) the servers: SMTP
    (log in and QUIT) and IMAP (log in, examine the folder read-only, log out)."""
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
    if connect and config.transport.kind == "smtp" and config.smtp is not None:
        from mailer.sending import check_smtp

        try:
            password = password_for(config, interactive=False)
            found = check_smtp(config.smtp, password, timeout=config.smtp.timeout_seconds)
            lines.append(f"ok    smtp        {found}")
        except MailerError as exc:
            ok = False
            lines.append(f"FAIL  smtp        {exc.message}")
    if connect and config.imap is not None:
        try:
            imap_password = imap_password_for(config, interactive=False)
            if imap_password is None:
                raise ConfigError(f"{config.path.name}: [imap] username is empty")
            found = probe_imap(config.imap, password=imap_password)
            lines.append(f"ok    imap        {found}")
        except MailerError as exc:
            ok = False
            hint = f" ({exc.hint})" if exc.hint else ""
            lines.append(f"FAIL  imap        {exc.message}{hint}")
    return CheckReport(tuple(lines), ok)
