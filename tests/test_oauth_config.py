"""[smtp] auth, [imap] auth and [oauth2]: defaults, presets and the one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailer.config.load import load_config
from mailer.errors import ConfigError
from tests.helpers import config_path, edit_config, make_project, set_keys


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def with_tables(project: Path, **tables: dict[str, Any]) -> Path:
    def change(data: dict[str, Any]) -> None:
        data.update(tables)

    return edit_config(project, change)


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


MS = {"provider": "microsoft", "client_id": "11111111-2222", "tenant": "kokkola.example"}


def test_password_stays_the_default_without_a_preset(project: Path) -> None:
    path = with_tables(project, smtp={"host": "smtp.example.org", "username": "u"})
    config = load_config(path)
    assert config.smtp is not None and config.smtp.auth == "password"
    assert config.oauth2 is None


def test_the_presets_sign_in_with_the_right_provider_and_scopes(project: Path) -> None:
    path = with_tables(
        project,
        smtp={"preset": "microsoft365", "username": "viestinta@kokkola.example"},
        imap={"host": "outlook.office365.com", "username": "viestinta@kokkola.example"},
        oauth2={"client_id": "abc"},
    )
    config = load_config(path)
    assert config.smtp is not None and config.smtp.auth == "oauth2"
    assert config.imap is not None and config.imap.auth == "oauth2"
    assert config.oauth2 is not None
    assert config.oauth2.provider == "microsoft"
    assert config.oauth2.tenant == "organizations"
    assert config.oauth2.scopes == (
        "https://outlook.office.com/SMTP.Send",
        "https://outlook.office.com/IMAP.AccessAsUser.All",
    )
    assert config.oauth2.token_cache == path.parent / "oauth-token.json"

    gmail = with_tables(
        project,
        smtp={"preset": "gmail", "username": "a@b.example"},
        oauth2={
            "client_id": "x.apps.googleusercontent.com",
            "client_secret_env": "GOOGLE_SECRET",
        },
    )
    g = load_config(gmail)
    assert g.oauth2 is not None and g.oauth2.provider == "google"
    assert g.oauth2.scopes == ("https://mail.google.com/",)


def test_a_preset_can_still_use_a_password(project: Path) -> None:
    path = with_tables(
        project, smtp={"preset": "microsoft365", "username": "u@x.example", "auth": "password"}
    )
    config = load_config(path)
    assert config.smtp is not None and config.smtp.auth == "password"
    assert config.oauth2 is None


def test_a_preset_without_the_table_loads_and_names_the_missing_client_id_later(
    project: Path,
) -> None:
    path = with_tables(project, smtp={"preset": "gmail", "username": "u@x.example"})
    config = load_config(path)
    assert config.oauth2 is not None
    assert not config.oauth2.configured
    assert config.oauth2.provider == "google"


def test_token_command_needs_nothing_else(project: Path) -> None:
    path = with_tables(
        project,
        smtp={"host": "smtp.example.org", "username": "u@x.example"},
        oauth2={"token_command": "/usr/local/bin/token-helper mail"},
    )
    config = load_config(path)
    assert config.smtp is not None and config.smtp.auth == "oauth2"
    assert config.oauth2 is not None and config.oauth2.provider is None


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (
            {"oauth2": {"client_id": "x"}},
            "[oauth2] provider: missing: 'microsoft', 'google' or 'generic' (or set token_command)",
        ),
        (
            {"oauth2": {"provider": "microsoft"}},
            "[oauth2] client_id: missing: the client (application) ID of your organisation's "
            "app registration",
        ),
        (
            {"oauth2": {"provider": "azure", "client_id": "x"}},
            "[oauth2] provider: expected one of 'microsoft', 'google', 'generic', got 'azure'",
        ),
        (
            {"oauth2": {"provider": "generic", "client_id": "x"}},
            "[oauth2] token_url: missing: 'generic' needs the token endpoint",
        ),
        (
            {
                "oauth2": {
                    "provider": "generic",
                    "client_id": "x",
                    "token_url": "https://id.example/token",
                }
            },
            "[oauth2] device_authorization_url: missing: 'generic' needs "
            "device_authorization_url or authorization_url",
        ),
        (
            {
                "oauth2": {
                    "provider": "generic",
                    "client_id": "x",
                    "token_url": "https://id.example/token",
                    "device_authorization_url": "https://id.example/device",
                }
            },
            "[oauth2] scopes: missing: 'generic' needs the scopes to ask for",
        ),
        (
            {"oauth2": {**MS, "authority_url": "http://login.example/t"}},
            "[oauth2] authority_url: must be an https:// address, got 'http://login.example/t'",
        ),
        (
            {"oauth2": {**MS, "client_secret": "hunter2"}},
            "[oauth2] client_secret: secrets and tokens do not belong in config.toml; set "
            "client_secret_env (an environment variable) or keyring_service",
        ),
        (
            {"oauth2": {**MS, "refresh_token": "0.AAA"}},
            "[oauth2] refresh_token: secrets and tokens do not belong in config.toml; set "
            "client_secret_env (an environment variable) or keyring_service",
        ),
        (
            {"oauth2": {**MS, "token_store": "vault"}},
            "[oauth2] token_store: expected one of 'file', 'keyring', got 'vault'",
        ),
        (
            {"smtp": {"host": "smtp.example.org", "auth": "oauth"}},
            "[smtp] auth: expected one of 'password', 'oauth2', got 'oauth'",
        ),
        (
            {"smtp": {"host": "smtp.example.org", "auth": "oauth2"}, "oauth2": MS},
            "[smtp] username: missing: with auth = 'oauth2' it is the mailbox you sign in as",
        ),
    ],
)
def test_one_line_errors_name_the_key(
    project: Path, tables: dict[str, dict[str, Any]], message: str
) -> None:
    path = with_tables(project, **tables)
    assert error_of(path) == f"{path}: {message}"


def test_secrets_in_the_table_never_reach_the_message(project: Path) -> None:
    path = set_keys(project, "oauth2", **MS, client_secret="hunter2-very-secret")
    assert "hunter2" not in error_of(path)
    assert config_path(project) == path
