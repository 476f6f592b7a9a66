"""Where the password comes from, and that it never shows."""

from __future__ import annotations

import shlex
import sys
import traceback
import types
from pathlib import Path

import pytest

from mailer.clock import SystemClock
from mailer.config.credentials import Secret, get_password
from mailer.errors import TransportError
from mailer.sending import NoProgress, RunContext
from mailer.store import Store
from tests.fixtures_smtp import smtp_config

PASSWORD = "Tr0ub4dor&3 with spaces "  # ends with a space on purpose
PY = shlex.quote(sys.executable)


def ask(**overrides: object) -> str | None:
    args: dict[str, object] = {
        "password_env": "",
        "password_command": "",
        "keyring_service": "",
        "username": "officer@city.example",
        "host": "smtp.example.org",
        "interactive": False,
        "environ": {},
        "prompt": _no_prompt,
    }
    args.update(overrides)
    return get_password(**args)  # type: ignore[arg-type]


def _no_prompt(text: str) -> str:
    raise AssertionError("must not prompt")


def printing(text: str, *, newline: str = "\n", exit_code: int = 0) -> str:
    code = f"import sys; sys.stdout.write({text!r} + {newline!r}); sys.exit({exit_code})"
    return f"{PY} -c {shlex.quote(code)}"


@pytest.fixture
def fake_keyring(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], str]:
    entries: dict[tuple[str, str], str] = {}
    module = types.ModuleType("keyring")
    module.get_password = lambda service, user: entries.get((service, user))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)
    return entries


def test_no_username_means_no_login() -> None:
    assert ask(username="", password_env="X", environ={"X": PASSWORD}) is None


def test_environment_variable_first(fake_keyring: dict[tuple[str, str], str]) -> None:
    fake_keyring[("mailer", "officer@city.example")] = "from-keyring"
    found = ask(
        password_env="MAILER_SMTP_PASSWORD",
        keyring_service="mailer",
        environ={"MAILER_SMTP_PASSWORD": PASSWORD},
    )
    assert found == PASSWORD and isinstance(found, Secret)


def test_keyring_when_the_variable_is_missing(fake_keyring: dict[tuple[str, str], str]) -> None:
    fake_keyring[("mailer", "officer@city.example")] = PASSWORD
    assert ask(password_env="MAILER_SMTP_PASSWORD", keyring_service="mailer") == PASSWORD


def test_keyring_missing_or_without_backend_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # not installed
    assert ask(keyring_service="mailer", password_command=printing(PASSWORD)) == PASSWORD
    monkeypatch.delitem(sys.modules, "keyring")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # real keyring
    assert ask(keyring_service="mailer", password_command=printing(PASSWORD)) == PASSWORD


def test_keyring_errors_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("keyring")

    def broken(service: str, user: str) -> str:
        raise RuntimeError("no D-Bus session")

    module.get_password = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)
    assert ask(keyring_service="mailer", password_command=printing(PASSWORD)) == PASSWORD


def test_command_output_loses_only_its_line_ending() -> None:
    assert ask(password_command=printing(PASSWORD)) == PASSWORD
    assert ask(password_command=printing(PASSWORD, newline="\r\n")) == PASSWORD
    assert ask(password_command=printing(PASSWORD, newline="")) == PASSWORD
    assert ask(password_command=printing("pw", newline="\n\n")) == "pw\n"


def test_command_failure_names_the_key_never_the_output() -> None:
    with pytest.raises(TransportError) as failed:
        ask(password_command=printing(PASSWORD, exit_code=3))
    message = str(failed.value)
    assert message.startswith("[smtp] password_command: ")
    assert "exit status 3" in message
    assert PASSWORD.strip() not in message
    with pytest.raises(TransportError, match=r"^\[imap\] password_command: .* printed nothing"):
        ask(password_command=printing("", newline="\n"), section="imap")
    with pytest.raises(TransportError, match="no such program: no-such-password-tool"):
        ask(password_command="no-such-password-tool --get smtp")
    with pytest.raises(TransportError, match="cannot parse"):
        ask(password_command="pass show 'unterminated")


def test_command_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailer.config.credentials.COMMAND_TIMEOUT_SECONDS", 0.3)
    slow = f"{PY} -c 'import time; time.sleep(5)'"
    with pytest.raises(TransportError, match=r"did not finish within 0\.3 seconds$"):
        ask(password_command=slow)


def test_command_runs_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    command = f"{PY} -c 'import sys; print(sys.argv[1])' '$(touch {marker})'"
    assert ask(password_command=command) == f"$(touch {marker})"
    assert not marker.exists()


def test_prompt_only_on_a_terminal() -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return PASSWORD

    assert ask(interactive=True, prompt=prompt) == PASSWORD
    assert asked == ["Password for officer@city.example at smtp.example.org: "]
    with pytest.raises(TransportError) as missing:
        ask(password_env="MAILER_SMTP_PASSWORD")  # under cron: never prompts
    assert str(missing.value) == (
        "smtp.example.org: no password for officer@city.example: the environment variable "
        "MAILER_SMTP_PASSWORD ([smtp] password_env) is not set, and neither [smtp] "
        "keyring_service nor password_command gave one (mailer never prompts without a terminal)"
    )
    with pytest.raises(TransportError, match="no password entered"):
        ask(interactive=True, prompt=lambda text: "")


def test_secret_hides_in_reprs_and_tracebacks(tmp_path: Path) -> None:
    secret = Secret(PASSWORD)
    assert repr(secret) == "'***'" and str(secret) == PASSWORD
    assert secret.encode() == PASSWORD.encode()  # what aiosmtplib sends
    config = smtp_config(tmp_path, None, host="smtp.example.org", username="officer@city.example")
    with Store(tmp_path / "m.db") as store:
        ctx = RunContext(
            config=config,
            journal=store.journal,
            smtp_log=store.smtp_log,
            clock=SystemClock(),
            owner="o",
            progress=NoProgress(),
            not_before=None,
            password=secret,
        )
        assert PASSWORD not in repr(ctx) and "password='***'" in repr(ctx)

    def login(password: str) -> None:
        raise TransportError("smtp.example.org: 535 5.7.3 Authentication unsuccessful")

    try:
        login(secret)
    except TransportError as exc:
        shown = "".join(
            traceback.TracebackException.from_exception(exc, capture_locals=True).format()
        )
    assert "535 5.7.3" in shown and PASSWORD not in shown
