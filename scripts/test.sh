#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian/Ubuntu machine, then run all of it:
# ruff, mypy --strict, the docs site (mkdocs build --strict) and pytest (including the Dovecot
# IMAP tests and the slow variants).
set -euo pipefail
cd "$(dirname "$0")/.."

# A real Dovecot IMAP server for the RSVP tests (the tests start their own private instance).
if ! command -v dovecot >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
    else
        echo "warning: dovecot-imapd is not installed and cannot be installed here;" \
             "the IMAP tests will be skipped (they fail when CI is set)" >&2
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check mailer tests bench scripts
.venv/bin/ruff format --check mailer tests bench scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== mkdocs build --strict"
# (NO_MKDOCS_2_WARNING: Material prints a notice about its successor on every build)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "$(mktemp -d)"
echo "== pytest"
# --all: every test, the slow ones included (the everyday `pytest` leaves them out).
# pytest exits 5 when it collected no test: that is a failure here too.
.venv/bin/pytest -q --all "$@"
