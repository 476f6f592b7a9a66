"""The SMTP transport (aiosmtplib). Filled in by the SMTP issue."""

from __future__ import annotations

from collections.abc import Sequence

from mailer.errors import TransportError
from mailer.models import Outgoing
from mailer.sending import RunContext


async def run_smtp(items: Sequence[Outgoing], ctx: RunContext) -> None:
    raise TransportError("the smtp transport is not implemented yet")
