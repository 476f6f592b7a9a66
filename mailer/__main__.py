"""``python -m mailer`` runs the command-line interface."""

from mailer.cli import main

main()
