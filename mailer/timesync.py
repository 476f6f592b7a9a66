"""Does the machine say its clock is synchronised? Asked in a fixed, documented order.

1. ``timedatectl show -p NTPSynchronized --value`` (systemd: ``yes`` / ``no``);
2. ``chronyc tracking`` (chrony: the leap status, and how far the system time is from NTP time);
3. the kernel's ``adjtimex`` status (Linux, through ctypes): the ``STA_UNSYNC`` bit and the
   kernel's maximum and estimated error.

The first that answers is the answer, and :attr:`SyncStatus.source` names it. A machine that
answers none of them (no systemd, no chrony, not Linux) is *unknown*, which is not a "no".
:meth:`mailer.clock.SystemClock.sync_status` calls :func:`machine_sync`; the parsers are pure,
for the tests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

STA_UNSYNC = 0x0040  # <sys/timex.h>: the clock is not synchronised
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class SyncStatus:
    """What the machine says about its clock."""

    synchronised: bool | None  # None: the machine does not tell
    source: str  # "timedatectl", "chronyc", "adjtimex", or "" (none answered)
    detail: str  # in words, e.g. "chronyc: Normal, system time 0.000012 s fast of NTP time"
    # Seconds the system clock is ahead (+) or behind (-) of its time servers, where the
    # machine says (chronyc); None elsewhere.
    offset: float | None = None


UNKNOWN = SyncStatus(
    None,
    "",
    "the machine does not say whether its clock is synchronised (no timedatectl, "
    "chronyc or adjtimex answered)",
)

Runner = Callable[[Sequence[str]], str | None]


def parse_timedatectl(text: str) -> SyncStatus | None:
    """``yes`` / ``no`` from ``timedatectl show -p NTPSynchronized --value``."""
    value = text.strip().lower()
    if value not in ("yes", "no"):
        return None
    return SyncStatus(value == "yes", "timedatectl", f"timedatectl: NTPSynchronized={value}")


_CHRONY_LEAP = re.compile(r"^Leap status\s{0,40}:\s{0,10}(.{1,60})$", re.MULTILINE)
_CHRONY_SYSTEM = re.compile(
    r"^System time\s{0,40}:\s{0,10}([0-9]{1,12}(?:\.[0-9]{1,12})?) seconds (fast|slow) of NTP time",
    re.MULTILINE,
)


def parse_chronyc(text: str) -> SyncStatus | None:
    """The leap status and the system time's offset from ``chronyc tracking``."""
    leap = _CHRONY_LEAP.search(text[:8192])
    if leap is None:
        return None
    status = leap.group(1).strip()
    offset: float | None = None
    detail = f"chronyc: leap status {status}"
    system = _CHRONY_SYSTEM.search(text[:8192])
    if system is not None:
        seconds = float(system.group(1))
        offset = seconds if system.group(2) == "fast" else -seconds
        detail += f", system time {seconds:g} s {system.group(2)} of NTP time"
    return SyncStatus(status.lower() != "not synchronised", "chronyc", detail, offset)


class _Timex(ctypes.Structure):
    # struct timex (Linux): the fields read here, then room for the rest of it.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("rest", ctypes.c_byte * 256),
    ]


def parse_adjtimex(status: int, maxerror_us: int, esterror_us: int) -> SyncStatus:
    """The kernel's answer: ``STA_UNSYNC`` set means not synchronised."""
    synced = not status & STA_UNSYNC
    words = "synchronised" if synced else "not synchronised (STA_UNSYNC)"
    return SyncStatus(
        synced,
        "adjtimex",
        f"adjtimex: {words}, maximum error {maxerror_us / 1e6:g} s, "
        f"estimated error {esterror_us / 1e6:g} s",
    )


def kernel_sync() -> SyncStatus | None:
    """The kernel's view through ``adjtimex(2)`` with modes 0 (it only reads); None off Linux."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        call = libc.adjtimex
    except (OSError, AttributeError):
        return None
    timex = _Timex()
    if call(ctypes.byref(timex)) < 0:
        return None
    return parse_adjtimex(timex.status, timex.maxerror, timex.esterror)


def run_command(argv: Sequence[str]) -> str | None:
    """The standard output of *argv*, or None when it is missing, fails or takes too long."""
    try:
        done = subprocess.run(  # noqa: S603 (a fixed command, no shell)
            list(argv),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def machine_sync(
    run: Runner = run_command, kernel: Callable[[], SyncStatus | None] = kernel_sync
) -> SyncStatus:
    """Ask timedatectl, then chronyc, then the kernel (see the module docstring)."""
    out = run(("timedatectl", "show", "-p", "NTPSynchronized", "--value"))
    found = parse_timedatectl(out) if out is not None else None
    if found is not None:
        return found
    out = run(("chronyc", "-n", "tracking"))
    found = parse_chronyc(out) if out is not None else None
    if found is not None:
        return found
    return kernel() or UNKNOWN
