"""Where the mail password comes from: environment, keyring, a command, or (on a terminal) a prompt.

Order: the environment variable named in ``password_env``; the system keyring under
``keyring_service`` (skipped when the ``keyring`` package or a usable backend is missing); the
output of ``password_command`` (run without a shell, 30 s timeout); finally, only when a person is
at a terminal, a ``getpass`` prompt. Under cron nothing ever prompts: a missing password is an
error that says which setting to fill in.

The password is returned as :class:`Secret`, a ``str`` whose ``repr`` is ``'***'``, so that it does
not show up in dataclass reprs, logged ``%r`` values or tracebacks with locals. No error message
ever contains it, nor the output of the password command.
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping

from mailer.config.model import Config, ImapConfig, SmtpConfig
from mailer.errors import TransportError

COMMAND_TIMEOUT_SECONDS = 30.0


class Secret(str):
    """A password: usable as ``str``, but its repr never shows it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def get_password(
    *,
    password_env: str,
    password_command: str,
    keyring_service: str,
    username: str,
    host: str,
    interactive: bool,
    section: str = "smtp",
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
) -> str | None:
    """The password for *username* at *host*, or None when no login is configured (no username).

    Raises :class:`TransportError` (one line naming the setting) when no source gives one.
    """
    if not username:
        return None
    env = os.environ if environ is None else environ
    if password_env and env.get(password_env):
        return Secret(env[password_env])
    if keyring_service:
        found = _from_keyring(keyring_service, username)
        if found:
            return Secret(found)
    if password_command:
        return Secret(_from_command(password_command, section))
    if interactive:
        try:
            typed = prompt(f"Password for {username} at {host}: ")
        except EOFError:
            typed = ""
        if typed:
            return Secret(typed)
        raise TransportError(f"{host}: no password entered for {username}")
    raise TransportError(f"{host}: no password for {username}: {_missing(section, password_env)}")


def _missing(section: str, password_env: str) -> str:
    if password_env:
        return (
            f"the environment variable {password_env} ([{section}] password_env) is not set, "
            f"and neither [{section}] keyring_service nor password_command gave one "
            "(mailer never prompts without a terminal)"
        )
    return (
        f"set [{section}] password_env (an environment variable), keyring_service or "
        "password_command (mailer never prompts without a terminal)"
    )


def _from_keyring(service: str, username: str) -> str | None:
    """The keyring's entry, or None when keyring is missing, has no backend or no entry."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        value = keyring.get_password(service, username)
    except Exception:  # any backend failure (no D-Bus, locked, none at all) means "skip"
        return None
    return value if isinstance(value, str) and value else None


def command_output(command: str, key: str) -> str:
    """What *command* (no shell, 30 s timeout) prints, without the final line break; errors
    name *key* (``[oauth2] token_command``) and never show the output."""
    return _from_command(command, "", key=key)


def secret_from_keyring(service: str, name: str) -> Secret | None:
    """The keyring's entry for *name* under *service*, or None (no keyring, backend or entry)."""
    found = _from_keyring(service, name)
    return Secret(found) if found else None


def _from_command(command: str, section: str, *, key: str = "") -> str:
    key = key or f"[{section}] password_command"
    try:
        args = shlex.split(command)
    except ValueError as exc:
        raise TransportError(f"{key}: cannot parse the command: {exc}") from None
    if not args:
        raise TransportError(f"{key}: the command is empty")
    try:
        done = subprocess.run(  # noqa: S603 - the officer's own command, no shell
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise TransportError(f"{key}: no such program: {args[0]}") from None
    except PermissionError:
        raise TransportError(f"{key}: not allowed to run {args[0]}") from None
    except subprocess.TimeoutExpired:
        raise TransportError(
            f"{key}: {args[0]} did not finish within {COMMAND_TIMEOUT_SECONDS:g} seconds"
        ) from None
    except OSError as exc:
        raise TransportError(f"{key}: cannot run {args[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        raise TransportError(
            f"{key}: {args[0]} failed with exit status {done.returncode}; "
            "run it yourself to see why (its output is not shown here)"
        )
    try:
        text = done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise TransportError(f"{key}: {args[0]} printed something that is not UTF-8") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise TransportError(f"{key}: {args[0]} printed nothing")
    return text


def _server_password(
    server: SmtpConfig | ImapConfig, section: str, *, interactive: bool
) -> str | None:
    return get_password(
        password_env=server.password_env,
        password_command=server.password_command,
        keyring_service=server.keyring_service,
        username=server.username,
        host=server.host,
        interactive=interactive,
        section=section,
    )


def password_for(config: Config, *, interactive: bool) -> str | None:
    """The SMTP password from the environment, keyring or a command (never from config.toml)."""
    if config.transport.kind != "smtp" or config.smtp is None:
        return None
    return smtp_password(config.smtp, interactive=interactive)


def smtp_password(smtp: SmtpConfig, *, interactive: bool) -> str | None:
    """The password of [smtp] or [smtp.fallback] (each from its own password_env, keyring or
    command); None without a login or with ``auth = "oauth2"`` (mailer.oauth gives a token)."""
    if not smtp.username or smtp.auth == "oauth2":
        return None
    return _server_password(smtp, smtp.section, interactive=interactive)


def password_problem(config: Config, *, where: str = "this environment") -> str:
    """'' when the SMTP password (and the fallback relay's, with [smtp.fallback]) resolves here
    without asking anyone (the pre-flight of a cron run: the variable is set, the keyring
    answers, or the command runs); else one line saying which source failed, *where* naming
    the environment (``cron's environment``).

    The password itself is never returned nor shown.
    """
    smtp = config.smtp
    if config.transport.kind != "smtp" or smtp is None:
        return ""
    relays = (smtp,) if smtp.fallback is None else (smtp, smtp.fallback)
    return "; ".join(p for p in (_problem(relay, where) for relay in relays) if p)


def _problem(smtp: SmtpConfig, where: str) -> str:
    if not smtp.username or smtp.auth == "oauth2":
        return ""  # no login, or signed in instead: the pre-flight asks mailer.oauth
    section = smtp.section
    try:
        _server_password(smtp, section, interactive=False)
    except TransportError as exc:
        sources = [smtp.password_env, smtp.keyring_service, smtp.password_command]
        if smtp.password_command:
            return exc.message  # the command's own failure, which names [smtp] password_command
        if smtp.password_env and not smtp.keyring_service:
            return f"{smtp.password_env} is not set in {where} ([{section}] password_env)"
        if smtp.keyring_service and not smtp.password_env:
            return (
                f"the keyring gave no password for {smtp.username} in {where} ([{section}] "
                f"keyring_service = {smtp.keyring_service!r}: no entry, locked, or no keyring "
                "reachable without a desktop session)"
            )
        if any(sources):
            return (
                f"{smtp.password_env} is not set in {where} ([{section}] password_env), and the "
                f"keyring gave no password for {smtp.username} ([{section}] keyring_service)"
            )
        return exc.message
    return ""


def imap_password_for(config: Config, *, interactive: bool) -> str | None:
    """The IMAP password, from the same sources as SMTP's but with the [imap] keys."""
    if config.imap is None or not config.imap.username or config.imap.auth == "oauth2":
        return None
    return _server_password(config.imap, "imap", interactive=interactive)
