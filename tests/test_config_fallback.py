"""``[smtp.fallback]``: the release's second relay, read with the schema and code of [smtp];
its own password (environment, keyring, command), and what the pre-flight and ``mailer check``
say of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.config import password_problem, smtp_password
from mailer.config.load import load_config
from mailer.errors import ConfigError, TransportError
from tests.fixtures_smtp import SmtpTestServer
from tests.helpers import edit_config, make_project
from tests.test_release_fallback import closed_port


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def with_fallback(project: Path, fallback: Any, **primary: Any) -> Path:
    def change(data: dict[str, Any]) -> None:
        data["transport"] = {"kind": "smtp"}
        data["smtp"] = {"host": "smtp.office365.com", "port": 587, **primary, "fallback": fallback}

    return edit_config(project, change)


def with_password_fallback(project: Path, host: str) -> Path:
    """A Microsoft 365 primary (password in M365_PASSWORD) and a fallback relay at *host* that
    logs in as ``press`` with its own password (RELAY_PASSWORD)."""
    return with_fallback(
        project,
        {"host": host, "username": "press", "password_env": "RELAY_PASSWORD"},
        username="press@city.example",
        password_env="M365_PASSWORD",
        auth="password",
    )


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_the_fallback_has_the_keys_and_defaults_of_smtp(project: Path) -> None:
    path = with_password_fallback(project, "relay.city.example")
    smtp = load_config(path).smtp
    assert smtp is not None and smtp.fallback is not None
    fallback = smtp.fallback
    assert (smtp.section, fallback.section) == ("smtp", "smtp.fallback")
    assert (fallback.host, fallback.port, fallback.security) == (
        "relay.city.example",
        587,
        "starttls",
    )
    assert (fallback.username, fallback.password_env, fallback.auth) == (
        "press",
        "RELAY_PASSWORD",
        "password",
    )
    assert (fallback.connections, fallback.max_attempts, fallback.fallback) == (1, 5, None)


def test_a_preset_fills_in_the_fallback_too(project: Path) -> None:
    path = with_fallback(
        project,
        {"preset": "gmail", "username": "press@city.example", "auth": "password"},
        preset="microsoft365",
        username="press@city.example",
        auth="password",
    )
    smtp = load_config(path).smtp
    assert smtp is not None and smtp.fallback is not None
    assert (smtp.fallback.host, smtp.fallback.daily_cap) == ("smtp.gmail.com", 2000)


@pytest.mark.parametrize(
    ("fallback", "message"),
    [
        ({"hots": "relay.example"}, "[smtp.fallback] hots: unknown key (did you mean 'host'?)"),
        (
            {"host": "relay.example", "password": "hunter2"},
            "[smtp.fallback] password: passwords do not belong in config.toml; set password_env "
            "(an environment variable), password_command or keyring_service",
        ),
        ({"port": 25}, "[smtp.fallback] host: missing required value"),
        (
            {"host": "relay.example", "port": "25"},
            "[smtp.fallback] port: expected an integer, got a string",
        ),
        (
            {"host": "relay.example", "security": "none"},
            "[smtp.fallback] security: 'none' sends the password in clear text to relay.example; "
            "use 'starttls' or 'tls', or set allow_insecure = true if you really mean it",
        ),
        (
            {"host": "relay.example", "auth": "oauth2"},
            "[smtp.fallback] username: missing: with auth = 'oauth2' it is the mailbox you sign "
            "in as",
        ),
        ("relay.example", "[smtp.fallback]: expected a table, got a string"),
        (
            {"host": "relay.example", "fallback": {"host": "third.example"}},
            "[smtp.fallback] fallback: unknown key",
        ),
    ],
)
def test_a_wrong_fallback_is_one_line_naming_its_key(
    project: Path, fallback: Any, message: str
) -> None:
    path = with_fallback(project, fallback)
    assert error_of(path) == f"{path}: {message}"
    assert "hunter2" not in error_of(path)


def test_the_fallback_password_comes_from_its_own_variable(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = with_password_fallback(project, "relay.example")
    config = load_config(path)
    assert config.smtp is not None and config.smtp.fallback is not None
    monkeypatch.setenv("M365_PASSWORD", "primary-secret")
    monkeypatch.delenv("RELAY_PASSWORD", raising=False)
    with pytest.raises(TransportError) as info:
        smtp_password(config.smtp.fallback, interactive=False)
    assert str(info.value) == (
        "relay.example: no password for press: the environment variable RELAY_PASSWORD "
        "([smtp.fallback] password_env) is not set, and neither [smtp.fallback] keyring_service "
        "nor password_command gave one (mailer never prompts without a terminal)"
    )
    # The pre-flight of send-due names it, although the primary's is there.
    assert password_problem(config, where="cron's environment") == (
        "RELAY_PASSWORD is not set in cron's environment ([smtp.fallback] password_env)"
    )
    monkeypatch.setenv("RELAY_PASSWORD", "relay-secret")
    assert smtp_password(config.smtp.fallback, interactive=False) == "relay-secret"
    assert smtp_password(config.smtp, interactive=False) == "primary-secret"
    assert password_problem(config) == ""


def test_mailer_check_probes_the_fallback_and_says_it_is_configured(
    project: Path, smtp_server: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary = smtp_server()
    fallback = smtp_server(security="starttls", auth=True)
    monkeypatch.setenv("MAILER_TEST_SMTP_PASSWORD", SmtpTestServer.PASSWORD)

    def change(data: dict[str, Any]) -> None:
        data["transport"] = {"kind": "smtp"}
        data["smtp"] = {**primary.smtp_section(), "fallback": fallback.smtp_section()}

    path = edit_config(project, change)
    runner = CliRunner()
    res = runner.invoke(app, ["--config", str(path), "check", "--connect"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert (
        f"ok    smtp        127.0.0.1:{primary.port} plain (no TLS), no login configured" in lines
    )
    found = [line for line in lines if line.startswith("ok    fallback    ")]
    assert len(found) == 1 and found[0].startswith(f"ok    fallback    127.0.0.1:{fallback.port} ")
    assert found[0].endswith(
        f"logged in as {SmtpTestServer.USERNAME} ([smtp.fallback]: the release goes on through it "
        "if the primary fails)"
    )
    assert fallback.logins == [SmtpTestServer.USERNAME]
    # A fallback that is down fails the check, with its own line.
    port = closed_port()
    edit_config(project, lambda data: data["smtp"]["fallback"].update(port=port))
    res = runner.invoke(app, ["--config", str(path), "check", "--connect"])
    assert res.exit_code == 1
    assert (
        f"FAIL  fallback    127.0.0.1:{port}: cannot connect: Connection refused ([smtp.fallback]: "
        "the release goes on through it if the primary fails)"
    ) in res.stdout.splitlines()


def test_the_starters_commented_example_is_a_valid_fallback(project: Path) -> None:
    path = project / "config.toml"
    text = path.read_text(encoding="utf-8")
    example = text[text.index("# [smtp]\n") :]
    lines = example.splitlines()
    uncommented = "\n".join(line[2:] for line in lines if line.startswith("# [") or " = " in line)
    path.write_text(text.replace('kind = "outbox"', 'kind = "smtp"') + uncommented + "\n")
    smtp = load_config(path).smtp
    assert smtp is not None and smtp.fallback is not None
    assert (smtp.host, smtp.fallback.host, smtp.fallback.password_env) == (
        "smtp.office365.com",
        "relay.example.fi",
        "MAILER_RELAY_PASSWORD",
    )


def test_the_cron_block_names_the_fallbacks_password_variable_too(project: Path) -> None:
    path = with_password_fallback(project, "relay.example")
    runner = CliRunner()
    res = runner.invoke(app, ["--config", str(path), "release", "cron"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "# M365_PASSWORD=<the password>" in lines
    assert "# RELAY_PASSWORD=<the password>" in lines
    assert (
        "cron does not see your shell's RELAY_PASSWORD: replace the line '# RELAY_PASSWORD=<the "
        "password>' with the real value (your crontab is readable by you and root only), or set "
        "[smtp.fallback] password_command instead"
    ) in " ".join(res.output.split())
    systemd = runner.invoke(app, ["--config", str(path), "release", "cron", "--systemd"]).stdout
    assert "(mode 600: M365_PASSWORD=..., RELAY_PASSWORD=...)" in systemd
