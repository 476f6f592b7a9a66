"""The schema of config.toml and its validation, one key at a time.

Every problem is a :class:`~mailer.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailer.addresses import has_control
from mailer.errors import ConfigError
from mailer.models import CONTACT_FIELDS

LANGUAGES = ("fi", "sv", "en")

# --- presets -------------------------------------------------------------------------------

PRESETS: dict[str, dict[str, Any]] = {
    # Microsoft 365 SMTP AUTH client submission: 30 messages a minute per mailbox, at most
    # 3 connections, 10,000 recipients a day, 500 recipients per message.
    "microsoft365": {
        "host": "smtp.office365.com",
        "port": 587,
        "security": "starttls",
        "connections": 3,
        "rate_per_minute": 30,
        "daily_cap": 10000,
        "recipients_per_message": 500,
        # Basic authentication for SMTP AUTH is off by default from the end of 2026: sign in.
        "auth": "oauth2",
    },
    # Google Workspace: 2,000 messages a day, 100 recipients per message over SMTP.
    "gmail": {
        "host": "smtp.gmail.com",
        "port": 587,
        "security": "starttls",
        "connections": 3,
        "rate_per_minute": 60,
        "daily_cap": 2000,
        "recipients_per_message": 100,
        "auth": "oauth2",  # app passwords need 2-step verification and are often disabled
    },
}

# Which [oauth2] provider a preset means, when [oauth2] provider is not set.
PRESET_PROVIDERS = {"microsoft365": "microsoft", "gmail": "google"}
AUTH_METHODS = ("password", "oauth2")
OAUTH2_PROVIDERS = ("microsoft", "google", "generic")

# --- the schema --------------------------------------------------------------------------------

_REQUIRED = object()


@dataclass(frozen=True)
class _Key:
    kind: str  # "str", "int", "float", "bool", "strlist", "time", "columns"
    default: Any = _REQUIRED
    choices: tuple[str, ...] = ()
    minimum: float | None = None


SCHEMA: dict[str, dict[str, _Key]] = {
    "event": {
        "id": _Key("str", ""),
        "title": _Key("str"),
        "location": _Key("str"),
        "description": _Key("str", ""),
        "start": _Key("time"),
        "end": _Key("time"),
        "timezone": _Key("str"),
        "url": _Key("str", ""),
    },
    "organizer": {
        "name": _Key("str"),
        "email": _Key("str"),
        "privacy_url": _Key("str", ""),
        "unsubscribe_email": _Key("str", ""),
    },
    "contacts": {
        "file": _Key("str", "contacts.csv"),
        "default_language": _Key("str", "fi", choices=LANGUAGES),
        "columns": _Key("columns", {}),
        "max_contacts": _Key("int", 100_000, minimum=1),
    },
    "invitation": {
        "template": _Key("str", "invitation"),
        "reminder_template": _Key("str", "reminder"),
        "attachments": _Key("strlist", []),
        "ics_attachment": _Key("bool", False),
        "max_attachment_mb": _Key("float", 10.0, minimum=0.001),
    },
    "release": {
        "template": _Key("str", "release"),
        "embargo": _Key("time", None),
        "grace_minutes": _Key("int", 15, minimum=0),
        "mode": _Key("str", "personal", choices=("personal", "bcc")),
        "prebrief_tag": _Key("str", ""),
        "attachments": _Key("strlist", []),
        # The clock check before the release goes out (release/clocktrust.py).
        "clock_url": _Key("str", ""),
        "max_clock_skew_seconds": _Key("float", 2.0, minimum=0.5),
        "require_clock_check": _Key("bool", False),
    },
    "transport": {
        "kind": _Key("str", "outbox", choices=("outbox", "smtp")),
        "outbox_dir": _Key("str", "outbox"),
    },
    "smtp": {
        "preset": _Key("str", "", choices=("", *PRESETS)),
        "host": _Key("str"),
        "port": _Key("int", 0, minimum=0),
        "security": _Key("str", "starttls", choices=("starttls", "tls", "none")),
        "username": _Key("str", ""),
        "auth": _Key("str", "", choices=("", *AUTH_METHODS)),
        "password_env": _Key("str", ""),
        "password_command": _Key("str", ""),
        "keyring_service": _Key("str", ""),
        "ca_file": _Key("str", ""),
        "allow_insecure": _Key("bool", False),
        "connections": _Key("int", 1, minimum=1),
        "rate_per_minute": _Key("int", 0, minimum=0),
        "daily_cap": _Key("int", 0, minimum=0),
        "recipients_per_message": _Key("int", 100, minimum=1),
        "timeout_seconds": _Key("float", 30.0, minimum=0.01),
        "max_attempts": _Key("int", 5, minimum=1),
        "retry_initial_seconds": _Key("float", 10.0, minimum=0.0),
        "retry_max_seconds": _Key("float", 120.0, minimum=0.0),
        "pipelining": _Key("bool", True),
        "chunking": _Key("bool", True),
    },
    "imap": {
        "host": _Key("str"),
        "port": _Key("int", 0, minimum=0),
        "security": _Key("str", "tls", choices=("starttls", "tls", "none")),
        "username": _Key("str", ""),
        "auth": _Key("str", "", choices=("", *AUTH_METHODS)),
        "password_env": _Key("str", ""),
        "password_command": _Key("str", ""),
        "keyring_service": _Key("str", ""),
        "ca_file": _Key("str", ""),
        "allow_insecure": _Key("bool", False),
        "folder": _Key("str", "INBOX"),
        "processed_folder": _Key("str", ""),
        "timeout_seconds": _Key("float", 30.0, minimum=0.01),
    },
    "oauth2": {
        "provider": _Key("str", "", choices=("", *OAUTH2_PROVIDERS)),
        "client_id": _Key("str", ""),
        "tenant": _Key("str", "organizations"),
        "client_secret_env": _Key("str", ""),
        "keyring_service": _Key("str", ""),
        "authority_url": _Key("str", ""),
        "authorization_url": _Key("str", ""),
        "token_url": _Key("str", ""),
        "device_authorization_url": _Key("str", ""),
        "scopes": _Key("strlist", []),
        "token_command": _Key("str", ""),
        "token_cache": _Key("str", "oauth-token.json"),
        "token_store": _Key("str", "file", choices=("file", "keyring")),
        "ca_file": _Key("str", ""),
    },
    "rsvp": {
        "parse_budget_seconds": _Key("float", 2.0, minimum=0.1),
        "max_message_bytes": _Key("int", 10 * 1024 * 1024, minimum=64 * 1024),
    },
    "store": {"path": _Key("str", "mailer.db")},
    "log": {"file": _Key("str", "")},
}
REQUIRED_SECTIONS = ("event", "organizer")
# A table inside a section with that section's keys: [smtp.fallback], the release's second relay.
NESTED = {"smtp": "fallback"}
# [event.<language>]: the keys whose text may differ by language (the rest is the same for all).
EVENT_TEXT_KEYS = ("title", "location", "description", "url")
FREEFORM_SECTIONS = ("vars",)
_LANGUAGE_NAMES = {"fi": "Finnish", "sv": "Swedish", "en": "English"}
_TEXT_KEYS_SHOWN = "title, location, description and url"
_TEXT_WHITESPACE = str.maketrans("", "", "\r\n\t")  # allowed in [event] description
_SECRET_KEYS = ("password", "pass", "secret", "token")
_OAUTH2_SECRET_KEYS = (
    *_SECRET_KEYS,
    "client_secret",
    "access_token",
    "refresh_token",
)


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class Reader:
    """Validates one parsed TOML document against ``SCHEMA``."""

    def __init__(self, data: dict[str, Any], label: str) -> None:
        self.data = data
        self.label = label

    def fail(self, where: str, message: str) -> ConfigError:
        # One line even when a quoted TOML key holds a line break.
        text = f"{self.label}: {where}: {message}"
        return ConfigError(text.replace("\r", "\\r").replace("\n", "\\n"))

    def check_structure(self) -> None:
        known = [*SCHEMA, *FREEFORM_SECTIONS]
        for section, table in self.data.items():
            if section not in known:
                raise self.fail(f"[{section}]", "unknown section" + _suggest(section, known))
            if not isinstance(table, dict):
                raise self.fail(f"[{section}]", f"expected a table, got {_type_name(table)}")
            if section in FREEFORM_SECTIONS:
                for key, value in table.items():
                    if not isinstance(value, str | int | float):
                        raise self.fail(
                            f"[{section}] {key}",
                            f"expected text or a number, got {_type_name(value)}",
                        )
                continue
            keys = list(SCHEMA[section])
            for key, value in table.items():
                if section == "event" and key not in SCHEMA[section] and isinstance(value, dict):
                    self._check_language_table(key, value)
                    continue
                if section in NESTED and key == NESTED[section]:
                    self._check_nested(f"{section}.{key}", section, value)
                    continue
                if section == "event" and key in LANGUAGES:
                    raise self.fail(
                        f"[event] {key}",
                        f"expected a table [event.{key}] with the {_LANGUAGE_NAMES[key]} "
                        f"{_TEXT_KEYS_SHOWN}, got {_type_name(value)}",
                    )
                if key not in SCHEMA[section]:
                    raise self._unknown(section, key, keys)
        for section in REQUIRED_SECTIONS:
            if section not in self.data:
                raise self.fail(f"[{section}]", "missing section")

    def _unknown(self, section: str, key: str, keys: list[str]) -> ConfigError:
        """The error for *key*, which is not in [*section*]: a secret, or a likely typo."""
        if section == "oauth2" and key.lower() in _OAUTH2_SECRET_KEYS:
            return self.fail(
                f"[{section}] {key}",
                "secrets and tokens do not belong in config.toml; set "
                "client_secret_env (an environment variable) or keyring_service",
            )
        if key.lower() in _SECRET_KEYS:
            return self.fail(
                f"[{section}] {key}",
                "passwords do not belong in config.toml; set password_env "
                "(an environment variable), password_command or keyring_service",
            )
        return self.fail(f"[{section}] {key}", "unknown key" + _suggest(key, keys))

    def _check_nested(self, name: str, schema: str, table: Any) -> None:
        """``[smtp.fallback]``: a table with the keys of [*schema*] (and no table of its own)."""
        if not isinstance(table, dict):
            raise self.fail(f"[{name}]", f"expected a table, got {_type_name(table)}")
        keys = list(SCHEMA[schema])
        for key in table:
            if key not in SCHEMA[schema]:
                raise self._unknown(name, key, keys)

    def table(self, name: str) -> dict[str, Any]:
        """The table *name* as written (``smtp.fallback``: [smtp]'s ``fallback``); {} if absent."""
        section, _, sub = name.partition(".")
        found = self.data.get(section, {})
        if sub:
            found = found.get(sub, {}) if isinstance(found, dict) else {}
        return found if isinstance(found, dict) else {}

    def _check_language_table(self, language: str, table: dict[str, Any]) -> None:
        if language not in LANGUAGES:
            shown = ", ".join(repr(lang) for lang in LANGUAGES)
            raise self.fail(
                f"[event.{language}]",
                f"unknown language (a language table is one of {shown}; "
                f"only the {_TEXT_KEYS_SHOWN} can differ by language)",
            )
        for key in table:
            if key in SCHEMA["event"] and key not in EVENT_TEXT_KEYS:
                raise self.fail(
                    f"[event.{language}] {key}",
                    f"is the same in every language: set it in [event]; [event.{language}] "
                    f"may only set the {_TEXT_KEYS_SHOWN}",
                )
            if key not in EVENT_TEXT_KEYS:
                raise self.fail(
                    f"[event.{language}] {key}",
                    "unknown key" + _suggest(key, list(EVENT_TEXT_KEYS)),
                )

    def language_tables(self) -> dict[str, dict[str, str]]:
        """The checked ``[event.<language>]`` tables: language -> the keys it sets."""
        out: dict[str, dict[str, str]] = {}
        for language, table in self.data.get("event", {}).items():
            if language not in LANGUAGES or not isinstance(table, dict):
                continue
            values: dict[str, str] = {}
            for key, value in table.items():
                spec = SCHEMA["event"][key]
                where = f"[event.{language}] {key}"
                text = self._convert(where, value, spec)
                if spec.default is _REQUIRED and not text.strip():
                    raise self.fail(where, f"must not be empty (leave it out to use [event] {key})")
                values[key] = text
            out[language] = values
        return out

    def section(self, name: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The checked keys of [*name*] (``smtp.fallback`` has the keys of [smtp])."""
        table = self.table(name)
        out: dict[str, Any] = {}
        for key, spec in SCHEMA[name.partition(".")[0]].items():
            where = f"[{name}] {key}"
            if key in table:
                out[key] = self._convert(where, table[key], spec)
            elif defaults is not None and key in defaults:
                out[key] = defaults[key]
            elif spec.default is _REQUIRED:
                raise self.fail(where, "missing required value")
            else:
                out[key] = spec.default
            if spec.kind == "str" and spec.default is _REQUIRED and not str(out[key]).strip():
                raise self.fail(where, "must not be empty")
        return out

    def _convert(self, where: str, value: Any, spec: _Key) -> Any:
        kind = spec.kind
        if kind == "str":
            if not isinstance(value, str):
                raise self.fail(where, f"expected a string, got {_type_name(value)}")
            if spec.choices and value not in spec.choices:
                shown = ", ".join(repr(c) for c in spec.choices if c)
                raise self.fail(where, f"expected one of {shown}, got {value!r}")
            multiline = where.split()[-1] == "description"
            if not multiline and any(ch in value for ch in "\r\n\x00"):
                raise self.fail(where, "must be a single line")
            # Names and titles go into headers and calendar parameters, where a control
            # character breaks the line (a broken ORGANIZER is dropped by calendar clients).
            if has_control(value.translate(_TEXT_WHITESPACE) if multiline else value):
                raise self.fail(where, f"control character in {value!r}")
            return value
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(where, f"expected an integer, got {_type_name(value)}")
            if spec.minimum is not None and value < spec.minimum:
                raise self.fail(where, f"must be at least {spec.minimum:g}, got {value}")
            return value
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(where, f"expected a number, got {_type_name(value)}")
            if spec.minimum is not None and value < spec.minimum:
                raise self.fail(where, f"must be at least {spec.minimum:g}, got {value}")
            return float(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(where, f"expected true or false, got {_type_name(value)}")
            return value
        if kind == "strlist":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.fail(where, f"expected a list of strings, got {_type_name(value)}")
            return list(value)
        if kind == "columns":
            return self._columns(where, value)
        if kind == "time":
            if not isinstance(value, str | dt.datetime):
                raise self.fail(
                    where, f'expected a local time like "2027-06-25 13:00", got {_type_name(value)}'
                )
            return value
        raise AssertionError(kind)  # pragma: no cover

    def _columns(self, where: str, value: Any) -> dict[str, str]:
        """``[contacts.columns]``: field -> the header cell of its column in contacts.csv."""
        section, _, key = where[1:].partition("] ")
        table = f"[{section}.{key}]"
        if not isinstance(value, dict):
            raise self.fail(
                table, f'expected a table such as email = "Työsähköposti", got {_type_name(value)}'
            )
        fields = list(CONTACT_FIELDS)
        out: dict[str, str] = {}
        for field, header in value.items():
            here = f"{table} {field}"
            if field not in CONTACT_FIELDS:
                raise self.fail(
                    here,
                    "unknown field"
                    + _suggest(field, fields)
                    + f"; the fields are {', '.join(CONTACT_FIELDS)}",
                )
            if not isinstance(header, str):
                raise self.fail(
                    here, f"expected the column's header as text, got {_type_name(header)}"
                )
            if has_control(header):
                raise self.fail(here, f"control character in {header!r}")
            if field == "email" and not header.strip():
                raise self.fail(here, "must name the column of e-mail addresses")
            out[field] = header
        return out
