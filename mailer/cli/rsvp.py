"""``mailer rsvp ...`` (the journalists' answers)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Read and summarise the journalists' answers.", no_args_is_help=True)
