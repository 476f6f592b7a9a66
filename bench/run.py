"""The benchmark suite: one command runs it all, prints the tables, writes results/latest.json.

    bash bench/setup.sh                      # once: smtp-sink/smtp-source, bench/.venv
    bench/.venv/bin/python bench/run.py      # full run
    bench/.venv/bin/python bench/run.py --quick

Sections (every server listens on 127.0.0.1 only; every loop is bounded in count and time):

1. Throughput against Postfix's ``smtp-sink`` (aiosmtpd sink when it is missing): for each job
   (N personal invitations, without and with a 200 KB PDF) ``smtp-source`` (the wire limit),
   the bare aiosmtplib loop (our stack's limit), mailer and mailmerge, alternating, repeated;
   medians, spread, and every rate as a ratio to the bare loop and to mailmerge: the median of
   the ratios taken within each repetition (senders of one repetition run back to back).
2. A slow server (aiosmtpd answering DATA after 50 ms) with 1, 3 and 10 connections.
3. Embargo precision: a release to 1,000 recipients armed by ``mailer release send-due``
   (``bench/release_precision.py --json``), see :func:`embargo_precision`.
4. Scale: time and peak RSS of planning + journal for 1,000 / 10,000 / 100,000 contacts;
   ``mailer --help`` and ``mailer status`` (100,000-row journal) start-up; ``rsvp import`` of
   10,000 replies made from tests/data/replies (see :func:`rsvp_import`).
5. Validation: a sample received by a recording aiosmtpd sink, parsed and checked
   (``bench/validate.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH,
    FIXED_NOW,
    RESULTS,
    SENDER,
    ProjectSpec,
    contact_rows,
    machine,
    make_project,
    median,
    reset_journal,
    spread,
)
from bench.sinks import SMTP_SOURCE_CANDIDATES, find_tool, sink

JOBS = Path(__file__).resolve().parent / "jobs.py"
IMPLS = ("smtp-source", "bare", "mailer", "mailmerge")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_json(cmd: Sequence[str], *, timeout: float) -> dict[str, Any]:
    """Run a job process; its last stdout line is a JSON object."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"{shlex.join(cmd)} printed nothing:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def job_timeout(n: int, pdf: bool) -> float:
    return 120.0 + n * (0.1 if pdf else 0.03)


# --- inputs of one job -------------------------------------------------------------------------


@dataclass
class Job:
    """One job (N invitations, with or without the PDF) and the inputs of every implementation."""

    n: int
    pdf: bool
    connections: int
    repeats: int
    config: Path
    message: Path  # one mailer-built message: the bytes of the bare loop and smtp-source
    message_lf: Path  # the same with LF line ends (smtp-source -F appends CRLF to each line)
    peer_dir: Path
    sizes: dict[str, float] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.n:,} x {'~287 KB (200 KB PDF)' if self.pdf else '~6 KB'}"


def prepare_job(work: Path, n: int, pdf: bool, port: int, connections: int, repeats: int) -> Job:
    from bench.peer import peer_message_size, write_peer_project
    from mailer.contacts import loading
    from mailer.messages.plan import build_plan, invitation_spec

    name = f"{n}-{'pdf' if pdf else 'plain'}"
    cfg = make_project(work / f"mailer-{name}", ProjectSpec(n, pdf, port, connections))
    project = loading.load_project(cfg)
    first = loading.recipients(project, tag=None, only=None)[:1]
    plan = build_plan(
        project.config, first, invitation_spec(project.config), now=FIXED_NOW, store=None
    )
    item = plan.items[0]
    message = work / f"message-{name}.eml"
    message.write_bytes(item.data)
    message_lf = work / f"message-{name}.lf"
    message_lf.write_bytes(item.data.replace(b"\r\n", b"\n"))
    assert item.ics_uid is not None
    peer = write_peer_project(
        work / f"mailmerge-{name}",
        sample=item.data,
        sample_contact=next(contact_rows(1)),
        sample_uid=item.ics_uid,
        n=n,
        pdf=pdf,
        port=port,
    )
    job = Job(n, pdf, connections, repeats, cfg, message, message_lf, peer)
    job.sizes = {
        "smtp-source": len(item.data),
        "bare": len(item.data),
        "mailer": len(item.data),
        "mailmerge": peer_message_size(peer),
    }
    return job


# --- one run of one implementation ---------------------------------------------------------------


def run_impl(impl: str, job: Job, port: int, *, connections: int | None = None) -> dict[str, Any]:
    conns = connections or job.connections
    timeout = job_timeout(job.n, job.pdf)
    py = sys.executable
    if impl == "smtp-source":
        tool = find_tool(SMTP_SOURCE_CANDIDATES)
        if tool is None:
            return {"skipped": "smtp-source not installed (bench/setup.sh)"}
        cmd = [
            tool,
            "-s",
            str(conns),
            "-m",
            str(job.n),
            "-d",
            "-F",
            str(job.message_lf),
            "-f",
            SENDER,
            "-t",
            "journalist@bench.example",
            f"127.0.0.1:{port}",
        ]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"smtp-source failed: {proc.stderr[-2000:]}")
        return {"seconds": seconds, "sent": job.n}
    if impl == "bare":
        return run_json(
            [
                py,
                str(JOBS),
                "bare",
                "--port",
                str(port),
                "--connections",
                str(conns),
                "--n",
                str(job.n),
                "--message",
                str(job.message),
            ],
            timeout=timeout,
        )
    if impl == "mailer":
        reset_journal(job.config)
        if connections is not None:
            set_connections(job.config, connections)
        result = run_json([py, str(JOBS), "mailer", "--config", str(job.config)], timeout=timeout)
        if result.get("sent") != job.n:
            raise RuntimeError(f"mailer sent {result.get('sent')} of {job.n}: {result}")
        return result
    if impl == "mailmerge":
        return run_json(
            [py, str(JOBS), "mailmerge", "--dir", str(job.peer_dir), "--n", str(job.n)],
            timeout=timeout,
        )
    raise ValueError(impl)


def set_connections(cfg: Path, connections: int) -> None:
    import tomllib

    import tomli_w

    data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    data["smtp"]["connections"] = connections
    cfg.write_text(tomli_w.dumps(data, multiline_strings=True), encoding="utf-8")


def set_port(cfg: Path, port: int) -> None:
    import tomllib

    import tomli_w

    data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    data["smtp"]["port"] = port
    cfg.write_text(tomli_w.dumps(data, multiline_strings=True), encoding="utf-8")


def rate(result: dict[str, Any], n: int) -> float:
    return n / result["seconds"] if result.get("seconds") else 0.0


# --- section 1: throughput ---------------------------------------------------------------------


def throughput(work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    plan = [(n, pdf) for n in args.sizes for pdf in (False, True)]
    with sink("fast") as server:
        log(f"[throughput] sink: {server.kind} on 127.0.0.1:{server.port}")
        jobs = []
        for n, pdf in plan:
            repeats = args.repeat if n < 10_000 else args.repeat_large
            jobs.append(prepare_job(work, n, pdf, server.port, args.connections, repeats))
        rounds = max(j.repeats for j in jobs)
        for rep in range(rounds):
            for job in jobs:  # alternating: without and with the PDF, small and large
                if rep >= job.repeats:
                    continue
                order = IMPLS[rep % len(IMPLS) :] + IMPLS[: rep % len(IMPLS)]
                for impl in order:
                    if impl == "mailmerge" and args.no_peer:
                        continue
                    try:
                        result = run_impl(impl, job, server.port)
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        log(f"[throughput] {job.label} {impl}: FAILED: {exc}")
                        result = {"error": str(exc)[-500:]}
                    job.runs.setdefault(impl, []).append(result)
                    if "seconds" in result:
                        log(
                            f"[throughput] {job.label:<26} {impl:<12} rep {rep + 1}: "
                            f"{rate(result, job.n):8.1f} msg/s"
                        )
        sink_kind = server.kind
    rows = []
    for job in jobs:
        for impl in IMPLS:
            runs = [r for r in job.runs.get(impl, []) if "seconds" in r]
            if not runs:
                continue
            rates = [rate(r, job.n) for r in runs]
            med = median(rates)
            to_bare = paired_ratios(job.runs.get(impl, []), job.runs.get("bare", []), job.n)
            to_peer = paired_ratios(job.runs.get(impl, []), job.runs.get("mailmerge", []), job.n)
            row: dict[str, Any] = {
                "n": job.n,
                "pdf": job.pdf,
                "connections": job.connections,
                "sink": sink_kind,
                "impl": impl,
                "bytes": job.sizes.get(impl, 0),
                "rates": rates,
                "rate_median": med,
                "spread_pct": spread(rates),
                "ratios_bare": to_bare,
                "ratios_mailmerge": to_peer,
                "ratio_bare": median(to_bare) if to_bare else None,
                "ratio_mailmerge": median(to_peer) if to_peer else None,
            }
            if impl == "mailer":
                for phase in ("plan", "commit", "send"):
                    per = [1000 * r[phase] / job.n for r in runs]
                    row[f"{phase}_ms_per_msg"] = median(per)
                row["peak_rss_mb"] = median([r["peak_rss_mb"] for r in runs])
            rows.append(row)
    return rows


def paired_ratios(mine: list[dict[str, Any]], ref: list[dict[str, Any]], n: int) -> list[float]:
    """Each repetition's rate over the reference's rate in the same repetition (the senders of
    one repetition run back to back, so they share the machine's state of that moment)."""
    return [
        rate(a, n) / rate(b, n)
        for a, b in zip(mine, ref, strict=False)
        if "seconds" in a and "seconds" in b and rate(b, n) > 0
    ]


# --- section 2: the slow server ------------------------------------------------------------------


def slow_server(work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    per_conn = 20 if args.quick else 40
    rows: list[dict[str, Any]] = []
    with sink("aiosmtpd", delay=args.delay) as server:
        log(f"[slow] sink: {server.kind} on 127.0.0.1:{server.port}")
        for conns in args.slow_connections:
            n = per_conn * conns
            job = prepare_job(work / "slow", n, False, server.port, conns, 1)
            for impl in ("bare", "mailer"):
                result = run_impl(impl, job, server.port)
                rows.append(slow_row(impl, conns, n, result))
            if conns == 1 and not args.no_peer:
                result = run_impl("mailmerge", job, server.port)
                rows.append(slow_row("mailmerge", 1, n, result))
    one = {r["impl"]: r for r in rows if r["connections"] == 1}
    peer = one.get("mailmerge")
    for r in rows:
        base = one.get(r["impl"])
        r["scaling"] = r["rate"] / (base["rate"] * r["connections"]) if base else None
        r["ratio_mailmerge"] = r["rate"] / peer["rate"] if peer else None
        if r["impl"] == "mailer" and base:
            r["send_scaling"] = r["send_rate"] / (base["send_rate"] * r["connections"])
    return rows


def slow_row(impl: str, conns: int, n: int, result: dict[str, Any]) -> dict[str, Any]:
    row = {
        "impl": impl,
        "connections": conns,
        "n": n,
        "seconds": result["seconds"],
        "rate": n / result["seconds"],
    }
    if impl == "mailer":
        row["send_rate"] = n / result["send"]
    log(f"[slow] {impl:<10} {conns:>2} connections: {row['rate']:7.1f} msg/s")
    return row


# --- section 3: embargo precision ----------------------------------------------------------------


RELEASE_PRECISION = Path(__file__).resolve().parent / "release_precision.py"


def embargo_precision(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A release to N recipients (1,000) armed by ``mailer release send-due``, no rate limit.

    ``bench/release_precision.py --json`` (the release work's own measurement) does it: for each
    setting (personal mail over 1 and 3 connections, Bcc batches of 100 over 1) a starter project,
    an aiosmtpd server in its process stamping ``time.time()`` at each accepted DATA, the release
    scheduled for a whole second ~9 s ahead and ``send-due`` started as cron starts it. Reported:
    first and last acceptance minus the embargo second (targets 50 ms and 1 s), and how many were
    accepted before it (must be 0).
    """
    repeat = args.embargo_repeat
    n = args.embargo_recipients
    cmd = [
        sys.executable,
        str(RELEASE_PRECISION),
        "--json",
        "--recipients",
        str(n),
        "--repeat",
        str(repeat),
    ]
    log(f"[embargo] {n:,} recipients, {repeat} run(s) per setting ...")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180 * repeat, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"release_precision.py exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    runs: list[dict[str, Any]] = json.loads(proc.stdout)
    settings: list[dict[str, Any]] = []
    for run in runs:
        key = (run["mode"], run["connections"])
        found = next((s for s in settings if (s["mode"], s["connections"]) == key), None)
        if found is None:
            found = {"mode": run["mode"], "connections": run["connections"], "runs": []}
            settings.append(found)
        found["runs"].append(run)
    for s in settings:
        good = [r for r in s["runs"] if r["first_ms"] is not None]
        s.update(
            recipients=n,
            messages=median([r["messages"] for r in s["runs"]]),
            delivered_to=min(r["delivered_to"] for r in s["runs"]),
            early=sum(r["early"] for r in s["runs"]),
            first_ms=median([r["first_ms"] for r in good]) if good else None,
            first_ms_max=max(r["first_ms"] for r in good) if good else None,
            last_ms=median([r["last_ms"] for r in good]) if good else None,
            last_ms_max=max(r["last_ms"] for r in good) if good else None,
            exits=sorted({r["exit"] for r in s["runs"]}),
        )
        log(
            f"[embargo] {s['mode']:<8} {s['connections']} conn: first {fmt(s['first_ms'], '.1f')}"
            f" ms, last {fmt(s['last_ms'], '.1f')} ms, early {s['early']}, "
            f"delivered {s['delivered_to']}/{n}"
        )
    return {"recipients": n, "repeat": repeat, "settings": settings}


# --- section 4: scale ----------------------------------------------------------------------------


def scale(work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for n, pdf in args.scale:
        cfg = make_project(work / f"scale-{n}-{pdf}", ProjectSpec(n, pdf, 25, 1))
        limit = args.memory_limit_mb
        timeout = 120 + n * (0.05 if pdf else 0.02)
        log(f"[scale] {n:,} contacts{' + PDF' if pdf else ''} ...")
        try:
            result = run_json(
                [
                    sys.executable,
                    str(JOBS),
                    "scale",
                    "--config",
                    str(cfg),
                    "--memory-limit-mb",
                    str(limit),
                ],
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            result = {"error": f"over {timeout:.0f} s"}
        result.update(n=n, pdf=pdf)
        log(f"[scale] {n:,}: {result}")
        rows.append(result)
        if not args.keep:
            import shutil

            shutil.rmtree(cfg.parent, ignore_errors=True)
    return rows


def startup(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("mailer")
    repeats = 3 if args.quick else 5
    helps = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True, timeout=60)
        helps.append(time.perf_counter() - start)
    bare_python = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        bare_python.append(time.perf_counter() - start)
    rows = args.status_rows
    cfg = status_project(work / "status", rows)
    statuses = []
    for _ in range(1 if args.quick else 3):
        start = time.perf_counter()
        proc = subprocess.run(
            [str(exe), "-c", str(cfg), "status"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        statuses.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"mailer status failed: {proc.stderr[-2000:]}")
    imports = import_times()
    result = {
        "help_s": median(helps),
        "help_runs": helps,
        "python_s": median(bare_python),
        "status_rows": rows,
        "status_s": median(statuses),
        "status_runs": statuses,
        "importtime_top": imports,
    }
    log(
        f"[startup] --help {result['help_s']:.3f} s, status ({rows:,} rows) "
        f"{result['status_s']:.3f} s"
    )
    return result


def status_project(dest: Path, rows: int) -> Path:
    """A project with *rows* contacts and a journal of *rows* invitations (sent, a few failed
    and in doubt), written through the store's own reserve()."""
    from mailer.config.load import load_config
    from mailer.messages.plan import invitation_spec
    from mailer.store import Reservation, Store

    cfg = make_project(dest, ProjectSpec(rows, False, 25, 1))
    config = load_config(cfg)
    spec = invitation_spec(config)
    with Store(config.store_path) as store:
        store.journal.reserve(
            spec.campaign,
            spec.round,
            [
                Reservation(
                    r["email"],
                    r["name"],
                    f"<bench.{i}@kokkola.example>",
                    f"bench-{i}@kokkola.example",
                    0,
                )
                for i, r in enumerate(contact_rows(rows))
            ],
            FIXED_NOW,
        )
    # the bench shapes the journal directly, with its own connection
    with contextlib.closing(sqlite3.connect(config.store_path)) as conn, conn:
        stamp = FIXED_NOW.isoformat()
        conn.execute("UPDATE messages SET state = 'sent', sent_at = ?, attempts = 1", (stamp,))
        conn.execute(
            "UPDATE messages SET state = 'failed', last_error = '550 5.1.1 no such user'"
            " WHERE id % 200 = 0"
        )
        conn.execute(
            "UPDATE messages SET state = 'in_doubt', last_error = 'connection lost'"
            " WHERE id % 200 = 1"
        )
    return cfg


def import_times(top: int = 12) -> list[tuple[str, float]]:
    """``python -X importtime -c 'import mailer.cli'``: the top-level packages with the largest
    cumulative import time, in ms."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mailer.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    best: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cum_us, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        best[package] = max(best.get(package, 0.0), int(cum_us) / 1000)
    return sorted(best.items(), key=lambda item: -item[1])[:top]


REPLIES = BENCH.parent / "tests" / "data" / "replies"
_CORPUS_IDS = re.compile(
    rb"inv-(\d{4})\.kirjasto@kaupunki\.example|kirjasto-2027-(\d{4})@kaupunki\.example"
)
_B64_BLOCK = re.compile(
    rb"(?im)(^content-transfer-encoding:[ \t]*base64[^\n]*\n(?:[^\r\n]+\r?\n)*?\r?\n)"
    rb"((?:[A-Za-z0-9+/=]+\r?\n)+)"
)
_MESSAGE_ID = re.compile(rb"(?im)^message-id:[^\n]*\n(?:[ \t][^\n]*\n)*")


def write_replies(dest: Path, n: int) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """*n* reply messages made from the corpus in tests/data/replies, as a Maildir in *dest*.

    The corpus (35 messages from real clients: iTIP replies from Outlook, Google, Thunderbird and
    Apple, text answers in fi/sv/en, out-of-office, bounces, opt-outs, broken input) refers to
    31 contacts, their invitation Message-IDs and calendar UIDs. Copy *b* of the corpus refers
    to its own 31 contacts (``local.bB@domain``, Message-ID ``<inv-NNNNN...>``, UID
    ``kirjasto-2027-NNNNN...``), also inside base64 calendar parts, and every message gets a new
    Message-ID of its own, so that nothing is a duplicate. Returns the journal rows to reserve
    (email, Message-ID, UID) and the expected outcome counts (from expected.toml).
    """
    import base64
    import tomllib

    data = tomllib.loads((REPLIES / "expected.toml").read_text(encoding="utf-8"))
    people = {c["n"]: c["email"] for c in data["contact"]}
    per_block = len(people)
    files = sorted(REPLIES.glob("*.eml"))
    blocks = -(-n // len(files))
    for sub in ("cur", "new", "tmp"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    emails = sorted(people.values(), key=len, reverse=True)
    email_re = re.compile(b"|".join(re.escape(e.encode()) for e in emails), re.IGNORECASE)
    lower = {e.lower().encode(): e for e in emails}

    def contact(block: int, email: str) -> str:
        local, domain = email.split("@")
        return f"{local}.b{block}@{domain}"

    def rewrite(text: bytes, block: int) -> bytes:
        def ids(m: re.Match[bytes]) -> bytes:
            if m.group(1):
                k = block * per_block + int(m.group(1))
                return f"inv-{k:05d}.kirjasto@kaupunki.example".encode()
            k = block * per_block + int(m.group(2))
            return f"kirjasto-2027-{k:05d}@kaupunki.example".encode()

        text = _CORPUS_IDS.sub(ids, text)
        return email_re.sub(lambda m: contact(block, lower[m.group(0).lower()]).encode(), text)

    def rewrite_b64(m: re.Match[bytes], block: int) -> bytes:
        lines = m.group(2)
        crlf = b"\r\n" in lines
        try:
            decoded = base64.b64decode(lines)
            decoded.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return m.group(0)  # binary (TNEF, images): left as it is
        changed = rewrite(decoded, block)
        if changed == decoded:
            return m.group(0)
        encoded = base64.b64encode(changed)
        eol = b"\r\n" if crlf else b"\n"
        body = b"".join(encoded[i : i + 76] + eol for i in range(0, len(encoded), 76))
        return m.group(1) + body

    corpus = [(p.name, p.read_bytes()) for p in files]
    count = 0
    for block in range(blocks):
        for index, (name, raw) in enumerate(corpus):
            if count == n:
                break
            text = _B64_BLOCK.sub(lambda m, b=block: rewrite_b64(m, b), raw)  # type: ignore[misc]
            text = rewrite(text, block)
            head, sep, body = text.partition(b"\r\n\r\n" if b"\r\n" in text[:200] else b"\n\n")
            eol = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
            mid = f"Message-ID: <bench-{block:05d}-{index:02d}@replies.example>".encode() + eol
            head += eol
            head = _MESSAGE_ID.sub(lambda _m, mid=mid: mid, head, count=1)  # type: ignore[misc]
            if not _MESSAGE_ID.search(head):
                head = mid + head
            key = f"{block:05d}.{index:02d}.{name.removesuffix('.eml')}"
            rest = sep[len(eol) :] if sep else b""
            (dest / "cur" / f"{key}:2,S").write_bytes(head + rest + body)
            count += 1
    rows = [
        (
            contact(block, email),
            f"<inv-{block * per_block + k:05d}.kirjasto@kaupunki.example>",
            f"kirjasto-2027-{block * per_block + k:05d}@kaupunki.example",
        )
        for block in range(blocks)
        for k, email in sorted(people.items())
    ]
    expected: dict[str, int] = {}
    for i in range(count):
        outcome = data["files"][corpus[i % len(corpus)][0]]["outcome"]
        # the store keeps the planned outcome: a reply superseded by a later one is "applied"
        outcome = "applied" if outcome == "superseded" else outcome
        expected[outcome] = expected.get(outcome, 0) + 1
    return rows, expected


def rsvp_import(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``mailer rsvp import`` of N reply messages (10,000; target < 10 s).

    A project made by ``mailer.project.write_starter`` (through :func:`make_project`), a journal
    of the invitations the replies answer (reserved through the store, marked sent), N replies
    in a Maildir (:func:`write_replies`); the command runs as a user runs it (its wall time,
    start-up included, and its own peak RSS from ``wait4``). The outcome counts are checked
    against the corpus's expected.toml, so that a fast run that misclassified would show.
    """
    from mailer.config.load import load_config
    from mailer.messages.plan import invitation_spec
    from mailer.store import Reservation, Store

    n = args.rsvp_n
    dest = work / "rsvp"
    maildir = dest / "Maildir"
    started = time.perf_counter()
    rows, expected = write_replies(maildir, n)
    cfg = make_project(dest / "project", ProjectSpec(len(rows), False, 25, 1))
    config = load_config(cfg)
    spec = invitation_spec(config)
    with Store(config.store_path) as store:
        store.journal.reserve(
            spec.campaign,
            spec.round,
            [Reservation(email, email.split("@")[0], mid, uid, 0) for email, mid, uid in rows],
            FIXED_NOW,
        )
    with contextlib.closing(sqlite3.connect(config.store_path)) as conn, conn:
        conn.execute(
            "UPDATE messages SET state = 'sent', sent_at = ?, attempts = 1",
            (FIXED_NOW.isoformat(),),
        )
    log(
        f"[rsvp] {n:,} replies and a {len(rows):,}-row journal written in "
        f"{time.perf_counter() - started:.1f} s; importing ..."
    )
    exe = Path(sys.executable).with_name("mailer")
    out = dest / "import.out"
    with out.open("wb") as handle:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(exe), "-c", str(cfg), "rsvp", "import", str(maildir)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    tail = out.read_text(encoding="utf-8", errors="replace")[-1500:]
    if proc.returncode != 0:
        raise RuntimeError(f"mailer rsvp import exited {proc.returncode}:\n{tail}")
    with sqlite3.connect(config.store_path) as conn:
        got = dict(conn.execute("SELECT outcome, count(*) FROM rsvp_messages GROUP BY outcome"))
    result = {
        "messages": n,
        "journal_rows": len(rows),
        "seconds": seconds,
        "per_message_ms": 1000 * seconds / n,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "outcomes": got,
        "expected_outcomes": expected,
        "outcomes_as_expected": got == expected,
        "output_tail": tail[-400:],
    }
    log(
        f"[rsvp] import of {n:,}: {seconds:.2f} s, {result['peak_rss_mb']:.0f} MB, outcomes "
        f"{'as expected' if got == expected else f'{got} (expected {expected})'}"
    )
    return result


# --- section 5: validation -----------------------------------------------------------------------


def validation(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    from bench.validate import validate_run

    report = validate_run(work / "validate", n=args.validate_n)
    log(f"[validate] {report['messages']} messages checked, {len(report['failures'])} failures")
    return report


# --- tables ------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def tables(result: dict[str, Any]) -> str:
    out = []
    m = result["machine"]
    out.append(
        f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, "
        f"postfix {m['postfix'] or '-'}, aiosmtplib {m['aiosmtplib']}, "
        f"mailmerge {m['mailmerge']}"
    )
    dirty = m.get("uncommitted_in_mailer")
    out.append(f"Code: mailer at {m.get('commit') or '?'}" + (f" plus {dirty}" if dirty else ""))
    out.append(
        f"Command: {result['command']}  ({result['duration_s']:.0f} s; load average "
        f"{result['load_average_start'][0]:.1f} at the start, "
        f"{result['load_average_end'][0]:.1f} at the end)"
    )
    if result.get("throughput"):
        rows = result["throughput"]
        out.append("")
        out.append(
            f"Throughput to {rows[0]['sink']} on 127.0.0.1, "
            f"{rows[0]['connections']} connections (mailmerge: one new connection per "
            "message, as it works); x bare loop / x mailmerge: median over the repetitions of "
            "the rate divided by that sender's rate in the same repetition"
        )
        out.append("")
        out.append(
            "| job | sender | bytes/msg | msg/s (median) | spread | runs | x bare loop "
            "| x mailmerge |"
        )
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            job = f"{r['n']:,} {'+ PDF' if r['pdf'] else 'plain'}"
            out.append(
                f"| {job} | {r['impl']} | {r['bytes']:,.0f} | {r['rate_median']:,.0f} | "
                f"{r['spread_pct']:.0f}% | {len(r['rates'])} | {fmt(r['ratio_bare'])} | "
                f"{fmt(r['ratio_mailmerge'])} |"
            )
        phases = [r for r in rows if r["impl"] == "mailer"]
        if phases:
            out.append("")
            out.append(
                "mailer's phases, ms per message (median): plan = load + render + "
                "calendar + MIME; commit = journal rows; send = journal transitions + SMTP"
            )
            out.append("")
            out.append("| job | plan | commit | send | peak RSS MB |")
            out.append("|---|---:|---:|---:|---:|")
            for r in phases:
                job = f"{r['n']:,} {'+ PDF' if r['pdf'] else 'plain'}"
                out.append(
                    f"| {job} | {r['plan_ms_per_msg']:.2f} | {r['commit_ms_per_msg']:.3f} "
                    f"| {r['send_ms_per_msg']:.2f} | {r['peak_rss_mb']:.0f} |"
                )
    if result.get("slow_server"):
        out.append("")
        out.append(f"Slow server: aiosmtpd answering DATA after {result['delay_ms']:.0f} ms")
        out.append("")
        out.append(
            "| sender | connections | messages | msg/s | scaling vs 1 x C | "
            "send phase scaling | x mailmerge |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in result["slow_server"]:
            out.append(
                f"| {r['impl']} | {r['connections']} | {r['n']} | {r['rate']:.1f} | "
                f"{fmt(r.get('scaling'))} | {fmt(r.get('send_scaling'))} | "
                f"{fmt(r.get('ratio_mailmerge'))} |"
            )
    if result.get("scale"):
        out.append("")
        out.append("Scale: planning (load, render, calendar, MIME) and journal rows, no sending")
        out.append("")
        out.append("| contacts | PDF | seconds | ms/contact | peak RSS MB |")
        out.append("|---:|---|---:|---:|---:|")
        for r in result["scale"]:
            if "error" in r:
                out.append(f"| {r['n']:,} | {'yes' if r['pdf'] else 'no'} | {r['error']} | | |")
                continue
            out.append(
                f"| {r['n']:,} | {'yes' if r['pdf'] else 'no'} | {r['seconds']:.1f} | "
                f"{1000 * r['seconds'] / r['n']:.2f} | {r['peak_rss_mb']:.0f} |"
            )
    if result.get("startup"):
        s = result["startup"]
        out.append("")
        out.append(
            f"Start-up: `mailer --help` {s['help_s']:.3f} s (bare `python -c pass` "
            f"{s['python_s']:.3f} s); `mailer status` with a {s['status_rows']:,}-row "
            f"journal {s['status_s']:.3f} s"
        )
    if result.get("embargo", {}).get("settings"):
        e = result["embargo"]
        out.append("")
        out.append(
            f"Embargo precision: release to {e['recipients']:,} recipients through "
            f"`mailer release send-due`, no rate limit, bench/stamp_sink.py stamping each "
            f"accepted DATA; "
            f"{e['repeat']} run(s) per setting (median, max)"
        )
        out.append("")
        out.append(
            "| mode | connections | messages | delivered to | before embargo | "
            "first after (ms) | last after (ms) |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for s in e["settings"]:
            out.append(
                f"| {s['mode']} | {s['connections']} | {s['messages']:,.0f} | "
                f"{s['delivered_to']:,} | {s['early']} | {fmt(s['first_ms'], '.1f')} "
                f"(max {fmt(s['first_ms_max'], '.1f')}) | {fmt(s['last_ms'], '.0f')} "
                f"(max {fmt(s['last_ms_max'], '.0f')}) |"
            )
    if result.get("rsvp_import", {}).get("seconds"):
        r = result["rsvp_import"]
        out.append("")
        out.append(
            f"`mailer rsvp import` of {r['messages']:,} replies (Maildir, made from the "
            f"tests/data/replies corpus; {r['journal_rows']:,}-row journal): "
            f"{r['seconds']:.2f} s ({r['per_message_ms']:.2f} ms per message), peak RSS "
            f"{r['peak_rss_mb']:.0f} MB; outcomes "
            + ("as expected" if r["outcomes_as_expected"] else "NOT as expected")
            + f": {r['outcomes']}"
        )
    if result.get("validation"):
        v = result["validation"]
        out.append("")
        out.append(
            f"Validation: {v['messages']} messages received by aiosmtpd parsed and checked "
            f"({v['checks']} checks): {'OK' if not v['failures'] else 'FAILED'}"
        )
        for failure in v["failures"][:10]:
            out.append(f"  - {failure}")
        if v.get("notes"):
            out.append(f"  {len(v['notes'])} notes, e.g. {v['notes'][0]}")
    if result.get("targets"):
        out.append("")
        out.append("Targets (issue 7)")
        out.append("")
        out.append("| target | measured | met |")
        out.append("|---|---|---|")
        for t in result["targets"]:
            out.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(out)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    rows = result.get("throughput", [])
    for r in rows:
        if r["impl"] != "mailer":
            continue
        job = f"{r['n']:,} {'+ PDF' if r['pdf'] else 'plain'}"
        if r["ratio_bare"] is not None:
            found.append(
                {
                    "target": f"{job}: mailer >= 0.67 x bare loop",
                    "measured": f"{r['ratio_bare']:.2f}",
                    "met": r["ratio_bare"] >= 2 / 3,
                }
            )
        want = 3.0 if r["pdf"] else 6.0
        if r["ratio_mailmerge"] is not None:
            found.append(
                {
                    "target": f"{job}: mailer >= {want:.0f} x mailmerge",
                    "measured": f"{r['ratio_mailmerge']:.2f}",
                    "met": r["ratio_mailmerge"] >= want,
                }
            )
    for r in result.get("slow_server", []):
        if r["impl"] == "mailer" and r["connections"] > 1:
            found.append(
                {
                    "target": f"slow server, {r['connections']} connections: >= 0.8 x linear",
                    "measured": f"{r['scaling']:.2f} (send phase {fmt(r.get('send_scaling'))})",
                    "met": (r["scaling"] or 0) >= 0.8,
                }
            )
    for r in result.get("scale", []):
        if r["n"] == 100_000 and "peak_rss_mb" in r:
            budget = 150 + (0.2 if r["pdf"] else 0)
            found.append(
                {
                    "target": f"100,000 contacts{' + PDF' if r['pdf'] else ''}: "
                    f"peak RSS < {budget:.0f} MB",
                    "measured": f"{r['peak_rss_mb']:.0f} MB",
                    "met": r["peak_rss_mb"] < budget,
                }
            )
    e = result.get("embargo", {})
    for st in e.get("settings", []):
        first, last = st["first_ms_max"], st["last_ms_max"]
        found.append(
            {
                "target": f"release to {e['recipients']:,} ({st['mode']}, "
                f"{st['connections']} conn): all delivered, none early, first <= 50 ms, "
                "last <= 1 s (worst run)",
                "measured": f"{st['delivered_to']:,} delivered, {st['early']} early, first "
                f"{fmt(first, '.1f')} ms, last {fmt(last, '.0f')} ms",
                "met": first is not None
                and last is not None
                and st["delivered_to"] == e["recipients"]
                and st["early"] == 0
                and first <= 50
                and last <= 1000,
            }
        )
    r = result.get("rsvp_import", {})
    if r.get("seconds"):
        found.append(
            {
                "target": f"rsvp import of {r['messages']:,} < 10 s",
                "measured": f"{r['seconds']:.2f} s"
                + ("" if r["outcomes_as_expected"] else " (outcomes NOT as expected)"),
                "met": r["seconds"] < 10 and r["outcomes_as_expected"],
            }
        )
    s = result.get("startup")
    if s:
        found.append(
            {
                "target": "mailer --help < 0.3 s",
                "measured": f"{s['help_s']:.3f} s",
                "met": s["help_s"] < 0.3,
            }
        )
    return found


# --- main --------------------------------------------------------------------------------------


def parse_scale(text: str) -> list[tuple[int, bool]]:
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        pdf = item.endswith("+pdf")
        out.append((int(item.removesuffix("+pdf").replace("_", "")), pdf))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="500-message jobs, 2 repetitions, scale up to 10,000 contacts",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=3,
        help="SMTP connections of mailer, the bare loop and smtp-source (3)",
    )
    parser.add_argument("--repeat", type=int, help="repetitions of the 1,000-message jobs")
    parser.add_argument("--repeat-large", type=int, help="repetitions of the 10,000 jobs")
    parser.add_argument("--sizes", help="comma-separated job sizes (default 1000,10000)")
    parser.add_argument("--delay", type=float, default=0.05, help="slow server DATA delay (s)")
    parser.add_argument("--scale", help="e.g. 1000,10000,100000,1000+pdf")
    parser.add_argument("--status-rows", type=int, default=100_000)
    parser.add_argument(
        "--memory-limit-mb", type=int, default=12_000, help="address-space limit of each scale job"
    )
    parser.add_argument("--validate-n", type=int, default=120)
    parser.add_argument("--rsvp-n", type=int, default=10_000, help="replies for rsvp import")
    parser.add_argument(
        "--embargo-recipients", type=int, default=1000, help="recipients of the release"
    )
    parser.add_argument("--embargo-repeat", type=int, help="runs of each release setting (1/2)")
    parser.add_argument(
        "--only",
        help="comma-separated sections: throughput,slow,embargo,scale,startup,rsvp,validate",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip mailmerge")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = [int(s) for s in (args.sizes or ("500" if quick else "1000,10000")).split(",")]
    args.repeat = args.repeat or (2 if quick else 3)
    args.repeat_large = args.repeat_large or 1
    args.scale = parse_scale(
        args.scale or ("1000,10000" if quick else "1000,10000,100000,1000+pdf,10000+pdf")
    )
    args.slow_connections = [1, 3, 10]
    args.embargo_repeat = args.embargo_repeat or (1 if quick else 2)
    if quick:
        args.status_rows = min(args.status_rows, 100_000)
        args.validate_n = min(args.validate_n, 60)
    sections = (args.only or "throughput,slow,embargo,scale,startup,rsvp,validate").split(",")

    try:
        import mailmerge  # noqa: F401
    except ImportError:
        log(
            "mailmerge is not installed here: run bash bench/setup.sh, then "
            "bench/.venv/bin/python bench/run.py"
        )
        return 2

    started = time.perf_counter()
    command = "bench/.venv/bin/python bench/run.py" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    result: dict[str, Any] = {
        "command": command.strip(),
        "mode": "quick" if quick else "full",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "connections": args.connections,
        "delay_ms": args.delay * 1000,
        "load_average_start": os.getloadavg(),
    }
    steps: list[tuple[str, str, Callable[[Path, argparse.Namespace], Any]]] = [
        ("throughput", "throughput", throughput),
        ("slow", "slow_server", slow_server),
        ("embargo", "embargo", embargo_precision),
        ("scale", "scale", scale),
        ("startup", "startup", startup),
        ("rsvp", "rsvp_import", rsvp_import),
        ("validate", "validation", validation),
    ]
    with tempfile.TemporaryDirectory(prefix="mailer-bench-") as tmp:
        work = Path(tmp)
        for name, key, fn in steps:
            if name in sections:
                result[key] = fn(work, args)
        if args.keep:
            kept = BENCH / "results" / "work"
            import shutil

            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(work, kept)
    result["duration_s"] = time.perf_counter() - started
    result["load_average_end"] = os.getloadavg()
    result["targets"] = targets(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(tables(result))
    print(f"\nwrote {os.path.relpath(args.out)}")
    failed = result.get("validation", {}).get("failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
