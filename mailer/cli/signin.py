"""``mailer login`` and ``mailer logout``."""

from __future__ import annotations

import typer

from mailer.cli.common import config_path, handled
from mailer.cli.usage import Command


def register(app: typer.Typer) -> None:
    app.command("login", cls=Command)(login)
    app.command("logout", cls=Command)(logout)


def login() -> None:
    """Sign in once with OAuth 2.0 (Microsoft 365, Google).

    Run it at a terminal. Microsoft: open the address shown and enter the code; Google: a
    browser opens. The sign-in is kept (a 0600 file next to config.toml, or the keyring) so that
    sending, reading and cron renew the access token by themselves.
    """
    # lazy: keeps --help fast
    from mailer.clock import SystemClock
    from mailer.console import oauth as show
    from mailer.oauth import login_project

    with handled():
        show.signed_in(login_project(config_path(), clock=SystemClock(), show=show.sign_in_prompt))


def logout() -> None:
    """Forget the saved OAuth 2.0 sign-in on this machine.

    Run 'mailer login' to sign in again.
    """
    # lazy: keeps --help fast
    from mailer.console import oauth as show
    from mailer.oauth import logout_project

    with handled():
        show.signed_out(logout_project(config_path()))
