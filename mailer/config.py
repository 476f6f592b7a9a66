"""config.toml: read, validate and resolve into frozen dataclasses.

Every problem is one :class:`~mailer.errors.ConfigError` line naming the file and the key, e.g.
``config.toml: [smtp] port: expected an integer, got 'abc'``. Relative paths are relative to the
directory of the config file. Passwords are never read from this file: ``password_env``,
``password_command`` and ``keyring_service`` say where to find them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from mailer.addresses import has_control
from mailer.errors import ConfigError
from mailer.timeutil import LocalTimeError, load_zone, parse_local

LANGUAGES = ("fi", "sv", "en")
CONFIG_ENV = "MAILER_CONFIG"

SmtpSecurity = Literal["starttls", "tls", "none"]
TransportKind = Literal["outbox", "smtp"]
ReleaseMode = Literal["personal", "bcc"]


@dataclass(frozen=True)
class EventConfig:
    title: str
    location: str
    description: str
    start: dt.datetime  # aware, in ``zone``
    end: dt.datetime
    zone: ZoneInfo
    id: str
    url: str


@dataclass(frozen=True)
class OrganizerConfig:
    name: str
    email: str
    privacy_url: str
    unsubscribe_email: str

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass(frozen=True)
class ContactsConfig:
    file: Path
    default_language: str


@dataclass(frozen=True)
class InvitationConfig:
    template: str
    reminder_template: str
    attachments: tuple[Path, ...]
    ics_attachment: bool
    max_attachment_mb: float


@dataclass(frozen=True)
class ReleaseConfig:
    template: str
    embargo: dt.datetime | None  # aware, in the event's zone
    grace_minutes: int
    mode: ReleaseMode
    prebrief_tag: str
    attachments: tuple[Path, ...]


@dataclass(frozen=True)
class TransportConfig:
    kind: TransportKind
    outbox_dir: Path


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: SmtpSecurity
    username: str
    password_env: str
    password_command: str
    keyring_service: str
    ca_file: Path | None
    allow_insecure: bool
    connections: int
    rate_per_minute: int
    daily_cap: int
    recipients_per_message: int
    timeout_seconds: float
    max_attempts: int
    retry_initial_seconds: float
    retry_max_seconds: float
    preset: str


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: SmtpSecurity
    username: str
    password_env: str
    password_command: str
    keyring_service: str
    ca_file: Path | None
    allow_insecure: bool
    folder: str
    processed_folder: str
    timeout_seconds: float


@dataclass(frozen=True)
class Config:
    path: Path
    root: Path  # directory of the config file
    event: EventConfig
    organizer: OrganizerConfig
    contacts: ContactsConfig
    invitation: InvitationConfig
    release: ReleaseConfig
    transport: TransportConfig
    smtp: SmtpConfig | None
    imap: ImapConfig | None
    store_path: Path
    log_file: Path | None
    vars: Mapping[str, str] = field(default_factory=dict)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def zone(self) -> ZoneInfo:
        return self.event.zone


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
    },
}

# --- the schema --------------------------------------------------------------------------------

_REQUIRED = object()


@dataclass(frozen=True)
class _Key:
    kind: str  # "str", "int", "float", "bool", "strlist", "time"
    default: Any = _REQUIRED
    choices: tuple[str, ...] = ()
    minimum: float | None = None


_SCHEMA: dict[str, dict[str, _Key]] = {
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
    },
    "imap": {
        "host": _Key("str"),
        "port": _Key("int", 0, minimum=0),
        "security": _Key("str", "tls", choices=("starttls", "tls", "none")),
        "username": _Key("str", ""),
        "password_env": _Key("str", ""),
        "password_command": _Key("str", ""),
        "keyring_service": _Key("str", ""),
        "ca_file": _Key("str", ""),
        "allow_insecure": _Key("bool", False),
        "folder": _Key("str", "INBOX"),
        "processed_folder": _Key("str", ""),
        "timeout_seconds": _Key("float", 30.0, minimum=0.01),
    },
    "store": {"path": _Key("str", "mailer.db")},
    "log": {"file": _Key("str", "")},
}
_REQUIRED_SECTIONS = ("event", "organizer")
_FREEFORM_SECTIONS = ("vars",)
_TEXT_WHITESPACE = str.maketrans("", "", "\r\n\t")  # allowed in [event] description
_SECRET_KEYS = ("password", "pass", "secret", "token")


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


class _Reader:
    """Validates one parsed TOML document against ``_SCHEMA``."""

    def __init__(self, data: dict[str, Any], label: str) -> None:
        self.data = data
        self.label = label

    def fail(self, where: str, message: str) -> ConfigError:
        # One line even when a quoted TOML key holds a line break.
        text = f"{self.label}: {where}: {message}"
        return ConfigError(text.replace("\r", "\\r").replace("\n", "\\n"))

    def check_structure(self) -> None:
        known = [*_SCHEMA, *_FREEFORM_SECTIONS]
        for section, table in self.data.items():
            if section not in known:
                raise self.fail(f"[{section}]", "unknown section" + _suggest(section, known))
            if not isinstance(table, dict):
                raise self.fail(f"[{section}]", f"expected a table, got {_type_name(table)}")
            if section in _FREEFORM_SECTIONS:
                for key, value in table.items():
                    if not isinstance(value, str | int | float):
                        raise self.fail(
                            f"[{section}] {key}",
                            f"expected text or a number, got {_type_name(value)}",
                        )
                continue
            keys = list(_SCHEMA[section])
            for key in table:
                if key not in _SCHEMA[section]:
                    if key.lower() in _SECRET_KEYS:
                        raise self.fail(
                            f"[{section}] {key}",
                            "passwords do not belong in config.toml; set password_env "
                            "(an environment variable), password_command or keyring_service",
                        )
                    raise self.fail(f"[{section}] {key}", "unknown key" + _suggest(key, keys))
        for section in _REQUIRED_SECTIONS:
            if section not in self.data:
                raise self.fail(f"[{section}]", "missing section")

    def section(self, name: str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        table = dict(self.data.get(name, {}))
        out: dict[str, Any] = {}
        for key, spec in _SCHEMA[name].items():
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
        if kind == "time":
            if not isinstance(value, str | dt.datetime):
                raise self.fail(
                    where, f'expected a local time like "2027-06-25 13:00", got {_type_name(value)}'
                )
            return value
        raise AssertionError(kind)  # pragma: no cover


def _resolve(root: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else root / path


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_email(reader: _Reader, where: str, value: str) -> str:
    from mailer.addresses import AddressError, normalize_address

    try:
        return normalize_address(value)
    except AddressError as exc:
        raise reader.fail(where, str(exc)) from None


def find_config(explicit: Path | None, *, environ: Mapping[str, str] | None = None) -> Path:
    """``--config`` wins, then ``$MAILER_CONFIG``, then ``./config.toml``."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return Path("config.toml")


def load_config(path: Path) -> Config:
    """Read and validate *path*. Raises :class:`ConfigError` with one line naming the key."""
    label = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{label}: no such file", hint="run 'mailer init' to create a starter project"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # "Invalid value (at line 3, column 12)" -> "config.toml:3: TOML syntax error: ..."
        found = re.search(r" \(at line (\d+), column (\d+)\)$", str(exc))
        if found is None:
            raise ConfigError(f"{label}: TOML syntax error: {exc}") from None
        raise ConfigError(
            f"{label}:{found[1]}: TOML syntax error: {str(exc)[: found.start()]} "
            f"(column {found[2]})"
        ) from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    label = str(path)
    root = path.resolve().parent
    reader = _Reader(data, label)
    reader.check_structure()

    ev = reader.section("event")
    try:
        zone = load_zone(ev["timezone"])
    except LocalTimeError as exc:
        raise reader.fail("[event] timezone", str(exc)) from None

    def when(section: str, key: str, value: object) -> dt.datetime:
        try:
            return parse_local(value, zone)
        except LocalTimeError as exc:
            raise reader.fail(f"[{section}] {key}", str(exc)) from None

    start = when("event", "start", ev["start"])
    end = when("event", "end", ev["end"])
    if end <= start:
        raise reader.fail("[event] end", "must be after [event] start")
    event_id = ev["id"] or f"{start:%Y%m%d}-" + "".join(
        ch
        for ch in ev["title"].lower().replace(" ", "-")
        if ch.isascii() and (ch.isalnum() or ch == "-")
    )[:40].strip("-")
    event = EventConfig(
        title=ev["title"],
        location=ev["location"],
        description=ev["description"],
        start=start,
        end=end,
        zone=zone,
        id=event_id or f"{start:%Y%m%d}-event",
        url=ev["url"],
    )

    org = reader.section("organizer")
    organizer = OrganizerConfig(
        name=org["name"],
        email=_check_email(reader, "[organizer] email", org["email"]),
        privacy_url=org["privacy_url"],
        unsubscribe_email=(
            _check_email(reader, "[organizer] unsubscribe_email", org["unsubscribe_email"])
            if org["unsubscribe_email"]
            else ""
        ),
    )

    co = reader.section("contacts")
    contacts = ContactsConfig(
        file=_resolve(root, co["file"]), default_language=co["default_language"]
    )

    inv = reader.section("invitation")
    invitation = InvitationConfig(
        template=inv["template"],
        reminder_template=inv["reminder_template"],
        attachments=tuple(_resolve(root, p) for p in inv["attachments"]),
        ics_attachment=inv["ics_attachment"],
        max_attachment_mb=inv["max_attachment_mb"],
    )

    rel = reader.section("release")
    release = ReleaseConfig(
        template=rel["template"],
        embargo=when("release", "embargo", rel["embargo"]) if rel["embargo"] is not None else None,
        grace_minutes=rel["grace_minutes"],
        mode=cast(ReleaseMode, rel["mode"]),
        prebrief_tag=rel["prebrief_tag"].strip().lower(),
        attachments=tuple(_resolve(root, p) for p in rel["attachments"]),
    )

    tr = reader.section("transport")
    transport = TransportConfig(
        kind=cast(TransportKind, tr["kind"]), outbox_dir=_resolve(root, tr["outbox_dir"])
    )

    smtp: SmtpConfig | None = None
    if "smtp" in data:
        preset_name = data["smtp"].get("preset", "")
        preset = PRESETS.get(preset_name, {}) if isinstance(preset_name, str) else {}
        s = reader.section("smtp", preset)
        smtp = SmtpConfig(
            host=s["host"],
            port=s["port"] or {"starttls": 587, "tls": 465, "none": 25}[s["security"]],
            security=cast(SmtpSecurity, s["security"]),
            username=s["username"],
            password_env=s["password_env"],
            password_command=s["password_command"],
            keyring_service=s["keyring_service"],
            ca_file=_resolve(root, s["ca_file"]) if s["ca_file"] else None,
            allow_insecure=s["allow_insecure"],
            connections=s["connections"],
            rate_per_minute=s["rate_per_minute"],
            daily_cap=s["daily_cap"],
            recipients_per_message=s["recipients_per_message"],
            timeout_seconds=s["timeout_seconds"],
            max_attempts=s["max_attempts"],
            retry_initial_seconds=s["retry_initial_seconds"],
            retry_max_seconds=s["retry_max_seconds"],
            preset=s["preset"],
        )
        _check_security(reader, "smtp", smtp.security, smtp.host, smtp.allow_insecure)
    if transport.kind == "smtp" and smtp is None:
        raise reader.fail("[transport] kind", "is 'smtp' but there is no [smtp] section")

    imap: ImapConfig | None = None
    if "imap" in data:
        i = reader.section("imap")
        imap = ImapConfig(
            host=i["host"],
            port=i["port"] or {"starttls": 143, "tls": 993, "none": 143}[i["security"]],
            security=cast(SmtpSecurity, i["security"]),
            username=i["username"],
            password_env=i["password_env"],
            password_command=i["password_command"],
            keyring_service=i["keyring_service"],
            ca_file=_resolve(root, i["ca_file"]) if i["ca_file"] else None,
            allow_insecure=i["allow_insecure"],
            folder=i["folder"],
            processed_folder=i["processed_folder"],
            timeout_seconds=i["timeout_seconds"],
        )
        _check_security(reader, "imap", imap.security, imap.host, imap.allow_insecure)

    st = reader.section("store")
    lg = reader.section("log")
    free = data.get("vars", {})
    return Config(
        path=path,
        root=root,
        event=event,
        organizer=organizer,
        contacts=contacts,
        invitation=invitation,
        release=release,
        transport=transport,
        smtp=smtp,
        imap=imap,
        store_path=_resolve(root, st["path"]),
        log_file=_resolve(root, lg["file"]) if lg["file"] else None,
        vars={str(k): str(v) for k, v in free.items()},
    )


def _check_security(reader: _Reader, section: str, security: str, host: str, allow: bool) -> None:
    if security == "none" and not _is_loopback(host) and not allow:
        raise reader.fail(
            f"[{section}] security",
            f"'none' sends the password in clear text to {host}; use 'starttls' or 'tls', "
            "or set allow_insecure = true if you really mean it",
        )


Loader = Callable[[Path], Config]
