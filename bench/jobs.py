"""One measured job per process: ``python bench/jobs.py KIND ...`` prints one JSON object.

Each job runs in a fresh interpreter so that repetitions do not share caches or memory, and its
clock starts after its imports (start-up is measured separately, in the scale section):

* ``bare``: our stack's limit: aiosmtplib sending identical pre-built bytes over C connections,
  with the same commands per message as mailer's transport (MAIL, RCPT, DATA).
* ``mailer``: the real code path on a generated project: ``loading.load_project`` ->
  ``rounds.prepare`` (``campaign.build_plan``: render, calendar, MIME) -> ``rounds.commit``
  (journal rows) -> ``rounds.send`` (``sending.send_batch``: claim, transmitting, sent, over SMTP).
* ``mailmerge``: the peer's CLI entry point, called in-process with its output discarded.
* ``scale``: planning and journal only (what ``invite send --dry-run`` renders, plus ``commit``):
  time and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LOOPBACK, SENDER


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- bare aiosmtplib loop ------------------------------------------------------------------------


async def _bare(port: int, connections: int, n: int, data: bytes) -> tuple[float, int]:
    import aiosmtplib

    numbers = iter(range(n))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(
            hostname=LOOPBACK, port=port, start_tls=False, use_tls=False, timeout=60
        )
        await client.connect()
        for i in numbers:
            await client.mail(SENDER)
            await client.rcpt(f"journalist{i}@bench.example")
            await client.data(data)
            sent += 1
        with contextlib.suppress(Exception):
            await client.quit()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(connections, n))))
    return time.perf_counter() - start, sent


def job_bare(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.message).read_bytes()
    seconds, sent = asyncio.run(_bare(args.port, args.connections, args.n, data))
    return {"seconds": seconds, "sent": sent, "bytes": len(data)}


# --- mailer --------------------------------------------------------------------------------------


def job_mailer(args: argparse.Namespace) -> dict[str, Any]:
    from mailer.clock import SystemClock
    from mailer.contacts import loading
    from mailer.invitations import rounds
    from mailer.messages.plan import invitation_spec

    clock = SystemClock()
    cfg = Path(args.config)
    start = time.perf_counter()
    project = loading.load_project(cfg)
    with loading.open_store(project.config) as store:
        prepared = rounds.prepare(
            project, invitation_spec(project.config), store, now=clock.now(), suppressed=()
        )
        planned = time.perf_counter()
        plan = rounds.commit(project, prepared, store, now=clock.now())
        committed = time.perf_counter()
        report = rounds.send(project, plan, store, clock=clock, progress=None, password=None)
        finished = time.perf_counter()
    sizes = [len(i.data) for i in plan.items]
    return {
        "seconds": finished - start,
        "plan": planned - start,
        "commit": committed - planned,
        "send": finished - committed,
        "sent": report.sent,
        "failed": report.failed,
        "in_doubt": report.in_doubt,
        "stopped": report.stopped,
        "bytes": sum(sizes) / len(sizes) if sizes else 0,
        "peak_rss_mb": _peak_rss_mb(),
    }


# --- mailmerge ---------------------------------------------------------------------------------


def job_mailmerge(args: argparse.Namespace) -> dict[str, Any]:
    from mailmerge.__main__ import main as mailmerge_main

    folder = Path(args.dir)
    argv = [
        "--template",
        str(folder / "template.txt"),
        "--database",
        str(folder / "database.csv"),
        "--config",
        str(folder / "server.conf"),
        "--no-limit",
        "--no-dry-run",
        "--output-format",
        "text",
    ]
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(devnull):
            mailmerge_main.main(args=argv, standalone_mode=False)
    finally:
        seconds = time.perf_counter() - start
        devnull.close()
    return {"seconds": seconds, "sent": args.n}


# --- scale -------------------------------------------------------------------------------------


def job_scale(args: argparse.Namespace) -> dict[str, Any]:
    from mailer.clock import SystemClock
    from mailer.contacts import loading
    from mailer.invitations import rounds
    from mailer.messages.plan import invitation_spec

    clock = SystemClock()
    base_rss = _peak_rss_mb()
    start = time.perf_counter()
    project = loading.load_project(Path(args.config))
    loaded = time.perf_counter()
    with loading.open_store(project.config) as store:
        prepared = rounds.prepare(
            project, invitation_spec(project.config), store, now=clock.now(), suppressed=()
        )
        planned = time.perf_counter()
        plan = rounds.commit(project, prepared, store, now=clock.now())
        committed = time.perf_counter()
    return {
        "seconds": committed - start,
        "load": loaded - start,
        "plan": planned - loaded,
        "commit": committed - planned,
        "messages": len(plan.items),
        "peak_rss_mb": _peak_rss_mb(),
        "rss_after_imports_mb": base_rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="kind", required=True)
    bare = sub.add_parser("bare")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--connections", type=int, default=1)
    bare.add_argument("--n", type=int, required=True)
    bare.add_argument("--message", required=True)
    mailer = sub.add_parser("mailer")
    mailer.add_argument("--config", required=True)
    merge = sub.add_parser("mailmerge")
    merge.add_argument("--dir", required=True)
    merge.add_argument("--n", type=int, required=True)
    scale = sub.add_parser("scale")
    scale.add_argument("--config", required=True)
    scale.add_argument("--memory-limit-mb", type=int, default=0)
    args = parser.parse_args()
    limit = getattr(args, "memory_limit_mb", 0)
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit * 1024 * 1024, limit * 1024 * 1024))
    jobs = {"bare": job_bare, "mailer": job_mailer, "mailmerge": job_mailmerge, "scale": job_scale}
    try:
        result = jobs[args.kind](args)
    except MemoryError:
        result = {"error": f"MemoryError (limit {limit} MB of address space)"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
