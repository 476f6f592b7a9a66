"""SMTP sign-in with an OAuth 2.0 access token: SASL XOAUTH2, or OAUTHBEARER (RFC 7628).

aiosmtplib signs in with XOAUTH2 only (``oauth_token_generator``). Exchange Online and Gmail
offer XOAUTH2; a server that offers only OAUTHBEARER (some Dovecot-backed submission services)
gets OAUTHBEARER here. The token is asked for at every connect, so a long run renews it.
"""

from __future__ import annotations

import base64

import aiosmtplib
from aiosmtplib import SMTPAuthenticationError

AUTH_OK = 235
CONTINUE = 334


def oauthbearer_response(user: str, host: str, port: int, token: str) -> bytes:
    """The initial client response of RFC 7628 section 3.1, base64-encoded."""
    text = f"n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(text.encode("utf-8"))


class BearerSMTP(aiosmtplib.SMTP):
    """An aiosmtplib client that signs in with OAUTHBEARER where XOAUTH2 is not offered.

    ``mechanism`` says which one was used (for ``mailer check``)."""

    mechanism = ""

    async def _maybe_login_on_connect(self) -> None:
        generator = self._oauth_token_generator
        user = self._login_username
        if generator is None or user is None:
            await super()._maybe_login_on_connect()
            return
        await self._ehlo_or_helo_if_needed()
        methods = self.server_auth_methods
        if "xoauth2" in methods or "oauthbearer" not in methods:
            self.mechanism = "XOAUTH2"
            await super()._maybe_login_on_connect()
            return
        token = await generator()
        self.mechanism = "OAUTHBEARER"
        name = user.decode("utf-8") if isinstance(user, bytes) else user
        initial = oauthbearer_response(name, self.hostname or "", self.port or 0, token)
        response = await self.execute_command(b"AUTH", b"OAUTHBEARER", initial)
        if response.code == CONTINUE:  # the server's error report: answer ^A, then it refuses
            response = await self.execute_command(base64.b64encode(b"\x01"))
        if response.code != AUTH_OK:
            raise SMTPAuthenticationError(response.code, response.message)


__all__ = ["BearerSMTP", "oauthbearer_response"]
