"""Choosing the relay: the primary ([smtp]) first, then, for the release, the fallback
([smtp.fallback]) when the primary fails at the connection or account level.

With a fallback waiting, the primary's transport runs with ``switch_relay`` set: it gives the
primary up at its first failure that is about the relay, not a message (it cannot connect: refused,
unreachable, timed out, a TLS failure, 421 at the greeting; it refuses the login: 535, 454; it
throttles or has no room: see :func:`mailer.sending.probe.relay_trouble`; the account cannot send:
quota, sender refused). The run then goes on, in the same event loop and with the same journal,
through the fallback, with the messages that are still to be sent. Per message:

* sent, failed or in doubt on the primary: final; the fallback never gets it (a message in doubt
  is resent only when the officer asks, with ``--resend-in-doubt``, in a later run);
* left queued or not reached on the primary: pending in the journal again, so the fallback claims
  it like any run would (exactly once: the journal's claims), and checks the embargo before it
  too (never early: the same ``not_before``).

Each message's journal row records the relay its data was handed to (``RunContext.relay``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mailer.models import Outgoing, State
from mailer.sending.context import FALLBACK, Relay, RunContext
from mailer.sending.report import Delivery, Notice, Progress
from mailer.sending.smtp import run_smtp


class _Once:
    """The progress of the fallback's part: a message the primary already reported as left
    queued is not counted a second time when the fallback sends it."""

    def __init__(self, inner: Progress, counted: set[str]) -> None:
        self.inner = inner
        self.counted = counted

    def started(self, total: int) -> None:
        self.inner.started(total)

    def advance(self, delivery: Delivery) -> None:
        if delivery.message_id in self.counted:
            self.counted.discard(delivery.message_id)
            return
        self.inner.advance(delivery)

    def notice(self, notice: Notice) -> None:
        self.inner.notice(notice)


async def run_relays(items: Sequence[Outgoing], ctx: RunContext, fallback: Relay | None) -> str:
    """Send *items* through the primary, then what is left through *fallback* if the primary
    failed at the relay level; return why the primary was given up ('' when it was not)."""
    ctx.switch_relay = fallback is not None
    await run_smtp(items, ctx)
    if fallback is None or not ctx.relay_failed or ctx.guard is not None:
        return ""
    ctx.flush()
    primary = ctx.config.smtp
    reason = ctx.stopped
    if primary is not None and not reason.startswith(primary.host):
        reason = f"{primary.host}:{primary.port}: {reason}"  # a refusal: say whose
    final = {d.message_id for d in ctx.deliveries if d.state is not State.PENDING}
    counted = {d.message_id for d in ctx.deliveries if d.state is State.PENDING}
    rest = [item for item in items if item.message_id not in final]
    ctx.deliveries[:] = [d for d in ctx.deliveries if d.message_id in final]
    smtp = fallback.smtp
    ctx.notice(
        f"{reason}; the other {len(rest)} go through the fallback relay {smtp.host}:{smtp.port}"
    )
    ctx.config = dataclasses.replace(ctx.config, smtp=smtp)
    ctx.password = fallback.password
    ctx.access_token = fallback.access_token
    ctx.relay = FALLBACK
    ctx.switch_relay = False
    ctx.stopped, ctx.relay_failed, ctx.sign_in_lapsed = "", False, False
    ctx.not_claimed = 0  # counted again by the fallback's claims (still another run's, or won)
    ctx.progress = _Once(ctx.progress, counted)
    await run_smtp(rest, ctx)
    return reason
