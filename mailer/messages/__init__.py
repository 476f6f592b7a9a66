"""Message building: a round's plan, each message rendered, its calendar and its MIME bytes.

Front door of the messages package: :func:`build_plan` turns contacts and a :class:`RoundSpec`
into a :class:`Plan` of fully rendered and checked messages (:mod:`.render` for the sandboxed
templates, :mod:`.ics` for the iTIP calendar, :mod:`.mime` for the bytes, :mod:`.spool` for
large rounds). :func:`check_round` (:mod:`.check`) renders a round for ``mailer check`` and finds
every problem; :mod:`.hints` says what a template error means and what to do; :mod:`.agreement`
compares a message's text and HTML parts on the facts of config.toml. Everything here is
pure: no clock, no network, no printing.
"""

from mailer.messages.agreement import Fact, Parts, config_facts, disagreements, message_parts
from mailer.messages.check import Finding, RoundCheck, check_round
from mailer.messages.hints import BCC_KEY
from mailer.messages.mime import Footer, attachment_parts, load_attachments
from mailer.messages.plan import (
    BUSY_STATES,
    FINAL_STATES,
    Plan,
    PlanError,
    RoundSpec,
    build_plan,
    event_context,
    invitation_spec,
    make_renderer,
    new_message_id,
    render_one,
)
from mailer.messages.render import Renderer

__all__ = [
    "BCC_KEY",
    "BUSY_STATES",
    "FINAL_STATES",
    "Fact",
    "Finding",
    "Footer",
    "Parts",
    "Plan",
    "PlanError",
    "Renderer",
    "RoundCheck",
    "RoundSpec",
    "attachment_parts",
    "build_plan",
    "check_round",
    "config_facts",
    "disagreements",
    "event_context",
    "invitation_spec",
    "load_attachments",
    "make_renderer",
    "message_parts",
    "new_message_id",
    "render_one",
]
