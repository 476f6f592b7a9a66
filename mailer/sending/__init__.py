"""Transmitting a planned batch: the only place where asyncio runs.

``send_batch`` is called once from the CLI with messages that are already rendered and checked.
Each message goes through the journal's exactly-once protocol (claim, transmitting, outcome),
and is checked against ``not_before`` (the embargo) immediately before it is transmitted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence

from mailer.clock import Clock
from mailer.config import Config
from mailer.models import Outgoing
from mailer.oauth import token_source
from mailer.sending.context import FALLBACK, PRIMARY, Relay, RunContext
from mailer.sending.plan import DeliveryPlan, delivery_plan
from mailer.sending.preflight import check_smtp
from mailer.sending.report import Delivery, NoProgress, Notice, Progress, SendReport
from mailer.sending.timesource import StatedTime, date_in_text, stated_times
from mailer.store import Journal, Store

__all__ = [
    "FALLBACK",
    "PRIMARY",
    "Delivery",
    "DeliveryPlan",
    "NoProgress",
    "Notice",
    "Progress",
    "Relay",
    "RunContext",
    "SendReport",
    "StatedTime",
    "check_smtp",
    "date_in_text",
    "delivery_plan",
    "send_batch",
    "stated_times",
]


def send_batch(
    items: Sequence[Outgoing],
    *,
    config: Config,
    store: Store,
    clock: Clock,
    owner: str,
    progress: Progress | None = None,
    not_before: dt.datetime | None = None,
    password: str | None = None,
    journal: Journal | None = None,
    access_token: Callable[[], str] | None = None,
    fallback: Relay | None = None,
) -> SendReport:
    """Transmit *items* with the configured transport; return what happened to each.

    Each message's transitions go to *journal*, the store's own journal unless given (a release
    run passes ``store.release_journal(...)``). With ``auth = "oauth2"``, *access_token* gives
    a token for each connection (a release run obtains it early); else one is made here. With
    *fallback* (the release's [smtp.fallback]), the messages the primary relay could not take
    because it failed at the connection or account level go through it
    (:mod:`mailer.sending.relays`).
    """
    smtp = config.smtp if config.transport.kind == "smtp" else None
    if smtp is not None and smtp.auth == "oauth2" and access_token is None:
        # Before anything is claimed: a lapsed sign-in stops here, everything stays queued.
        source = token_source(config, clock)
        source.access_token()
        access_token = source.access_token
    ctx = RunContext(
        config=config,
        journal=store.journal if journal is None else journal,
        smtp_log=store.smtp_log,
        clock=clock,
        owner=owner,
        progress=progress or NoProgress(),
        not_before=not_before,
        password=password,
        access_token=access_token,
        relay="outbox" if config.transport.kind == "outbox" else PRIMARY,
    )
    started = clock.now()
    switched = ""
    ctx.progress.started(len(items))
    try:
        if config.transport.kind == "outbox":
            # Lazy: each run loads only its own transport (the SMTP one brings aiosmtplib).
            from mailer.sending.outbox import run_outbox

            asyncio.run(run_outbox(items, ctx))
        else:
            from mailer.sending.relays import run_relays

            switched = asyncio.run(run_relays(items, ctx, fallback))
    finally:
        ctx.flush()  # also on Ctrl-C or an error: what the server answered is kept
    if ctx.guard is not None:
        raise ctx.guard  # the journal is consistent: the refused messages are pending again
    return SendReport(
        deliveries=tuple(ctx.deliveries),
        not_claimed=ctx.not_claimed,
        stopped=ctx.stopped,
        sign_in_lapsed=ctx.sign_in_lapsed,
        started=started,
        finished=clock.now(),
        planned=len(items),
        remedy=ctx.remedy,
        switched=switched,
        relay_failed=ctx.relay_failed,
    )
