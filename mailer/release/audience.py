"""Who gets the release, what it is made of, and the round it is sent in."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from mailer.config import Config
from mailer.contacts import Project, recipients
from mailer.messages import BCC_KEY, RoundSpec
from mailer.models import Campaign, Contact, State
from mailer.release.batches import bcc_contacts
from mailer.store import Store

ROUND = 0
GOT_PREBRIEF = frozenset({State.SENT, State.IN_DOUBT, State.CLAIMED, State.TRANSMITTING})


def release_spec(config: Config, embargo: dt.datetime, *, prebrief: bool = False) -> RoundSpec:
    """The release round (or the pre-brief), rendered with the scheduled embargo time."""
    return RoundSpec(
        campaign=Campaign.PREBRIEF if prebrief else Campaign.RELEASE,
        round=ROUND,
        template=config.release.template,
        calendar_method=None,
        attachments=config.release.attachments,
        attachments_key="[release] attachments",
        extra_context={
            "prebrief": prebrief,
            "release": {"embargo": embargo},
            # a Bcc release is one message for many: a template error's hint says so
            BCC_KEY: config.release.mode == "bcc" and not prebrief,
        },
    )


def check_rounds(
    config: Config, contacts: Sequence[Contact], embargo: dt.datetime
) -> tuple[tuple[RoundSpec, tuple[Contact, ...]], ...]:
    """The release and the pre-brief as ``mailer check`` renders them, each with the contacts
    it is rendered for: every contact (in Bcc mode the release is one message per language for
    the organizer, as it is sent)."""
    release = bcc_contacts(config, contacts) if config.release.mode == "bcc" else tuple(contacts)
    return (
        (release_spec(config, embargo), release),
        (release_spec(config, embargo, prebrief=True), tuple(contacts)),
    )


def input_fingerprint(config: Config) -> str:
    """A hash of what the release is made of: config, contacts, templates and attachments."""
    digest = hashlib.sha256()
    folder = config.templates_dir / config.release.template
    paths = [config.path, config.contacts.file, *config.release.attachments]
    if folder.is_dir():
        paths += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in paths:
        digest.update(str(path).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()


@dataclass(frozen=True)
class Audience:
    release: tuple[Contact, ...]  # get the release at the embargo
    prebriefed: tuple[Contact, ...]  # got the pre-brief: not sent the release again
    prebrief_due: tuple[Contact, ...]  # have the pre-brief tag, pre-brief not sent yet


def audience(project: Project, store: Store, tag: str) -> Audience:
    contacts = recipients(project, tag=tag or None, only=None)
    ptag = project.config.release.prebrief_tag
    pre = store.journal.existing(Campaign.PREBRIEF, ROUND)
    rel = store.journal.existing(Campaign.RELEASE, ROUND)
    got = {e for e, row in pre.items() if row.state in GOT_PREBRIEF}
    due = tuple(
        c
        for c in contacts
        if ptag
        and c.email not in got
        and any(t.lower() == ptag for t in c.tags)
        and (c.email not in rel or rel[c.email].state is State.PENDING)
    )
    return Audience(
        release=tuple(c for c in contacts if c.email not in got),
        prebriefed=tuple(c for c in contacts if c.email in got),
        prebrief_due=due,
    )
