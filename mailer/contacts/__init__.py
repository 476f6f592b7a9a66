"""The media contacts: ``contacts.csv`` in any Excel, Outlook or Google shape, and the project.

Front door of the contacts package: :func:`load_project` reads ``config.toml`` and the contact
book it names (:func:`project_for` the book of a loaded config); :func:`recipients` selects a
round's contacts; :func:`list_contacts` is ``mailer contacts list``; :func:`load_contacts` and
:func:`count_contacts` read the file alone (:func:`check_contacts`, ``mailer contacts check``,
without keeping the contacts) (``ColumnChoice``: the columns chosen in config.toml;
``ContactBook.mapping``: what each column became); :func:`split_name` makes first and last names
from a full name.
"""

from mailer.contacts.book import (
    ColumnChoice,
    ContactBook,
    ContactCounts,
    ContactsReport,
    check_contacts,
    count_contacts,
    load_contacts,
    parse_contacts,
    require_valid,
    select_contacts,
)
from mailer.contacts.headers import MappedColumn
from mailer.contacts.loading import (
    ContactList,
    Project,
    check_project_contacts,
    count_project_contacts,
    list_contacts,
    load_project,
    open_store,
    project_for,
    recipients,
)
from mailer.contacts.names import split_name

__all__ = [
    "ColumnChoice",
    "ContactBook",
    "ContactCounts",
    "ContactList",
    "ContactsReport",
    "MappedColumn",
    "Project",
    "check_contacts",
    "check_project_contacts",
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
    "split_name",
]
