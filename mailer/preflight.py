"""Pre-flight checks that talk to servers without sending anything (used by ``mailer check``)."""

from __future__ import annotations

import asyncio

from mailer.config import SmtpConfig


def check_smtp(smtp: SmtpConfig, password: str | None, *, timeout: float | None = None) -> str:
    """Connect, (STARTTLS,) log in and QUIT; return one line such as
    ``smtp.office365.com:587 STARTTLS TLSv1.3, logged in as x``.

    Raises :class:`~mailer.errors.TransportError` with one clear line when any step fails.
    """
    from mailer.sending.probe import probe_smtp

    limit = smtp.timeout_seconds if timeout is None else timeout
    return asyncio.run(probe_smtp(smtp, password, timeout=limit))
