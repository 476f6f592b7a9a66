"""Message building: a round's plan, each message rendered, its calendar and its MIME bytes.

Front door of the messages package: :func:`build_plan` turns contacts and a :class:`RoundSpec`
into a :class:`Plan` of fully rendered and checked messages (:mod:`.render` for the sandboxed
templates, :mod:`.ics` for the iTIP calendar, :mod:`.mime` for the bytes, :mod:`.spool` for
large rounds). Everything here is pure: no clock, no network, no printing.
"""

from mailer.messages.plan import (
    Plan,
    PlanError,
    RoundSpec,
    build_plan,
    invitation_spec,
    new_message_id,
    render_one,
)

__all__ = [
    "Plan",
    "PlanError",
    "RoundSpec",
    "build_plan",
    "invitation_spec",
    "new_message_id",
    "render_one",
]
