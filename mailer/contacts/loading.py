"""A project: its ``config.toml`` and the contact book it names, loaded together.

Every use case starts here: :func:`load_project` reads and checks both (:func:`project_for` reads
the contacts of a config already loaded), :func:`recipients` selects the contacts a round goes
to, :func:`open_store` opens the project's journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailer.config import Config, load_config
from mailer.contacts.book import (
    ColumnChoice,
    ContactBook,
    ContactCounts,
    ContactsReport,
    check_contacts,
    count_contacts,
    load_contacts,
    require_valid,
    select_contacts,
)
from mailer.errors import MailerError
from mailer.models import Contact
from mailer.store import Store


@dataclass(frozen=True)
class Project:
    config: Config
    book: ContactBook


def load_project(config_path: Path) -> Project:
    return project_for(load_config(config_path))


def project_for(config: Config) -> Project:
    """The project of a loaded *config*: its contact book read now."""
    book = load_contacts(
        config.contacts.file,
        default_language=config.contacts.default_language,
        label=_label(config, config.contacts.file),
        choice=_choice(config),
        max_rows=config.contacts.max_contacts,
    )
    return Project(config, book)


def check_project_contacts(config: Config) -> ContactsReport:
    """``mailer contacts check``: the whole file, however long, without keeping the contacts."""
    return check_contacts(
        config.contacts.file,
        default_language=config.contacts.default_language,
        label=_label(config, config.contacts.file),
        choice=_choice(config),
        max_rows=config.contacts.max_contacts,
    )


@dataclass(frozen=True)
class ContactList:
    """``mailer contacts list``: the valid contacts chosen, and how many rows were left out."""

    contacts: tuple[Contact, ...]
    errors: int  # rows with errors: not listed


def list_contacts(config: Config, *, tag: str | None) -> ContactList:
    book = project_for(config).book
    return ContactList(select_contacts(book.contacts, tag=tag), len(book.errors))


def count_project_contacts(config: Config) -> ContactCounts:
    """contacts.csv counted as :func:`load_project` would read it (for ``mailer status``)."""
    return count_contacts(
        config.contacts.file,
        default_language=config.contacts.default_language,
        label=_label(config, config.contacts.file),
        choice=_choice(config),
    )


def _choice(config: Config) -> ColumnChoice:
    return ColumnChoice(config.contacts.columns, str(config.path))


def _label(config: Config, path: Path) -> str:
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)


def open_store(config: Config, *, read_only: bool = False) -> Store:
    """The project's journal; *read_only* for a command that only reads it (it then works
    when the journal's folder cannot be written)."""
    return Store(config.store_path, read_only=read_only)


def recipients(project: Project, *, tag: str | None, only: str | None) -> tuple[Contact, ...]:
    """Valid contacts selected by tag or address; any error in contacts.csv stops here."""
    contacts = require_valid(project.book)
    chosen = select_contacts(contacts, tag=tag, only=only)
    if not chosen:
        what = f"with tag {tag!r}" if tag else f"with address {only!r}" if only else ""
        raise MailerError(f"{project.book.path.name}: no contacts {what}".rstrip())
    return chosen
