"""config.toml: read, validate and resolve into the frozen dataclasses of :mod:`.model`.

Every problem is one :class:`~mailer.errors.ConfigError` line naming the file and the key, e.g.
``config.toml: [smtp] port: expected an integer, got 'abc'``. Relative paths are relative to the
directory of the config file. Passwords are never read from this file: ``password_env``,
``password_command`` and ``keyring_service`` say where to find them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from mailer.addresses import is_loopback
from mailer.config.model import (
    DEFAULT_SCOPES,
    AuthMethod,
    Config,
    ContactsConfig,
    EventConfig,
    EventText,
    ImapConfig,
    InvitationConfig,
    OAuth2Config,
    OrganizerConfig,
    Provider,
    ReleaseConfig,
    ReleaseMode,
    RsvpConfig,
    SmtpConfig,
    TransportConfig,
    TransportKind,
)
from mailer.config.schema import LANGUAGES, PRESET_PROVIDERS, PRESETS, Reader

__all__ = ["CONFIG_ENV", "LANGUAGES", "PRESETS", "find_config", "load_config", "parse_config"]
from mailer.errors import ConfigError
from mailer.timeutil import LocalTimeError, load_zone, parse_local

CONFIG_ENV = "MAILER_CONFIG"


def _resolve(root: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else root / path


def _check_email(reader: Reader, where: str, value: str) -> str:
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
    reader = Reader(data, label)
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
        languages=_event_languages(reader, ev, root / "templates"),
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
        file=_resolve(root, co["file"]),
        default_language=co["default_language"],
        columns=dict(co["columns"]),
        max_contacts=co["max_contacts"],
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
        clock_url=_clock_url(reader, rel["clock_url"].strip()),
        max_clock_skew_seconds=rel["max_clock_skew_seconds"],
        require_clock_check=rel["require_clock_check"],
    )

    tr = reader.section("transport")
    transport = TransportConfig(
        kind=cast(TransportKind, tr["kind"]), outbox_dir=_resolve(root, tr["outbox_dir"])
    )

    smtp: SmtpConfig | None = None
    signin = _oauth2(reader, data, root)
    if "smtp" in data:
        smtp = _smtp(reader, "smtp", root, signin)
        if "fallback" in data["smtp"]:
            fallback = _smtp(reader, "smtp.fallback", root, signin)
            smtp = dataclasses.replace(smtp, fallback=fallback)
    if transport.kind == "smtp" and smtp is None:
        raise reader.fail("[transport] kind", "is 'smtp' but there is no [smtp] section")

    imap: ImapConfig | None = None
    if "imap" in data:
        i = reader.section("imap")
        imap = _server(ImapConfig, i, root, {"starttls": 143, "tls": 993, "none": 143})
        _check_security(reader, "imap", imap.security, imap.host, imap.allow_insecure)
        imap = _with_auth(reader, "imap", imap, smtp.preset if smtp else "", signin)
    servers = (smtp, smtp.fallback if smtp else None, imap)
    in_use = any(server is not None and server.auth == "oauth2" for server in servers)
    oauth2 = signin if in_use or signin.configured else None

    st = reader.section("store")
    lg = reader.section("log")
    rv = reader.section("rsvp")
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
        oauth2=oauth2,
        log_file=_resolve(root, lg["file"]) if lg["file"] else None,
        vars={str(k): str(v) for k, v in free.items()},
        rsvp=RsvpConfig(float(rv["parse_budget_seconds"]), int(rv["max_message_bytes"])),
    )


def _event_languages(
    reader: Reader, ev: Mapping[str, Any], templates: Path
) -> dict[str, EventText]:
    """``[event.<language>]`` merged over ``[event]``.

    A table for a language no template is written in is an error: its contacts get the default
    language's templates, and with them the ``[event]`` texts, so the table would never be used.
    """
    out: dict[str, EventText] = {}
    for language, values in reader.language_tables().items():
        if templates.is_dir() and not any(templates.glob(f"*/{language}/subject.txt")):
            raise reader.fail(
                f"[event.{language}]",
                f"no template is written in {language!r} (templates/<round>/{language}/), so "
                "its contacts get the default language's templates and the [event] texts; "
                f"add the templates or remove [event.{language}]",
            )
        merged = {key: ev[key] for key in ("title", "location", "description", "url")}
        merged.update(values)
        out[language] = EventText(**merged)
    return out


_Server = TypeVar("_Server", SmtpConfig, ImapConfig)


def _smtp(reader: Reader, section: str, root: Path, signin: OAuth2Config) -> SmtpConfig:
    """[smtp] or [smtp.fallback]: the same keys, checks, presets and defaults."""
    preset_name = reader.table(section).get("preset", "")
    preset = PRESETS.get(preset_name, {}) if isinstance(preset_name, str) else {}
    values = reader.section(section, preset)
    smtp = _server(SmtpConfig, values, root, {"starttls": 587, "tls": 465, "none": 25})
    smtp = dataclasses.replace(smtp, section=section)
    _check_security(reader, section, smtp.security, smtp.host, smtp.allow_insecure)
    return _with_auth(reader, section, smtp, smtp.preset, signin)


def _server(
    kind: type[_Server], values: dict[str, Any], root: Path, ports: dict[str, int]
) -> _Server:
    """[smtp] / [imap]: the checked values, with the port's default and the CA file resolved."""
    plain = {f.name: values[f.name] for f in dataclasses.fields(kind) if f.name in values}
    plain["auth"] = values["auth"] or "password"  # the final choice: _with_auth
    plain["port"] = values["port"] or ports[values["security"]]
    plain["ca_file"] = _resolve(root, values["ca_file"]) if values["ca_file"] else None
    return kind(**plain)


def _clock_url(reader: Reader, url: str) -> str:
    """``[release] clock_url``: https://, or http:// to this machine (the tests' server)."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    plain_ok = parts.scheme == "http" and is_loopback(parts.hostname or "")
    if (parts.scheme != "https" and not plain_ok) or not parts.hostname:
        raise reader.fail(
            "[release] clock_url",
            f"must be an https:// address whose Date header states the time, got {url!r}",
        )
    return url


def _check_security(reader: Reader, section: str, security: str, host: str, allow: bool) -> None:
    if security == "none" and not is_loopback(host) and not allow:
        raise reader.fail(
            f"[{section}] security",
            f"'none' sends the password in clear text to {host}; use 'starttls' or 'tls', "
            "or set allow_insecure = true if you really mean it",
        )


def _oauth2(reader: Reader, data: dict[str, Any], root: Path) -> OAuth2Config:
    """[oauth2], checked when the table is there; the preset's provider fills in a missing one."""
    configured = "oauth2" in data
    o = reader.section("oauth2")
    smtp_table = data.get("smtp", {})
    preset = smtp_table.get("preset", "") if isinstance(smtp_table, dict) else ""
    provider = o["provider"] or PRESET_PROVIDERS.get(preset, "")
    if configured and not o["token_command"]:
        if not provider:
            raise reader.fail(
                "[oauth2] provider",
                "missing: 'microsoft', 'google' or 'generic' (or set token_command)",
            )
        if not o["client_id"]:
            raise reader.fail(
                "[oauth2] client_id",
                "missing: the client (application) ID of your organisation's app registration",
            )
        if provider == "generic":
            if not o["token_url"]:
                raise reader.fail(
                    "[oauth2] token_url", "missing: 'generic' needs the token endpoint"
                )
            if not (o["device_authorization_url"] or o["authorization_url"]):
                raise reader.fail(
                    "[oauth2] device_authorization_url",
                    "missing: 'generic' needs device_authorization_url or authorization_url",
                )
            if not o["scopes"]:
                raise reader.fail(
                    "[oauth2] scopes", "missing: 'generic' needs the scopes to ask for"
                )
    for key in ("authority_url", "authorization_url", "token_url", "device_authorization_url"):
        if o[key] and not o[key].startswith("https://"):
            raise reader.fail(f"[oauth2] {key}", f"must be an https:// address, got {o[key]!r}")
    scopes = tuple(o["scopes"]) or DEFAULT_SCOPES.get(provider, ())
    return OAuth2Config(
        provider=cast(Provider, provider) if provider and not o["token_command"] else None,
        client_id=o["client_id"],
        tenant=o["tenant"],
        client_secret_env=o["client_secret_env"],
        keyring_service=o["keyring_service"],
        authority_url=o["authority_url"].rstrip("/"),
        authorization_url=o["authorization_url"],
        token_url=o["token_url"],
        device_authorization_url=o["device_authorization_url"],
        scopes=scopes,
        token_command=o["token_command"],
        token_cache=_resolve(root, o["token_cache"]),
        token_store=cast(Literal["file", "keyring"], o["token_store"]),
        configured=configured,
        ca_file=_resolve(root, o["ca_file"]) if o["ca_file"] else None,
    )


def _with_auth(
    reader: Reader, section: str, server: _Server, preset: str, oauth2: OAuth2Config
) -> _Server:
    """The server's ``auth``: as written; else 'oauth2' for a preset that signs in or when an
    [oauth2] table is there; else 'password'."""
    written = reader.table(section).get("auth", "")
    auth = written or PRESETS.get(preset, {}).get("auth", "")
    if not auth:
        auth = "oauth2" if oauth2.configured else "password"
    if auth == "oauth2" and written and not server.username:
        raise reader.fail(
            f"[{section}] username",
            "missing: with auth = 'oauth2' it is the mailbox you sign in as",
        )
    return dataclasses.replace(server, auth=cast(AuthMethod, auth))
