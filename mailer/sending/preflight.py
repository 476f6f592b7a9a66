"""Pre-flight checks that talk to servers without sending anything (used by ``mailer check``)."""

from __future__ import annotations

from mailer.config import SmtpConfig


def check_smtp(smtp: SmtpConfig, password: str | None, *, timeout: float | None = None) -> str:
    """Connect, (STARTTLS,) log in and QUIT; return one line such as
    ``smtp.office365.com:587 STARTTLS TLSv1.3, logged in as x``.

    Raises :class:`~mailer.errors.TransportError` with one clear line when any step fails.
    """
    # Lazy: aiosmtplib is loaded only when a server is really probed.
    from mailer.sending.probe import run_probe

    return run_probe(smtp, password, timeout=smtp.timeout_seconds if timeout is None else timeout)
