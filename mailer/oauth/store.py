"""Where the tokens are kept: a 0600 file next to the project (cron finds it without HOME, D-Bus
or a keyring agent), or the system keyring where configured.

The file is written to a temporary file created with mode 0600 and swapped in with
``os.replace``, so a reader never sees half of it; a file that others can read is refused when
loaded (its refresh token may have leaked: sign in again).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from mailer.config import OAuth2Config, secret_from_keyring
from mailer.errors import SignInRequired, TransportError

SIGN_IN_AGAIN = "sign in again: mailer login"


def _keyring_entry(oauth: OAuth2Config) -> str:
    return f"{oauth.client_id}/tokens"


def load(oauth: OAuth2Config) -> dict[str, Any] | None:
    """The saved sign-in, or None when there is none."""
    if oauth.token_store == "keyring":  # noqa: S105 - a place, not a password
        found = secret_from_keyring(oauth.keyring_service, _keyring_entry(oauth))
        text = str(found) if found is not None else None
        where = f"keyring {oauth.keyring_service}"
    else:
        text = _read_private(oauth.token_cache)
        where = str(oauth.token_cache)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise SignInRequired(f"{where}: the token cache is damaged; {SIGN_IN_AGAIN}") from None
    if not isinstance(data, dict) or data.get("version") != 1:
        raise SignInRequired(f"{where}: the token cache is damaged; {SIGN_IN_AGAIN}")
    return data


def _read_private(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TransportError(f"{path}: cannot read the token cache: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SignInRequired(
                f"{path}: the token cache can be read by others (mode {stat.S_IMODE(mode):04o}), "
                f"so it is not used; {SIGN_IN_AGAIN}"
            )
        raw = handle.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SignInRequired(f"{path}: the token cache is damaged; {SIGN_IN_AGAIN}") from None


def save(oauth: OAuth2Config, data: dict[str, Any]) -> None:
    text = json.dumps({**data, "version": 1}, sort_keys=True)
    if oauth.token_store == "keyring":  # noqa: S105 - a place, not a password
        _keyring_set(oauth, text)
        return
    path = oauth.token_cache
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise TransportError(f"{path}: cannot write the token cache: {exc.strerror}") from None


def forget(oauth: OAuth2Config) -> bool:
    """Remove the saved sign-in; True if there was one."""
    if oauth.token_store == "keyring":  # noqa: S105 - a place, not a password
        return _keyring_delete(oauth)
    try:
        oauth.token_cache.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise TransportError(
            f"{oauth.token_cache}: cannot remove the token cache: {exc.strerror}"
        ) from None
    return True


def _keyring() -> Any:
    try:
        import keyring
    except ImportError:
        raise TransportError(
            "[oauth2] token_store: 'keyring' needs the keyring package; use 'file'"
        ) from None
    return keyring


def _keyring_set(oauth: OAuth2Config, text: str) -> None:
    try:
        _keyring().set_password(oauth.keyring_service, _keyring_entry(oauth), text)
    except TransportError:
        raise
    except Exception as exc:  # any backend failure: no D-Bus, locked, none at all
        raise TransportError(
            f"[oauth2] token_store: the keyring refused the tokens ({type(exc).__name__}); "
            "use token_store = 'file' (the keyring is not reachable from cron anyway)"
        ) from None


def _keyring_delete(oauth: OAuth2Config) -> bool:
    try:
        _keyring().delete_password(oauth.keyring_service, _keyring_entry(oauth))
    except TransportError:
        raise
    except Exception:  # no entry, or no backend: nothing to forget
        return False
    return True
