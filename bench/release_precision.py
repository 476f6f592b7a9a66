"""Embargo precision: delay from the embargo second to the first and the last message accepted.

    /work/venv/bin/python bench/release_precision.py [--recipients 200] [--repeat 3]

For each setting a fresh starter project gets N contacts and ``[transport] kind = "smtp"`` to an
SMTP sink on 127.0.0.1 (``bench/stamp_sink.py``, or aiosmtpd with ``--sink aiosmtpd``; in this
process, in a thread) without a rate limit, the release is scheduled for a whole second ~8 s
ahead, and ``mailer release send-due`` is started the way cron starts it (a subprocess). The
sink stamps ``time.time()`` when it accepts each DATA; the delays are those stamps minus the
embargo second. A message accepted before the embargo would be a bug: the count of those is
printed too (it must be 0).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tomllib

import tomli_w
from aiosmtpd.controller import Controller

from bench.stamp_sink import StampSink
from mailer.project.starter import write_starter

HEL = ZoneInfo("Europe/Helsinki")
MAILER = str(Path(sys.executable).parent / "mailer")
LEAD_SECONDS = 8.0


class Recorder:
    """aiosmtpd handler: remembers when each message was accepted and for whom."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[float, tuple[str, ...]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = time.time()
        with self.lock:
            self.accepted.append((stamp, tuple(envelope.rcpt_tos)))
        return "250 2.0.0 OK"


class LoopbackController(Controller):
    """aiosmtpd's Controller on port 0: learn the bound port before it connects to itself."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()


@dataclass(frozen=True)
class Setting:
    recipients: int
    connections: int
    mode: str  # personal | bcc


def make_project(
    root: Path, setting: Setting, port: int, smtp_extra: Mapping[str, object] | None = None
) -> Path:
    write_starter(root, now=dt.datetime.now(dt.UTC))
    with (root / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "name", "outlet", "language", "tags"])
        for i in range(setting.recipients):
            out.writerow(
                [
                    f"journalist{i:04d}@news{i % 17}.example",
                    f"Journalist {i}",
                    f"News {i % 17}",
                    ("fi", "sv", "en")[i % 3],
                    "",
                ]
            )
    cfg = root / "config.toml"
    data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    data["release"].update(mode=setting.mode, prebrief_tag="")
    data["transport"]["kind"] = "smtp"
    data["smtp"] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "connections": setting.connections,
        "rate_per_minute": 0,
        "recipients_per_message": 100,
        **(smtp_extra or {}),
    }
    cfg.write_text(tomli_w.dumps(data), encoding="utf-8")
    return cfg


def schedule_release(cfg: Path, lead: float) -> float:
    """Schedule the project's release for the whole second about *lead* seconds ahead (as
    ``mailer release schedule --at`` does it); return the embargo as a POSIX timestamp."""
    embargo = (
        (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lead + 1))
        .astimezone(HEL)
        .replace(microsecond=0)
    )
    at = f"{embargo:%Y-%m-%d %H:%M:%S}"
    subprocess.run(
        [MAILER, "-c", str(cfg), "release", "schedule", "--yes", "--at", at],
        check=True,
        capture_output=True,
        timeout=120,
    )
    left = embargo.timestamp() - time.time()
    if left < 1.5:
        raise RuntimeError(f"scheduling took too long: only {left:.2f} s left")
    return embargo.timestamp()


def send_due(cfg: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``mailer release send-due`` as cron starts it; returns when it has finished."""
    return subprocess.run(
        [MAILER, "-c", str(cfg), "release", "send-due"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class _AiosmtpdSink:
    """The aiosmtpd recorder behind the same interface as :class:`StampSink`."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.lock = self.recorder.lock
        self.accepted = self.recorder.accepted
        self.controller = LoopbackController(self.recorder, hostname="127.0.0.1", port=0)

    def start(self) -> int:
        self.controller.start()
        assert self.controller.server is not None
        return int(self.controller.server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        self.controller.stop()


def run_once(
    setting: Setting,
    work: Path,
    sink_kind: str = "stamp",
    *,
    route: Callable[[int], AbstractContextManager[int]] | None = None,
    smtp_extra: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """One release; *route* puts something between mailer and the sink (it is given the sink's
    port and yields the port mailer connects to: the latency bench's delay proxy);
    *smtp_extra* adds ``[smtp]`` keys."""
    sink: StampSink | _AiosmtpdSink = StampSink() if sink_kind == "stamp" else _AiosmtpdSink()
    port = sink.start()
    try:
        with route(port) if route is not None else nullcontext(port) as mailer_port:
            return _release(setting, work, sink, sink_kind, mailer_port, smtp_extra)
    finally:
        sink.stop()


def _release(
    setting: Setting,
    work: Path,
    sink: StampSink | _AiosmtpdSink,
    sink_kind: str,
    port: int,
    smtp_extra: Mapping[str, object] | None,
) -> dict[str, Any]:
    assert port > 0
    cfg = make_project(work, setting, port, smtp_extra)
    target = schedule_release(cfg, LEAD_SECONDS)
    done = send_due(cfg)
    with sink.lock:
        accepted = list(sink.accepted)
    delays = sorted(stamp - target for stamp, _ in accepted)
    delivered = sum(len(rcpts) for _, rcpts in accepted)
    return {
        "recipients": setting.recipients,
        "connections": setting.connections,
        "mode": setting.mode,
        "sink": sink_kind,
        "messages": len(accepted),
        "delivered_to": delivered,
        "early": sum(1 for d in delays if d < 0),
        "first_ms": delays[0] * 1000 if delays else None,
        "last_ms": delays[-1] * 1000 if delays else None,
        "exit": done.returncode,
        "line": (done.stdout or done.stderr).strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--sink",
        choices=("stamp", "aiosmtpd"),
        default="stamp",
        help="stamp: bench/stamp_sink.py (default); aiosmtpd: the tests' server, which itself "
        "takes ~2.7 ms per message here and so cannot show a 1-s release",
    )
    args = parser.parse_args()
    settings = [
        Setting(args.recipients, 1, "personal"),
        Setting(args.recipients, 3, "personal"),
        Setting(args.recipients, 1, "bcc"),
    ]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="release-precision-") as tmp:
        for setting in settings:
            for i in range(args.repeat):
                work = Path(tmp) / f"{setting.mode}-{setting.connections}-{i}"
                result = run_once(setting, work, args.sink)
                results.append(result)
                if result["delivered_to"] != setting.recipients or result["early"]:
                    print(f"PROBLEM: {result}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"Embargo precision, {args.recipients} recipients, {args.sink} sink, no rate limit, "
        f"`mailer release send-due` started ~{LEAD_SECONDS:.0f} s ahead; {args.repeat} runs each"
    )
    print(
        f"{'mode':<9}{'conns':>6}{'msgs':>6}{'early':>6}   first after embargo (ms)"
        "     last after embargo (ms)"
    )
    for setting in settings:
        rows = [
            r
            for r in results
            if (r["mode"], r["connections"]) == (setting.mode, setting.connections)
        ]
        firsts = [r["first_ms"] for r in rows]
        lasts = [r["last_ms"] for r in rows]
        print(
            f"{setting.mode:<9}{setting.connections:>6}{rows[0]['messages']:>6}"
            f"{sum(r['early'] for r in rows):>6}   "
            f"median {statistics.median(firsts):7.1f} (max {max(firsts):7.1f})"
            f"   median {statistics.median(lasts):7.1f} (max {max(lasts):7.1f})"
        )


if __name__ == "__main__":
    main()
