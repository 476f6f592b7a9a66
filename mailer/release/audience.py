"""Who gets the release, what it is made of, and the round it is sent in."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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


# The parts of the release's inputs, in the order they are named when they changed.
_PARTS = ("config", "contacts", "templates", "attachments")
_VERSION = 2  # 1: one hash over paths and contents (before issue 13), never compared now


@dataclass(frozen=True)
class InputPart:
    """One part of what the release is made of, hashed by content."""

    key: str  # "config", "contacts", "templates" or "attachments"
    label: str  # how the officer knows it: "config.toml", "contacts.csv", "templates/release"
    digest: str
    unreadable: str  # why a file of it cannot be read ('' when all can)


def _label(config: Config, path: Path) -> str:
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)


def _hash_files(named: list[tuple[str, Path]]) -> tuple[str, str]:
    """A hash of each (name, file) pair's name and content; and the first read error."""
    digest = hashlib.sha256()
    unreadable = ""
    for name, path in named:
        digest.update(name.encode("utf-8") + b"\0")
        try:
            data = path.read_bytes()
        except OSError as exc:
            data = b"\0<unreadable>"
            unreadable = unreadable or f"{path.name}: {exc.strerror or exc}"
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:32], unreadable


def input_parts(config: Config) -> tuple[InputPart, ...]:
    """Config, contacts, the release's templates and its attachments, each hashed by content.

    Never by path: the same project scheduled from its folder (``mailer release schedule``)
    and run by cron with an absolute ``--config`` has the same fingerprint. The templates are
    named by their path inside the template folder and the attachments by their file name
    (the name the journalists see); the config and the contacts by nothing but their bytes.
    """
    folder = config.templates_dir / config.release.template
    templates = (
        sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
        if folder.is_dir()
        else []
    )
    files = {
        "config": (_label(config, config.path), [("", config.path)]),
        "contacts": (_label(config, config.contacts.file), [("", config.contacts.file)]),
        "templates": (_label(config, folder), templates),
        "attachments": (
            ", ".join(p.name for p in config.release.attachments) or "attachments",
            [(p.name, p) for p in config.release.attachments],
        ),
    }
    parts = []
    for key in _PARTS:
        label, named = files[key]
        digest, unreadable = _hash_files(named)
        parts.append(InputPart(key, label, digest, unreadable))
    return tuple(parts)


def input_fingerprint(config: Config) -> str:
    """What :func:`changed_inputs` compares with later: the parts' hashes, as JSON."""
    data: dict[str, object] = {"v": _VERSION}
    data.update((p.key, p.digest) for p in input_parts(config))
    return json.dumps(data, sort_keys=True)


def changed_inputs(config: Config, fingerprint: str) -> tuple[str, ...]:
    """What changed since *fingerprint* was taken, in the officer's terms
    (``contacts.csv changed since scheduling``); () when nothing did, or when the fingerprint
    is of an older mailer (which hashed paths too, so it cannot be compared)."""
    try:
        then = json.loads(fingerprint) if fingerprint.startswith("{") else None
    except ValueError:
        then = None
    if not isinstance(then, dict) or then.get("v") != _VERSION:
        return ()
    out = []
    for part in input_parts(config):
        if part.unreadable:
            out.append(f"cannot read {part.unreadable}")
        elif then.get(part.key) != part.digest:
            out.append(f"{part.label} changed since scheduling")
    return tuple(out)


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
