#!/usr/bin/env bash
# Install what the benchmark suite needs on a fresh Debian machine (run as root or with sudo):
#   * Debian's package "postfix", installed so that NO Postfix daemon is configured or started:
#     its smtp-sink and smtp-source, and the postfix binaries that bench/mta.py runs as a private
#     instance (own config and queue in a temporary folder, started and stopped by the bench);
#   * a separate venv bench/.venv with mailmerge (the peer, from PyPI), this project, aiosmtpd,
#     icalendar, psutil and pyinstrument.
# Idempotent: running it again only checks.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="$here/.venv"
python="${PYTHON:-python3}"

sudo_=""
if [ "$(id -u)" -ne 0 ]; then
    sudo_="sudo"
fi

# --- Debian's postfix package, with no daemon configured or started -------------------------
if ! { command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; } \
    || ! { command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ]; }; then
    # "No configuration": postinst writes no main.cf and starts nothing.
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo_ debconf-set-selections
    # policy-rc.d exit 101 forbids invoke-rc.d from starting any service during the install.
    # Put one in place only for the install when the machine has none (Docker images usually do).
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo_ tee /usr/sbin/policy-rc.d >/dev/null
        $sudo_ chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    trap '[ -n "$added_policy" ] && $sudo_ rm -f /usr/sbin/policy-rc.d' EXIT
    $sudo_ apt-get update -qq
    $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postfix >/dev/null
    # Belt and braces: keep the service disabled should the machine ever boot with systemd.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        $sudo_ systemctl disable --now postfix >/dev/null 2>&1 || true
    fi
fi
if pgrep -x master >/dev/null 2>&1; then
    echo "setup.sh: a Postfix master process is running; stop it (postfix stop) and rerun" >&2
    exit 1
fi
if [ -e /etc/postfix/main.cf ]; then
    echo "setup.sh: note: /etc/postfix/main.cf exists (configured before); no daemon is running"
fi
echo "ok    smtp-sink    $(command -v smtp-sink || echo /usr/sbin/smtp-sink)"
echo "ok    smtp-source  $(command -v smtp-source || echo /usr/sbin/smtp-source)"
echo "ok    postfix      $(command -v postfix || echo /usr/sbin/postfix) (bench/mta.py runs a private instance)"
echo "ok    no Postfix master process running"

# --- the bench venv --------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "mailmerge>=2.2" "aiosmtpd>=1.4.4" "psutil>=5.9" "pyinstrument>=4.6"
"$venv/bin/pip" install -q -e "$root"
echo "ok    bench venv   $venv ($("$venv/bin/python" -V); mailmerge $("$venv/bin/pip" show mailmerge | sed -n 's/^Version: //p'))"
echo "Run: $venv/bin/python $here/run.py --quick"
