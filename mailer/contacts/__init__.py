"""The media contacts: ``contacts.csv`` in any Excel, Outlook or Google shape, and the project.

Front door of the contacts package: :func:`load_project` reads ``config.toml`` and the contact
book it names; :func:`recipients` selects a round's contacts; :func:`load_contacts` and
:func:`count_contacts` read the file alone.
"""

from mailer.contacts.book import (
    ContactBook,
    ContactCounts,
    count_contacts,
    load_contacts,
    parse_contacts,
    require_valid,
    select_contacts,
)
from mailer.contacts.loading import (
    Project,
    count_project_contacts,
    load_project,
    open_store,
    project_of,
    recipients,
)

__all__ = [
    "ContactBook",
    "ContactCounts",
    "Project",
    "count_contacts",
    "count_project_contacts",
    "load_contacts",
    "load_project",
    "open_store",
    "parse_contacts",
    "project_of",
    "recipients",
    "require_valid",
    "select_contacts",
]
