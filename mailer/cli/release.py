"""``mailer release ...`` (the embargoed press release)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Schedule and send the embargoed press release.", no_args_is_help=True)
