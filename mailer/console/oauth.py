"""Terminal output of ``mailer login`` and ``mailer logout``. Never shows a token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailer.console.output import info, warning

if TYPE_CHECKING:
    from mailer.oauth import LoginResult, LogoutResult, Prompt


def sign_in_prompt(prompt: Prompt) -> None:
    if prompt.code:
        info(f"To sign in, open {prompt.url} in a browser and enter the code {prompt.code}")
    else:
        info(f"To sign in, open this address in a browser (opening it now): {prompt.url}")
    info("Waiting for you to finish signing in ...")


def signed_in(result: LoginResult) -> None:
    info(f"Signed in as {result.account} ({result.method}).")
    info(f"The sign-in is kept in {result.kept_in}; sending and reading renew it by themselves.")
    for text in result.warnings:
        warning(text)


def signed_out(result: LogoutResult) -> None:
    if result.forgotten:
        info(f"Signed out: the sign-in in {result.kept_in} is forgotten.")
    else:
        info(f"Not signed in: nothing in {result.kept_in}.")
