"""The latency bench: senders at a chosen round trip, and the release of 1,000 at 25 ms.

    bash bench/setup.sh                                   # once
    bench/.venv/bin/python bench/latency.py               # about 5 minutes
    bench/.venv/bin/python bench/latency.py --write-docs  # also replace its block in
                                                          # docs/benchmarks.md

1. For each round trip (0, 10, 25, 50 ms; 0 = straight to the sink, no proxy) and 1 and 3
   connections, in one run and back to back: mailer with ``[smtp] pipelining = true`` (RFC 2920
   where the server offers it), mailer with ``pipelining = false`` (lock-step), the bare
   aiosmtplib loop (``bench/jobs.py bare``) and mailmerge (one new connection per message, as it
   works; over C connections, C mailmerge processes each sending its share at the same time).
   The server is Postfix's ``smtp-sink`` (it offers PIPELINING) behind ``bench/delay_proxy.py``.
2. The release of 1,000 personal invitations (``mailer release send-due``, as cron starts it;
   ``bench/release_precision.py``) on loopback over 1 connection and at 25 ms over 3 and 10
   connections, in both modes: time from the embargo second to the last message the sink
   accepted, and how many it accepted before the embargo (must be 0). The sink stamps its own
   acceptance; mailer reads that 250 half a round trip later.

Until ``[smtp] pipelining`` exists in the build being measured (the config schema rejects the
key), mailer runs lock-step only and the pipelined rows say "not in this build".
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
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
from bench.delay_proxy import DelayProxy
from bench.sinks import start_smtp_sink

SENDERS = ("pipelined", "lock-step", "bare", "mailmerge")
LABELS = {
    "pipelined": "mailer, pipelined",
    "lock-step": "mailer, lock-step",
    "bare": "bare aiosmtplib loop",
    "mailmerge": "mailmerge",
}
JOBS = Path(__file__).resolve().parent / "jobs.py"
NOT_IN_BUILD = "not in this build"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the mailer project's [smtp] keys ----------------------------------------------------------


def set_smtp(cfg: Path, keys: Mapping[str, object]) -> None:
    import tomllib

    import tomli_w

    data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    data["smtp"].update(keys)
    cfg.write_text(tomli_w.dumps(data, multiline_strings=True), encoding="utf-8")


def pipelining_available(cfg: Path) -> tuple[bool, str]:
    """Does this build's config schema take ``[smtp] pipelining``? (False, its error) if not."""
    from mailer.config.load import load_config
    from mailer.errors import MailerError

    trial = cfg.with_name("pipelining-trial.toml")
    shutil.copyfile(cfg, trial)
    try:
        set_smtp(trial, {"pipelining": True})
        load_config(trial)
    except MailerError as exc:
        return False, str(exc)
    finally:
        trial.unlink(missing_ok=True)
    return True, ""


def mode_keys(sender: str, available: bool) -> dict[str, object]:
    """The ``[smtp]`` keys of a mailer mode; none when the build has no such key (lock-step)."""
    return {"pipelining": sender == "pipelined"} if available else {}


def route(sink_port: int, rtt_ms: float) -> AbstractContextManager[int]:
    """The port a sender connects to: the sink itself at 0 ms, else a delay proxy before it."""
    if rtt_ms <= 0:
        return nullcontext(sink_port)
    return DelayProxy(sink_port, rtt=rtt_ms / 1000)


# --- section 1: senders at a round trip ----------------------------------------------------------


def mailmerge_parallel(peer_dir: Path, n: int, connections: int, timeout: float) -> dict[str, Any]:
    """*connections* mailmerge processes at once, each sending its share of the database;
    seconds = the slowest process's own time (each times itself after its imports)."""
    with (peer_dir / "database.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    procs: list[tuple[subprocess.Popen[str], int]] = []
    for part in range(connections):
        share = rows[part::connections]
        if not share:
            continue
        folder = peer_dir.parent / f"{peer_dir.name}-part{part}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(peer_dir, folder)
        with (folder / "database.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(share)
        cmd = [sys.executable, str(JOBS), "mailmerge", "--dir", str(folder), "--n", str(len(share))]
        procs.append(
            (
                subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                len(share),
            )
        )
    seconds = 0.0
    sent = 0
    for proc, count in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"mailmerge exited {proc.returncode}: {err[-2000:]}")
        seconds = max(seconds, float(json.loads(out.strip().splitlines()[-1])["seconds"]))
        sent += count
    if sent != n:
        raise RuntimeError(f"mailmerge sent {sent} of {n}")
    return {"seconds": seconds, "sent": sent}


def run_cell(
    work: Path, sink_port: int, rtt_ms: float, connections: int, n: int, index: int, available: bool
) -> list[dict[str, Any]]:
    """The four senders at one round trip over *connections*, back to back (order rotated)."""
    from bench.run import prepare_job, run_impl

    timeout = 120 + n * max(rtt_ms, 1) * 0.01
    results: dict[str, dict[str, Any]] = {}
    with route(sink_port, rtt_ms) as port:
        job = prepare_job(work / f"rtt{rtt_ms:g}-c{connections}", n, False, port, connections, 1)
        order = SENDERS[index % len(SENDERS) :] + SENDERS[: index % len(SENDERS)]
        for sender in order:
            if sender == "pipelined" and not available:
                results[sender] = {"skipped": NOT_IN_BUILD}
                continue
            try:
                if sender in ("pipelined", "lock-step"):
                    set_smtp(job.config, mode_keys(sender, available))
                    result = run_impl("mailer", job, port)
                elif sender == "bare":
                    result = run_impl("bare", job, port)
                else:
                    result = mailmerge_parallel(job.peer_dir, n, connections, timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                log(f"[latency] {rtt_ms:g} ms x{connections} {sender}: FAILED: {exc}")
                result = {"error": str(exc)[-500:]}
            results[sender] = result
            if "seconds" in result:
                log(
                    f"[latency] {rtt_ms:>4g} ms  {connections} conn  {LABELS[sender]:<22}"
                    f"{n / result['seconds']:9.1f} msg/s"
                )
    rates = {s: n / r["seconds"] for s, r in results.items() if r.get("seconds")}
    rows = []
    for sender in SENDERS:
        result = results[sender]
        rate = rates.get(sender)
        row: dict[str, Any] = {
            "rtt_ms": rtt_ms,
            "connections": connections,
            "sender": sender,
            "n": n,
            "rate": rate,
            **{k: v for k, v in result.items() if k in ("seconds", "skipped", "error")},
        }
        for ref in ("lock-step", "bare", "mailmerge"):
            base = rates.get(ref)
            row[f"x_{ref}"] = rate / base if rate and base else None
        if sender in ("pipelined", "lock-step") and "send" in result:
            row["plan_s"] = result["plan"]
            row["send_s"] = result["send"]
            row["send_rate"] = n / result["send"]
        rows.append(row)
    return rows


# --- section 2: the release -------------------------------------------------------------------


def release_runs(
    work: Path, settings: Sequence[tuple[float, int]], n: int, available: bool
) -> list[dict[str, Any]]:
    from bench.release_precision import Setting, run_once

    rows = []
    for rtt_ms, connections in settings:
        for sender in ("pipelined", "lock-step"):
            if sender == "pipelined" and not available:
                rows.append(
                    {
                        "rtt_ms": rtt_ms,
                        "connections": connections,
                        "sender": sender,
                        "skipped": NOT_IN_BUILD,
                    }
                )
                continue
            log(f"[release] {n:,} at {rtt_ms:g} ms over {connections}, {LABELS[sender]} ...")

            def via(port: int, rtt: float = rtt_ms) -> AbstractContextManager[int]:
                return route(port, rtt)

            result = run_once(
                Setting(n, connections, "personal"),
                work / f"release-{rtt_ms:g}-{connections}-{sender}",
                route=via,
                smtp_extra=mode_keys(sender, available),
            )
            result.update(rtt_ms=rtt_ms, sender=sender)
            log(
                f"[release] last {result['last_ms']:.0f} ms after the embargo, "
                f"{result['early']} early, {result['delivered_to']}/{n} delivered"
            )
            rows.append(result)
    return rows


# --- tables and targets ------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def cell(rows: Sequence[dict[str, Any]], rtt: float, conns: int, sender: str) -> dict[str, Any]:
    for row in rows:
        if (row["rtt_ms"], row["connections"], row["sender"]) == (rtt, conns, sender):
            return row
    return {}


def targets(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, met) for the issue-16 targets this bench measures."""
    rows = result.get("senders", [])
    out: list[tuple[str, str, str]] = []

    available = bool(result.get("pipelining"))

    def met(ok: bool | None) -> str:
        """yes / no; pending while the build has no pipelining and lock-step alone misses it."""
        if ok is None:
            return "pending (no pipelining in this build)"
        if ok:
            return "yes"
        return "**no**" if available else "**no** in lock-step; pipelined pending"

    p25 = cell(rows, 25, 1, "pipelined")
    if rows:
        if p25.get("rate"):
            out.append(
                (
                    "25 ms, 1 connection: pipelined ≥ 3 × lock-step",
                    f"{fmt(p25['x_lock-step'])} ×",
                    met(p25["x_lock-step"] >= 3),
                )
            )
            out.append(
                (
                    "25 ms, 1 connection: pipelined ≥ 3 × bare loop",
                    f"{fmt(p25['x_bare'])} ×",
                    met(p25["x_bare"] >= 3),
                )
            )
        else:
            for what in ("lock-step", "bare loop"):
                out.append(
                    (f"25 ms, 1 connection: pipelined ≥ 3 × {what}", NOT_IN_BUILD, met(None))
                )
        for conns in sorted({r["connections"] for r in rows if r["rtt_ms"] == 0}):
            best = cell(rows, 0, conns, "pipelined")
            if not best.get("rate"):
                best = cell(rows, 0, conns, "lock-step")
            which = best.get("sender", "-")
            if best.get("x_bare") is not None:
                out.append(
                    (
                        f"loopback, {conns} connection(s): mailer ≥ 1.0 × bare loop ({which})",
                        f"{fmt(best['x_bare'])} ×",
                        met(best["x_bare"] >= 1.0),
                    )
                )
            if best.get("x_mailmerge") is not None:
                out.append(
                    (
                        f"loopback, {conns} connection(s): mailer ≥ 6 × mailmerge ({which})",
                        f"{fmt(best['x_mailmerge'])} ×",
                        met(best["x_mailmerge"] >= 6),
                    )
                )
            if best.get("send_s"):
                share = best["plan_s"] / best["send_s"]
                out.append(
                    (
                        f"loopback, {conns} connection(s): plan < ½ send time ({which})",
                        f"plan / send = {share:.2f}",
                        met(share < 0.5),
                    )
                )
    releases = result.get("release", [])
    n = result.get("release_n", 0)
    for rtt, conns, limit in ((0, 1, 500), (25, 10, 5000)):
        got = [r for r in releases if (r["rtt_ms"], r["connections"]) == (rtt, conns)]
        done = [r for r in got if r.get("last_ms") is not None]
        if not got:
            continue
        where = "loopback" if rtt == 0 else f"{rtt} ms"
        fastest = min(done, key=lambda r: r["last_ms"]) if done else None
        if fastest is None:
            out.append(
                (f"release of {n:,}, {where}, {conns} conn: last ≤ {limit} ms", "-", "**no**")
            )
            continue
        ok = fastest["last_ms"] <= limit
        out.append(
            (
                f"release of {n:,}, {where}, {conns} connection(s): last ≤ {limit:,} ms",
                f"{fastest['last_ms']:,.0f} ms ({LABELS[fastest['sender']]})",
                met(ok),
            )
        )
    if releases:
        early = sum(r.get("early", 0) for r in releases)
        out.append(("release: none before the embargo", f"{early} early", met(early == 0)))
    return out


def tables(result: dict[str, Any]) -> str:
    lines = run_header(result)
    if not result["pipelining"]:
        lines += [
            "**`[smtp] pipelining` is not in this build** (the config schema answered: "
            f"{result['pipelining_error']}), so mailer ran lock-step only and the pipelined rows "
            "and targets are pending.",
            "",
        ]
    rows = result.get("senders", [])
    if rows:
        lines += [
            "Senders at a round trip: smtp-sink behind `bench/delay_proxy.py` (0 ms: no proxy), "
            "plain invitations (~6.2 KB), the senders of one line run back to back; × is the rate "
            "over the rate of the column's sender in the same line",
            "",
            "| round trip | connections | sender | messages | msg/s | × lock-step | × bare loop "
            "| × mailmerge | mailer send phase msg/s |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            rate = fmt(r.get("rate"), ",.1f") if r.get("rate") else r.get("skipped", "failed")
            lines.append(
                f"| {r['rtt_ms']:g} ms | {r['connections']} | {LABELS[r['sender']]} | {r['n']:,} "
                f"| {rate} | {fmt(r['x_lock-step'])} | {fmt(r['x_bare'])} "
                f"| {fmt(r['x_mailmerge'])} | {fmt(r.get('send_rate'), ',.1f')} |"
            )
        lines.append("")
    releases = result.get("release", [])
    if releases:
        lines += [
            f"Release of {result['release_n']:,} personal invitations through "
            "`mailer release send-due` (the sink stamps each accepted message; 0 ms: no proxy)",
            "",
            "| round trip | connections | mailer | delivered to | before embargo "
            "| first after (ms) | last after (ms) |",
            "|---:|---:|---|---:|---:|---:|---:|",
        ]
        for r in releases:
            if r.get("skipped"):
                lines.append(
                    f"| {r['rtt_ms']:g} ms | {r['connections']} | {LABELS[r['sender']]} "
                    f"| {r['skipped']} | | | |"
                )
                continue
            lines.append(
                f"| {r['rtt_ms']:g} ms | {r['connections']} | {LABELS[r['sender']]} "
                f"| {r['delivered_to']:,} | {r['early']} | {fmt(r['first_ms'], ',.1f')} "
                f"| {fmt(r['last_ms'], ',.0f')} |"
            )
        lines.append("")
    found = targets(result)
    if found:
        lines += ["Targets of issue 16 measured here", "", "| target | measured | met |"]
        lines.append("|---|---|---|")
        lines += [f"| {a} | {b} | {c} |" for a, b, c in found]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def smtp_sink() -> Iterator[int]:
    started = start_smtp_sink()
    if started is None:
        raise SystemExit("smtp-sink is not installed: run bash bench/setup.sh")
    try:
        yield started.port
    finally:
        started.stop()


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rtts", default="0,10,25,50", help="round trips in ms (0,10,25,50)")
    parser.add_argument("--connections", default="1,3", help="connections (1,3)")
    parser.add_argument(
        "--per-connection", type=int, default=40, help="messages per connection with a delay (40)"
    )
    parser.add_argument(
        "--loopback-per-connection", type=int, default=300, help="... at 0 ms (300)"
    )
    parser.add_argument("--release-n", type=int, default=1000, help="recipients of the release")
    parser.add_argument(
        "--release", default="0:1,25:3,25:10", help="RTT:CONNECTIONS settings of the release"
    )
    parser.add_argument("--only", default="senders,release", help="senders,release")
    parser.add_argument("--out", type=Path, default=RESULTS / "latency.json")
    parser.add_argument(
        "--from-json", type=Path, help="no run: print (and --write-docs) the tables of a saved run"
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="replace the latency block of docs/benchmarks.md"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        if "targets" in saved:
            saved["targets"] = targets(saved)
        text = tables(saved)
        print(text)
        if args.write_docs:
            write_docs_block("bench/latency.py", text)
        return 0
    sections = args.only.split(",")
    if importlib.util.find_spec("mailmerge") is None:
        log("mailmerge is not installed here: run bash bench/setup.sh, then bench/.venv/bin/python")
        return 2

    started = time.perf_counter()
    result: dict[str, Any] = {
        **run_record("bench/latency.py", argv),
        "release_n": args.release_n,
    }
    with tempfile.TemporaryDirectory(prefix="mailer-latency-") as tmp:
        work = Path(tmp)
        from bench.common import ProjectSpec, make_project

        probe = make_project(work / "probe", ProjectSpec(1, False, 25, 1))
        available, error = pipelining_available(probe)
        result["pipelining"], result["pipelining_error"] = available, error
        if not available:
            log(f"[latency] [smtp] pipelining is not in this build ({error}): lock-step only")
        if "senders" in sections:
            rows: list[dict[str, Any]] = []
            with smtp_sink() as sink_port:
                index = 0
                for rtt in ints(args.rtts):
                    for conns in ints(args.connections):
                        per = args.loopback_per_connection if rtt == 0 else args.per_connection
                        rows += run_cell(work, sink_port, rtt, conns, per * conns, index, available)
                        index += 1
            result["senders"] = rows
        if "release" in sections:
            settings = [
                (float(a), int(b)) for a, b in (s.split(":") for s in args.release.split(","))
            ]
            result["release"] = release_runs(work, settings, args.release_n, available)
    result["duration_s"] = time.perf_counter() - started
    result["load_end"] = os.getloadavg()
    result["targets"] = targets(result)
    save_run(result, args.out, tables(result), script="bench/latency.py", docs=args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
