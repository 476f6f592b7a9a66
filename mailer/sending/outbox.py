"""The outbox transport: every message becomes a ``.eml`` file that a mail client opens.

A message is first written to a hidden temporary file next to its final name (and synced), then
marked ``transmitting`` and renamed into place: the rename is the moment it "leaves". A local
error (disk full, quota, a folder that cannot be made or written) is never the recipient's fault
and nothing left the machine: the temporary file is removed, the message stays queued, and the
run stops with one line saying what to do; the same command run again finishes the round.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from mailer.errors import EmbargoGuardError
from mailer.models import Outgoing
from mailer.privatefile import move_into_place, write_temporary
from mailer.sending.context import RunContext

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def eml_name(item: Outgoing) -> str:
    digest = hashlib.sha256(item.message_id.encode()).hexdigest()[:10]
    who = _UNSAFE.sub("_", item.contact.email)[:80]
    return f"{item.campaign.value}-{who}-{digest}.eml"


def local_failure(exc: OSError, path: Path, root: Path) -> tuple[str, str]:
    """Why a write to *path* failed, and what the officer does about it, in her terms."""
    shown = _shown(path, root)
    if exc.errno in _FULL:
        return f"disk full writing {shown}", "free space"
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot write {shown}: {reason}", "fix the folder's permissions"
    if exc.errno == errno.EROFS:
        return f"cannot write {shown}: {reason}", "make the folder writable"
    return f"cannot write {shown}: {reason}", ""


def _shown(path: Path, root: Path) -> str:
    """*path* relative to the project folder when it is inside it (``outbox/x.eml``)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


async def run_outbox(items: Sequence[Outgoing], ctx: RunContext) -> None:
    folder = ctx.config.transport.outbox_dir
    root = ctx.config.root
    for item in items:
        if not ctx.claim(item):
            continue
        if ctx.embargo_ahead():  # once it has passed, a clock that goes back meets the guard
            await ctx.wait_for_embargo()
        target = folder / eml_name(item)
        try:
            # Here, not before the loop: a folder that cannot be made stops the run with one
            # line, the messages left queued, instead of a traceback.
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = write_temporary(target, item.data)
        except OSError as exc:
            _stop(ctx, item, exc, target, root)
            return
        try:
            ctx.transmitting(item)
            move_into_place(tmp, target)
        except EmbargoGuardError as exc:  # the clock went back: stop, send nothing more
            with contextlib.suppress(OSError):
                tmp.unlink()
            ctx.unclaim(item)
            ctx.stop_for_guard(exc)
            break
        except OSError as exc:
            _stop(ctx, item, exc, target, root)
            return
        except BaseException:
            # The journal could not be written (a full disk holds the journal too) or Ctrl-C:
            # nothing left the machine. Give the claim back if the journal lets us; otherwise the
            # next run's recovery does (a claimed row of a dead process goes back to pending).
            with contextlib.suppress(OSError):
                tmp.unlink()
            with contextlib.suppress(Exception):
                ctx.unclaim(item)
            raise
        ctx.sent(item, f"written to {folder.name}/{target.name}")


def _stop(ctx: RunContext, item: Outgoing, exc: OSError, target: Path, root: Path) -> None:
    """Nothing of *item* left the machine: it stays queued, and the run stops."""
    reason, remedy = local_failure(exc, target, root)
    ctx.left_queued(item, reason)
    ctx.stopped = reason
    ctx.remedy = remedy
