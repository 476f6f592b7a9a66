"""What config.toml becomes: the frozen dataclasses of each section, and the provider scopes.

:mod:`.load` reads and checks the file and builds these; the rest of the code reads them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

SmtpSecurity = Literal["starttls", "tls", "none"]
TransportKind = Literal["outbox", "smtp"]
ReleaseMode = Literal["personal", "bcc"]
AuthMethod = Literal["password", "oauth2"]
Provider = Literal["microsoft", "google", "generic"]

# The scopes each provider needs for SMTP submission and IMAP (refresh tokens included).
DEFAULT_SCOPES: dict[str, tuple[str, ...]] = {
    "microsoft": (
        "https://outlook.office.com/SMTP.Send",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
    ),  # MSAL adds offline_access, openid and profile itself
    "google": ("https://mail.google.com/",),
    "generic": (),
}


@dataclass(frozen=True)
class EventText:
    """The event's texts in one language."""

    title: str
    location: str
    description: str
    url: str


@dataclass(frozen=True)
class EventConfig:
    """``[event]``: the texts in the default language, and ``[event.<language>]`` merged over
    them in ``languages`` (only the languages that have a table)."""

    title: str
    location: str
    description: str
    start: dt.datetime  # aware, in ``zone``
    end: dt.datetime
    zone: ZoneInfo
    id: str
    url: str
    languages: Mapping[str, EventText] = field(default_factory=dict)

    @property
    def default_text(self) -> EventText:
        return EventText(self.title, self.location, self.description, self.url)

    def text(self, language: str) -> EventText:
        """The texts a message in *language* shows: its table, else ``[event]``."""
        return self.languages.get(language) or self.default_text

    def in_language(self, language: str) -> EventConfig:
        """This event with the texts of *language* in place of the default ones."""
        text = self.text(language)
        return dataclasses.replace(
            self,
            title=text.title,
            location=text.location,
            description=text.description,
            url=text.url,
            languages={},
        )


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
    # [contacts.columns]: field -> the header cell of its column ("": no column)
    columns: Mapping[str, str] = field(default_factory=dict)
    max_contacts: int = 100_000  # rows a round may read; more is refused (contacts check reads all)


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
    # The clock check before the release goes out: a web address whose Date header states the
    # time ('' = none), how far the clock may be off, and whether an unverified clock stops it.
    clock_url: str = ""
    max_clock_skew_seconds: float = 2.0
    require_clock_check: bool = False


@dataclass(frozen=True)
class RsvpConfig:
    """[rsvp]: how much reading one reply may cost (mailer/rsvp/budget.py)."""

    parse_budget_seconds: float = 2.0
    max_message_bytes: int = 10 * 1024 * 1024


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
    auth: AuthMethod = "password"
    pipelining: bool = True  # RFC 2920 where the server offers it; False: lock-step
    chunking: bool = True  # RFC 3030 BDAT where the server offers it (with pipelining)
    # Where these keys are written, for the lines that name one: "smtp" or "smtp.fallback".
    section: str = "smtp"
    # [smtp.fallback]: the second relay a release switches to when this one fails at the
    # account or connection level (its own section is "smtp.fallback"; it has no fallback).
    fallback: SmtpConfig | None = None


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
    auth: AuthMethod = "password"


@dataclass(frozen=True)
class OAuth2Config:
    """[oauth2]: how to sign in (shared by SMTP and IMAP). Never holds a secret: the client
    secret comes from ``client_secret_env`` or the keyring, tokens from the token cache."""

    provider: Provider | None  # None: only a token_command, or no [oauth2] table at all
    client_id: str
    tenant: str
    client_secret_env: str
    keyring_service: str
    authority_url: str
    authorization_url: str
    token_url: str
    device_authorization_url: str
    scopes: tuple[str, ...]
    token_command: str
    token_cache: Path
    token_store: Literal["file", "keyring"]
    configured: bool  # False: the table is missing (a preset's default asked for oauth2)
    # CA certificates to trust for the sign-in service instead of the system's (a TLS-inspecting
    # proxy); unlike REQUESTS_CA_BUNDLE it is there under cron too
    ca_file: Path | None = None


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
    oauth2: OAuth2Config | None
    log_file: Path | None
    vars: Mapping[str, str] = field(default_factory=dict)
    rsvp: RsvpConfig = field(default_factory=RsvpConfig)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def zone(self) -> ZoneInfo:
        return self.event.zone
