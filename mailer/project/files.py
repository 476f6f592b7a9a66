"""Who may change the files that decide what mailer does, and the modes ``mailer init`` writes.

config.toml chooses the commands mailer runs (``password_command``, ``token_command``) and
where mail goes; the templates are code that runs for every message; the token cache signs in
as the officer. Anyone who can write one of them can act as the officer, so :func:`file_warnings`
(for ``mailer check``) names each that group or others can write, with the ``chmod`` that fixes
it.

:func:`write_new` and :func:`make_folders` write the starter project with modes that do not
depend on the umask: personal data 0600, nothing writable by group or others.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from collections.abc import Iterator
from pathlib import Path

from mailer.config import Config

__all__ = ["PRIVATE", "SHARED", "file_warnings", "make_folders", "write_new"]

PRIVATE = 0o600  # personal data: contacts.csv, config.toml (names the officer and the account)
SHARED = 0o644  # everything else init writes: readable, writable only by the officer
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def write_new(target: Path, content: bytes, mode: int) -> bool:
    """Write *target* with exactly *mode* less what the umask takes away, never with group or
    others' write; False (nothing written) when it exists."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, os.fstat(fd).st_mode & mode & ~_OTHERS_WRITE & 0o7777)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(content)
    finally:
        os.close(fd)
    return True


def make_folders(folder: Path) -> None:
    """Create *folder* and its missing parents, none of them writable by group or others."""
    missing: list[Path] = []
    at = folder
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o755)
        except FileExistsError:
            continue
        os.chmod(path, stat.S_IMODE(path.stat().st_mode) & ~_OTHERS_WRITE)
    if not folder.is_dir():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(folder))


def _who(mode: int, group: int, others: int) -> str | None:
    if mode & group and mode & others:
        return "group and others"
    if mode & group:
        return "group"
    if mode & others:
        return "others"
    return None


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except OSError:
        return None


def _shown(path: Path) -> str:
    """*path* as the officer would type it in the shell she runs mailer from."""
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve())
        return shlex.quote(str(relative) or ".")
    except (ValueError, OSError):
        return shlex.quote(str(path))


def _tree(folder: Path) -> Iterator[Path]:
    yield folder
    for top, dirs, names in os.walk(folder):
        dirs.sort()
        for name in (*dirs, *sorted(names)):
            yield Path(top) / name


def file_warnings(config: Config) -> tuple[str, ...]:
    """A ``warn`` line of ``mailer check`` for every file that others could use to act as the
    officer: the project folder, config.toml, the templates and the token cache."""
    lines: list[str] = []
    single = [
        (config.root, "the project folder ", "its files choose the commands mailer runs"),
        (config.path, "", "it chooses the commands mailer runs"),
    ]
    if config.oauth2 is not None and config.oauth2.token_store == "file":  # noqa: S105 - a place
        single.append((config.oauth2.token_cache, "the token cache ", "it signs in as you"))
    for path, name, why in single:
        mode = _mode(path)
        who = None if mode is None else _who(mode, stat.S_IWGRP, stat.S_IWOTH)
        if who is not None:
            lines.append(
                f"warn  files       {name}{_shown(path)} can be written by {who} ({why}): "
                f"chmod go-w {_shown(path)}"
            )
    templates = config.templates_dir
    if templates.is_dir():
        open_to = [p for p in _tree(templates) if (_mode(p) or 0) & _OTHERS_WRITE]
        if open_to:
            first = open_to[0]
            who = _who(_mode(first) or 0, stat.S_IWGRP, stat.S_IWOTH)  # of the first, as an example
            count = "1 file or folder" if len(open_to) == 1 else f"{len(open_to)} files and folders"
            lines.append(
                f"warn  files       templates: {count} can be written by {who} (first "
                f"{_shown(first)}; templates are code that runs for every message): "
                f"chmod -R go-w {_shown(templates)}"
            )
    return tuple(lines)
