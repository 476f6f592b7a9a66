"""The outbox transport: every message becomes a ``.eml`` file that a mail client opens."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from mailer.errors import EmbargoGuardError
from mailer.models import Outgoing
from mailer.sending.context import RunContext

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def eml_name(item: Outgoing) -> str:
    digest = hashlib.sha256(item.message_id.encode()).hexdigest()[:10]
    who = _UNSAFE.sub("_", item.contact.email)[:80]
    return f"{item.campaign.value}-{who}-{digest}.eml"


def write_private(path: Path, data: bytes) -> None:
    """Write *data* atomically to *path*, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a leftover temporary file may have had other modes
        view = memoryview(data)
        while view:  # os.write may write less than asked (a nearly full disk)
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


async def run_outbox(items: Sequence[Outgoing], ctx: RunContext) -> None:
    folder = ctx.config.transport.outbox_dir
    for item in items:
        if not ctx.claim(item):
            continue
        if ctx.embargo_ahead():  # once it has passed, a clock that goes back meets the guard
            await ctx.wait_for_embargo()
        try:
            ctx.transmitting(item)
        except EmbargoGuardError as exc:  # the clock went back: stop, send nothing more
            ctx.unclaim(item)
            ctx.stop_for_guard(exc)
            break
        try:
            # Here, not before the loop: a folder that cannot be made fails the messages
            # (journaled, exit 3) instead of ending the run with a traceback.
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(folder / eml_name(item), item.data)
        except OSError as exc:
            ctx.failed(item, f"cannot write to the outbox {folder}: {exc.strerror}")
            continue
        ctx.sent(item, f"written to {folder.name}/{eml_name(item)}")
