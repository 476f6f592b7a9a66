"""The media contacts: ``contacts.csv`` in any Excel, Outlook or Google shape, and the project.

Front door of the contacts package: :func:`load_project` reads ``config.toml`` and the contact
book it names (:func:`project_for` the book of a loaded config); :func:`recipients` selects a
round's contacts; :func:`list_contacts` is ``mailer contacts list``; :func:`load_contacts` and
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
    ContactList,
    Project,
    count_project_contacts,
    list_contacts,
    load_project,
    open_store,
    project_for,
    recipients,
)

__all__ = [
    "ContactBook",
    "ContactCounts",
    "ContactList",
    "Project",
    "count_contacts",
    "count_project_contacts",
    "list_contacts",
    "load_contacts",
    "load_project",
    "open_store",
    "parse_contacts",
    "project_for",
    "recipients",
    "require_valid",
    "select_contacts",
]
