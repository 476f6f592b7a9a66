"""What ``contacts check`` and ``contacts list`` show, and the table of a file's problems."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from mailer.console.output import info, show_table, warning
from mailer.contacts import ContactList, ContactsReport
from mailer.models import Problem, Severity
from mailer.wording import plural


def problems(items: Sequence[Problem]) -> None:
    if not items:
        return
    table = Table(title="Problems", title_justify="left")
    table.add_column("where")
    table.add_column("severity")
    table.add_column("problem", overflow="fold")
    for p in items:
        where = f"{p.file}:{p.line}" if p.line else p.file
        style = "red" if p.severity is Severity.ERROR else "yellow"
        # Text: a problem may quote the file's own brackets or name [contacts] (not markup)
        table.add_row(Text(where), f"[{style}]{p.severity.value}[/]", Text(p.message))
    show_table(table)


def contacts_check(book: ContactsReport) -> None:
    name = book.path.name
    info(f"Columns of {name}:")
    for column in book.mapping:
        if column.field:
            by_hand = " ([contacts.columns])" if column.chosen else ""
            info(f"  {column.header} -> {column.name}{by_hand}")
    for note in book.notes:
        info(f"  {note}")
    others = [column for column in book.mapping if not column.field]
    if others:
        info("Other columns, in templates as contact.<name>:")
        for column in others:
            info(f"  {column.header} -> contact.{column.name}")
    else:
        info("Other columns: none")
    problems(book.problems)
    info(
        f"{book.path.name}: {plural(book.valid, 'valid contact')}, "
        f"{plural(len(book.errors), 'error')}, {plural(len(book.warnings), 'warning')} "
        f"(delimiter {book.delimiter!r}, encoding {book.encoding})"
    )


def contacts_listed(listed: ContactList) -> None:
    """Name (outlet) above the address, as ``rsvp list`` shows them: at 80 columns every address
    stays whole."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    widest = max((len(c.email) for c in listed.contacts), default=16)
    # Exactly as wide as the longest address: rich narrows the widest columns first, and would
    # narrow this one below its addresses; the name above each address wraps inside it.
    table.add_column("contact", overflow="fold", width=min(60, widest))
    table.add_column("lang", no_wrap=True)
    table.add_column("tags", overflow="fold")
    for c in listed.contacts:
        who = " ".join(x for x in (c.name, f"({c.outlet})" if c.outlet else "") if x)
        table.add_row(f"{who}\n{c.email}" if who else c.email, c.language, ", ".join(c.tags))
    show_table(table)
    info(plural(len(listed.contacts), "contact"))
    if listed.errors:
        rows = (
            "1 row has errors and is"
            if listed.errors == 1
            else f"{listed.errors} rows have errors and are"
        )
        warning(f"{rows} not listed; run 'mailer contacts check'")
