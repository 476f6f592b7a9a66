"""Signing in with OAuth 2.0 (Microsoft 365, Google, any standard provider).

Front door: :func:`login` and :func:`logout` (the use cases of ``mailer login`` / ``logout``),
:class:`TokenSource` (an access token for SMTP and IMAP, renewed silently) and
:func:`token_source`. Tokens are :class:`~mailer.config.Secret` strings: their repr hides them,
and no message, log line or journal row ever holds one.

This package talks HTTPS to the identity provider (through MSAL, google-auth and requests); the
mail sockets stay in ``sending/`` and ``rsvp/imap.py``.
"""

from mailer.oauth.providers import Prompt
from mailer.oauth.store import SIGN_IN_AGAIN
from mailer.oauth.tokens import (
    SignInHealth,
    TokenSource,
    TokenStatus,
    mailbox,
    sign_in_health,
    sign_in_problem,
)
from mailer.oauth.usecases import (
    LoginResult,
    LogoutResult,
    login,
    login_project,
    logout,
    logout_project,
    token_source,
)

__all__ = [
    "SIGN_IN_AGAIN",
    "LoginResult",
    "LogoutResult",
    "Prompt",
    "SignInHealth",
    "TokenSource",
    "TokenStatus",
    "login",
    "login_project",
    "logout",
    "logout_project",
    "mailbox",
    "sign_in_health",
    "sign_in_problem",
    "token_source",
]
