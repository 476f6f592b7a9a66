#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian/Ubuntu machine, then run all of it:
# ruff, mypy --strict, the docs site (mkdocs build --strict) and pytest (including the Dovecot
# IMAP tests, the Postfix submission tests and the slow variants).
set -euo pipefail
cd "$(dirname "$0")/.."

# A real Dovecot IMAP server for the RSVP tests, and Postfix for the submission tests (the tests
# start their own private instances; nothing in /etc/postfix or /etc/dovecot is used). Postfix is
# preseeded with "No configuration", so no /etc/postfix/main.cf is written and no system Postfix
# can start; a policy-rc.d (exit 101) keeps the packages from starting any daemon meanwhile.
missing=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || missing+=(postfix)
# Chromium renders the report and the door list in the browser tests (tests/test_report_browser.py).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=()
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
    if [ "$(id -u)" = 0 ] || [ ${#SUDO[@]} -gt 0 ]; then
        policy_added=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
            "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
            policy_added=1
        fi
        echo "postfix postfix/main_mailer_type select No configuration" \
            | "${SUDO[@]}" debconf-set-selections
        "${SUDO[@]}" apt-get update -qq
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
            >/dev/null
        if [ -n "$policy_added" ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
        # should a system Postfix run anyway (it would hold port 25), stop it by its PID
        if [ -r /var/spool/postfix/pid/master.pid ]; then
            pid=$(awk 'NR==1 {print $1}' /var/spool/postfix/pid/master.pid)
            if [ -n "$pid" ] && [ -e "/proc/$pid" ]; then "${SUDO[@]}" kill -TERM "$pid"; fi
        fi
    else
        echo "warning: ${missing[*]} not installed and cannot be installed here;" \
             "the IMAP, Postfix and browser tests will be skipped (they fail when CI is set)" >&2
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
