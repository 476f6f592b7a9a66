"""What a failing template means in the officer's terms, and what to do about it.

A template sees a few names (``contact``, ``event``, ``organizer``, ``release``, ``vars``, ...)
that come from config.toml and contacts.csv. When one is missing, Jinja2 says "'dict object' has
no attribute 'speaker'"; this module names the variable (``vars.speaker``) and the place to add
it (``add speaker = ... under [vars] in config.toml``). Every template error of every command
(preview, send, schedule, check) gets its hint here. Pure functions: the facts come in as
arguments (the values the template was rendered with and the names of the two files).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A Bcc release is rendered once per language for the organizer (release_spec marks it).
BCC_KEY = "_bcc"
BCC_HINT = (
    "in Bcc mode every journalist gets the same message, so the release template cannot use "
    "contact fields such as contact.name"
)
_OWN_FILTERS = ("date", "time", "datetime")
_TABLES = {"event": "event", "organizer": "organizer", "release": "release"}  # config tables
_NO_FILTER = re.compile(r"No (filter|test) named '([^']+)'")


@dataclass(frozen=True)
class Sources:
    """How the officer's files are named in hints."""

    config: str = "config.toml"
    contacts: str = "contacts.csv"


@dataclass(frozen=True)
class Undefined:
    """An undefined name explained: the variable as written in the template, and the hint."""

    variable: str | None  # "vars.speaker", "speaker"; None when it is not one of ours
    hint: str | None


def explain_undefined(
    obj: Any, name: Any, values: Mapping[str, Any], sources: Sources, *, missing: object
) -> Undefined:
    """*name* is missing from *obj* (*missing*: a top-level name), in a template rendered with
    *values*."""
    if not isinstance(name, str) or not name.isprintable():
        return Undefined(None, None)  # Jinja2's own message shows it quoted
    if obj is missing:
        return Undefined(name, _top_level_hint(name, values, sources))
    path = _path_of(obj, values)
    if path is None:
        return Undefined(None, None)
    variable = f"{path}.{name}"
    root = path.split(".")[0]
    keys = [str(k) for k in obj] if isinstance(obj, Mapping) else []
    if root == "vars":
        table = path
        return Undefined(variable, _vars_hint(table, name, keys, sources))
    if root == "contact" and path == "contact":
        if values.get(BCC_KEY):
            return Undefined(variable, BCC_HINT)
        columns = ", ".join(keys) if keys else "none"
        return Undefined(
            variable, f"{sources.contacts} has no column '{name}' (columns: {columns})"
        )
    return Undefined(variable, _keys_hint(path, name, keys, sources))


def filter_hint(message: str, filters: Iterable[str], tests: Iterable[str]) -> str | None:
    """The hint for Jinja2's "No filter named 'x'." (or test): what there is instead."""
    found = _NO_FILTER.search(message)
    if found is None:
        return None
    kind, name = found.groups()
    known = sorted(filters if kind == "filter" else tests)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    guess = f"did you mean '{close[0]}'? " if close else ""
    if kind == "filter":
        own = ", ".join(_OWN_FILTERS)
        return (
            f"{guess}the filters are {own} (dates and times the local way) and Jinja2's own "
            "(upper, lower, title, replace, default, join, ...)"
        )
    return f"{guess}the tests are {', '.join(known)}"


def _path_of(obj: Any, values: Mapping[str, Any], depth: int = 3) -> str | None:
    """Where *obj* is among the template's values (``vars``, ``event``, ``vars.table``)."""
    for key, value in values.items():
        if not isinstance(key, str) or key.startswith("_"):
            continue
        if value is obj:
            return key
        if depth > 1 and isinstance(value, Mapping):
            inner = _path_of(obj, value, depth - 1)
            if inner is not None:
                return f"{key}.{inner}"
    return None


def _vars_hint(table: str, name: str, keys: list[str], sources: Sources) -> str:
    add = f"add {name} = ... under [{table}] in {sources.config}"
    close = _near(name, keys)
    if close:
        return f"did you mean {table}.{close}? (or {add})"
    return f"{add} ([{table}] has {', '.join(keys)})" if keys else add


def _keys_hint(path: str, name: str, keys: list[str], sources: Sources) -> str:
    has = f"{path} has {', '.join(keys) or 'nothing'}"
    table = _TABLES.get(path)
    if table is not None:
        has += f" (from [{table}] in {sources.config})"
    close = _near(name, keys)
    if close:
        return f"did you mean {path}.{close}? {has}"
    return f"{has}; for a value of your own, {_own_value(name, sources)}"


def _top_level_hint(name: str, values: Mapping[str, Any], sources: Sources) -> str:
    vars_ = values.get("vars")
    own = [str(k) for k in vars_] if isinstance(vars_, Mapping) else []
    if name in own:
        return f"write vars.{name} ({name} is under [vars] in {sources.config})"
    near = _near(name, own)
    if near:
        return f"did you mean vars.{near}? (under [vars] in {sources.config})"
    names = sorted(k for k in values if isinstance(k, str) and not k.startswith("_"))
    knows = f"a template knows {', '.join(names)}"
    close = _near(name, names)
    if close:
        return f"did you mean {close}? ({knows})"
    return f"{knows}; for a value of your own, {_own_value(name, sources)}"


def _near(name: str, known: Iterable[str]) -> str | None:
    """The known name *name* is most likely a misspelling or a renaming of (speakr -> speaker,
    speaker -> keynote_speaker), if any."""
    candidates = list(known)
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.7)
    if close:
        return close[0]
    if len(name) >= 4:
        within = [k for k in candidates if name in k or (len(k) >= 4 and k in name)]
        if len(within) == 1:
            return within[0]
    return None


def _own_value(name: str, sources: Sources) -> str:
    return f"add {name} = ... under [vars] in {sources.config} and write vars.{name}"
