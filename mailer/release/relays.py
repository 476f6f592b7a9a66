"""The release's relays: ``[smtp.fallback]`` made ready before a run sends, and what the run's
line says when the primary relay failed and the fallback took over (or could not).

The switch itself happens while sending (:mod:`mailer.sending.relays`); this module only gives
the fallback its own password and sign-in, and words the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.clock import Clock
from mailer.config import Config, smtp_password
from mailer.errors import TransportError
from mailer.models import Campaign
from mailer.oauth import token_source
from mailer.release.audience import ROUND
from mailer.sending import FALLBACK, Relay, SendReport
from mailer.store import Store


@dataclass(frozen=True)
class Fallback:
    relay: Relay | None  # None: no [smtp.fallback], or it cannot be used (problem says why)
    problem: str = ""


def prepare_fallback(config: Config, clock: Clock, *, interactive: bool) -> Fallback:
    """[smtp.fallback], ready to take over from the primary: its own password (from its own
    password_env, keyring or command; asked for at a terminal) and, with ``auth = "oauth2"``,
    the [oauth2] sign-in (a token is asked for only when the fallback connects). A fallback
    whose password cannot be found is left out with the reason, so that it never keeps the
    primary from sending (the pre-flight of ``send-due`` reports it hours before)."""
    smtp = config.smtp if config.transport.kind == "smtp" else None
    if smtp is None or smtp.fallback is None:
        return Fallback(None)
    relay = smtp.fallback
    try:
        password = smtp_password(relay, interactive=interactive)
    except TransportError as exc:
        return Fallback(None, exc.message)
    token = token_source(config, clock).access_token if relay.auth == "oauth2" else None
    return Fallback(Relay(relay, password, token))


def relay_lines(config: Config, store: Store, report: SendReport, fallback: Fallback) -> list[str]:
    """What the run's line says of the relays: the switch to [smtp.fallback] and why, or why the
    fallback could not take over; nothing when the primary did not fail."""
    smtp = config.smtp
    relay = smtp.fallback if smtp is not None else None
    if relay is None:
        return []
    at = f"{relay.host}:{relay.port}"
    if report.switched:
        took = store.journal.relay_counts(Campaign.RELEASE, ROUND).get(FALLBACK, 0)
        return [f"primary relay failed ({report.switched}): the fallback {at} took {took}"]
    if report.relay_failed and fallback.problem:
        return [f"the fallback {at} could not take over: {fallback.problem}"]
    return []
