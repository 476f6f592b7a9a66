"""Helpers for tests that need a real project on disk (the starter project of ``mailer init``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from mailer.contacts import load_project
from mailer.project.starter import write_starter
from mailer.release.runner import plan_schedule, save_schedule
from mailer.store import Store
from tests.conftest import FIXED_NOW

if TYPE_CHECKING:
    from tests.fixtures_smtp import SmtpTestServer

CONTACT_COLUMNS = ("email", "name", "outlet", "language", "tags", "first_name")


def make_project(dest: Path, *, now: dt.datetime = FIXED_NOW) -> Path:
    """Write the starter project into *dest* (event on 25 June 2027 with the fixed now)."""
    write_starter(dest, now=now)
    return dest


def config_path(project: Path) -> Path:
    return project / "config.toml"


def read_config(project: Path) -> dict[str, Any]:
    return tomllib.loads(config_path(project).read_text(encoding="utf-8"))


def write_config(project: Path, data: Mapping[str, Any]) -> Path:
    path = config_path(project)
    path.write_text(tomli_w.dumps(dict(data), multiline_strings=True), encoding="utf-8")
    return path


def edit_config(project: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Load config.toml, let *change* edit the dict in place, write it back."""
    data = read_config(project)
    change(data)
    return write_config(project, data)


def set_keys(project: Path, section: str, **values: Any) -> Path:
    """Set ``[section] key = value`` for each keyword (creating the section if needed)."""

    def change(data: dict[str, Any]) -> None:
        data.setdefault(section, {}).update(values)

    return edit_config(project, change)


def remove_key(project: Path, section: str, key: str | None = None) -> Path:
    """Delete one key, or the whole section when *key* is None."""

    def change(data: dict[str, Any]) -> None:
        if key is None:
            del data[section]
        else:
            del data[section][key]

    return edit_config(project, change)


def contacts_text(
    rows: Iterable[Mapping[str, str]], columns: Iterable[str] = CONTACT_COLUMNS
) -> str:
    cols = list(columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=cols, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in cols})
    return buffer.getvalue()


def write_contacts(
    project: Path,
    rows: Iterable[Mapping[str, str]] | None = None,
    *,
    text: str | None = None,
    columns: Iterable[str] = CONTACT_COLUMNS,
) -> Path:
    """Replace contacts.csv with *rows* (dicts by column) or with raw *text*."""
    path = project / "contacts.csv"
    content = text if text is not None else contacts_text(rows or [], columns)
    path.write_text(content, encoding="utf-8")
    return path


def read_contacts(project: Path) -> list[dict[str, str]]:
    with (project / "contacts.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def contact(
    email: str, name: str = "", language: str = "fi", tags: str = "", **extra: str
) -> dict[str, str]:
    return {"email": email, "name": name, "language": language, "tags": tags, **extra}


def use_smtp(project: Path, server: SmtpTestServer) -> None:
    """[transport] kind = "smtp" through the test *server*."""
    set_keys(project, "transport", kind="smtp")
    set_keys(project, "smtp", **server.smtp_section())


def scheduled(project: Path, now: dt.datetime) -> None:
    """``mailer release schedule`` with the config's own time, as if run at *now*."""
    proj = load_project(project / "config.toml")
    with Store(proj.config.store_path) as store:
        proposal = plan_schedule(proj, store, at=None, tz=None, tag=None, now=now)
        save_schedule(store, proposal, now=now)
