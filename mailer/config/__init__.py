"""The project's ``config.toml``: read, checked against the schema, and the passwords it names.

Front door of the config package: :func:`load_config` (and :func:`find_config`) give a frozen
:class:`Config`; :func:`password_for` / :func:`imap_password_for` find the server passwords in
the environment, the keyring or a command, never in the file.
"""

from mailer.config.credentials import (
    Secret,
    command_output,
    get_password,
    imap_password_for,
    password_for,
    password_problem,
    secret_from_keyring,
    smtp_password,
)
from mailer.config.load import (
    CONFIG_ENV,
    LANGUAGES,
    PRESETS,
    find_config,
    load_config,
    parse_config,
)
from mailer.config.model import (
    Config,
    EventConfig,
    EventText,
    ImapConfig,
    OAuth2Config,
    RsvpConfig,
    SmtpConfig,
)

__all__ = [
    "CONFIG_ENV",
    "LANGUAGES",
    "PRESETS",
    "Config",
    "EventConfig",
    "EventText",
    "ImapConfig",
    "OAuth2Config",
    "RsvpConfig",
    "Secret",
    "SmtpConfig",
    "command_output",
    "find_config",
    "get_password",
    "imap_password_for",
    "load_config",
    "parse_config",
    "password_for",
    "password_problem",
    "secret_from_keyring",
    "smtp_password",
]
