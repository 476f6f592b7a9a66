"""The path beyond one machine: a release handed to a real MTA (Postfix) that delivers it.

    bash bench/setup.sh                               # once: Debian's postfix, bench/.venv
    bench/.venv/bin/python bench/mta.py               # 10,000 recipients; about 4 minutes
    bench/.venv/bin/python bench/mta.py --write-docs  # also replace its block in
                                                      # docs/benchmarks.md

For each mailer mode (``[smtp] pipelining = true`` and ``false``; lock-step only while the build
has no such key) a starter project with N contacts (10,000) releases personal invitations through
``mailer release send-due``, started as cron starts it, over C connections (3):

* **via Postfix**: mailer -> a private Postfix (``bench/postfix_relay.py``: its own master,
  config and queue in a temporary folder, 127.0.0.1 only, Debian's defaults) -> ``smtp-sink``.
  Measured from the embargo second: the *handover*, from the first to the last 250 in mailer's
  journal (``sent_at``), and the *delivery*, when the sink counted the first and the last of
  the N messages Postfix relayed to it. Postfix's log must show N ``status=sent`` and its queue
  must be empty at the end.
* **direct**: the same release straight to ``smtp-sink``, in the same run, for comparison.

Everything it starts (sink, Postfix master and its children, mailer) is stopped on the way out,
also after an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    RESULTS,
    run_header,
    run_record,
    save_run,
    write_docs_block,
)
from bench.latency import LABELS, NOT_IN_BUILD, mode_keys, pipelining_available
from bench.postfix_relay import Relay, Terminated, private_relay, sigterm_unwinds
from bench.release_precision import Setting, make_project, schedule_release, send_due
from bench.sinks import CountingSink, start_counting_sink


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def counting_sink() -> Iterator[CountingSink]:
    sink = start_counting_sink()
    try:
        yield sink
    finally:
        sink.stop()


def release_through(
    work: Path, path: str, sender: str, args: argparse.Namespace, available: bool
) -> dict[str, Any]:
    """One release of ``args.n`` to a fresh counting sink, via a private Postfix or direct."""
    n = args.n
    row: dict[str, Any] = {"path": path, "sender": sender, "n": n, "connections": args.connections}
    with counting_sink() as sink, contextlib.ExitStack() as stack:
        relay: Relay | None = None
        port = sink.port
        if path == "postfix":
            relay = stack.enter_context(private_relay(sink.port))
            port = relay.port
        keys: dict[str, object] = {"timeout_seconds": 60.0, **mode_keys(sender, available)}
        cfg = make_project(
            work / f"{path}-{sender}", Setting(n, args.connections, "personal"), port, keys
        )
        embargo = schedule_release(cfg, args.lead)
        row["ready_left_s"] = embargo - time.time()  # left for send-due to prepare
        done = send_due(cfg, timeout=args.timeout)
        returned = time.time()
        row.update(exit=done.returncode, line=(done.stdout or done.stderr).strip()[-300:])
        complete = sink.wait_for(n, timeout=args.timeout)
        first_sent, last_sent = sent_span(cfg)
        row.update(
            returned_s=returned - embargo,
            first_250_s=None if first_sent is None else first_sent - embargo,
            last_250_s=None if last_sent is None else last_sent - embargo,
            delivered=sink.count,
            complete=complete,
            first_s=None if sink.first_at is None else sink.first_at - embargo,
            last_s=None if sink.last_at is None else sink.last_at - embargo,
        )
        if relay is not None:
            row["postfix"] = relay.outcomes()
            row["queued_after"] = relay.queued()
    span = (row["last_250_s"] or 0) - (row["first_250_s"] or 0)
    row["handover_rate"] = n / span if span > 0 else None
    row["lag_s"] = (
        row["last_s"] - row["last_250_s"]
        if None not in (row["last_s"], row["last_250_s"])
        else None
    )
    log(
        f"[mta] {path:<8} {LABELS[sender]:<18} 250s from {row['first_250_s'] or 0:.2f} to "
        f"{row['last_250_s'] or 0:.2f} s, delivered {row['delivered']:,}/{n:,} by "
        f"{row['last_s'] or 0:.2f} s" + (f", postfix {row['postfix']}" if "postfix" in row else "")
    )
    return row


def sent_span(cfg: Path) -> tuple[float | None, float | None]:
    """When mailer journaled its first and its last 250 (``sent_at``, in microseconds), as POSIX
    timestamps."""
    from mailer.config.load import load_config

    path = load_config(cfg).store_path
    with contextlib.closing(sqlite3.connect(path)) as conn:
        first, last = conn.execute("SELECT min(sent_at), max(sent_at) FROM messages").fetchone()
    return (
        None if first is None else dt.datetime.fromisoformat(first).timestamp(),
        None if last is None else dt.datetime.fromisoformat(last).timestamp(),
    )


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def tables(result: dict[str, Any]) -> str:
    lines = run_header(result)
    if not result["pipelining"]:
        lines += [
            "**`[smtp] pipelining` is not in this build**, so mailer ran lock-step only; the "
            "pipelined rows are pending.",
            "",
        ]
    lines += [
        f"Release of {result['n']:,} personal invitations by `mailer release send-due` over "
        f"{result['connections']} connections; seconds after the embargo second. *250s*: the "
        "first and the last `sent_at` in mailer's journal (when it read the server's 250); "
        "*handover* = messages / (last − first 250); *at the sink*: when `smtp-sink` counted the "
        "first and the last message; *lag*: last at the sink − last 250; *ready*: seconds left "
        "before the embargo when the release was scheduled (`send-due` prepares in them)",
        "",
        "| path | mailer | ready (s) | 250s (s) | handover msg/s | at the sink (s) | lag (s) "
        "| `send-due` returned (s) | sink count | Postfix log | queue after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in result["runs"]:
        label = "mailer → Postfix → sink" if r["path"] == "postfix" else "mailer → sink"
        if r.get("skipped"):
            lines.append(f"| {label} | {LABELS[r['sender']]} | {r['skipped']} ||||||||")
            continue
        pf = r.get("postfix")
        outcome = ", ".join(f"{v:,} {k}" for k, v in pf.items() if v) if pf else "-"
        lines.append(
            f"| {label} | {LABELS[r['sender']]} | {r['ready_left_s']:.1f} "
            f"| {fmt(r['first_250_s'], '.2f')} – {fmt(r['last_250_s'], '.2f')} "
            f"| {fmt(r['handover_rate'], ',.0f')} "
            f"| {fmt(r['first_s'], '.2f')} – {fmt(r['last_s'], '.2f')} | {fmt(r['lag_s'], '.2f')} "
            f"| {r['returned_s']:.2f} | {r['delivered']:,} | {outcome} "
            f"| {r.get('queued_after', '-')} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="recipients of the release")
    parser.add_argument("--connections", type=int, default=3, help="mailer's connections (3)")
    parser.add_argument(
        "--lead", type=float, help="seconds from scheduling to the embargo (8 + 4 per 1,000)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="per step, seconds")
    parser.add_argument("--paths", default="postfix,direct", help="postfix,direct")
    parser.add_argument("--out", type=Path, default=RESULTS / "mta.json")
    parser.add_argument(
        "--from-json", type=Path, help="no run: print (and --write-docs) the tables of a saved run"
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="replace the mta block of docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        text = tables(json.loads(args.from_json.read_text(encoding="utf-8")))
        print(text)
        if args.write_docs:
            write_docs_block("bench/mta.py", text)
        return 0
    args.lead = args.lead or 8 + 4 * args.n / 1000
    started = time.perf_counter()
    result: dict[str, Any] = {
        **run_record("bench/mta.py", argv),
        "n": args.n,
        "connections": args.connections,
        "runs": [],
    }
    with sigterm_unwinds(), tempfile.TemporaryDirectory(prefix="mailer-mta-") as tmp:
        work = Path(tmp)
        probe = make_project(work / "probe", Setting(1, 1, "personal"), 25)
        available, error = pipelining_available(probe)
        result["pipelining"], result["pipelining_error"] = available, error
        if not available:
            log(f"[mta] [smtp] pipelining is not in this build ({error}): lock-step only")
        for path in args.paths.split(","):
            for sender in ("pipelined", "lock-step"):
                if sender == "pipelined" and not available:
                    result["runs"].append({"path": path, "sender": sender, "skipped": NOT_IN_BUILD})
                    continue
                result["runs"].append(release_through(work, path, sender, args, available))
    result["duration_s"] = time.perf_counter() - started
    result["load_end"] = os.getloadavg()
    save_run(result, args.out, tables(result), script="bench/mta.py", docs=args.write_docs)
    bad = [r for r in result["runs"] if not r.get("skipped") and not r.get("complete")]
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Terminated) as stopped:
        log(f"[mta] stopped ({stopped or 'Ctrl-C'}); the sink and Postfix were stopped too")
        sys.exit(130)
