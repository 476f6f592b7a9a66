"""Where mailer's per-message time goes today.

    bench/.venv/bin/python bench/profile_mailer.py [--n 1000] [--pyinstrument]

(Not named ``profile.py``: that would shadow the standard library module that cProfile imports.)

1. Stages without a profiler (timers around the real functions, called by the real
   ``campaign.build_plan``): Jinja2 rendering (``Renderer.render``), the calendar object
   (``ics.build_calendar``), MIME (``messages.build_message``, of which flattening is
   ``Message.as_bytes``), and the rest of the plan; then the journal: ``reserve`` per row and the
   exactly-once transitions (``claim``, ``mark_transmitting``, ``mark_sent``: one transaction
   each) per message; then the transport alone (aiosmtplib, one connection, pre-built bytes).
2. cProfile of the whole job in one process (plan, commit, send over SMTP to smtp-sink),
   internal time grouped by area (email package, icalendar, Jinja2, Babel, SQLite, aiosmtplib +
   asyncio, mailer itself), and the top functions.
3. ``mailer --help``: wall time and ``python -X importtime`` of ``mailer.cli``.

Prints Markdown tables and writes results/profile.json (and results/pyinstrument-*.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import email.message
import functools
import json
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    FIXED_NOW,
    RESULTS,
    SENDER,
    ProjectSpec,
    machine,
    make_project,
    median,
    reset_journal,
)
from bench.sinks import sink


class Stopwatch:
    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed


@contextmanager
def patched(owner: Any, attr: str, replacement: Any) -> Iterator[None]:
    original = getattr(owner, attr)
    setattr(owner, attr, replacement)
    try:
        yield
    finally:
        setattr(owner, attr, original)


def stage_times(cfg: Path, repeats: int) -> dict[str, float]:
    """Per-message milliseconds of each stage (median over *repeats* plans)."""
    import mailer.messages.plan as campaign
    from mailer.contacts import loading
    from mailer.messages.render import Renderer

    project = loading.load_project(cfg)
    contacts = loading.recipients(project, tag=None, only=None)
    spec = campaign.invitation_spec(project.config)
    campaign.build_plan(project.config, contacts[:3], spec, now=FIXED_NOW, store=None)  # warm
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        sw = Stopwatch()
        with contextlib.ExitStack() as stack:
            # The calendar: per-message icalendar build before f067e82, a per-round template
            # rendered per message since.
            if hasattr(campaign, "build_calendar"):
                calendar = sw.wrap("calendar", campaign.build_calendar)
                stack.enter_context(patched(campaign, "build_calendar", calendar))
            else:
                import mailer.messages.ics as ics

                render = sw.wrap("calendar", ics.CalendarTemplate.render)
                stack.enter_context(patched(ics.CalendarTemplate, "render", render))
            # MIME: build_message until the spool, build_segments (pieces, shared parts once) since
            mime_name = "build_segments" if hasattr(campaign, "build_segments") else "build_message"
            mime = sw.wrap("mime", getattr(campaign, mime_name))
            stack.enter_context(patched(campaign, mime_name, mime))
            stack.enter_context(patched(Renderer, "render", sw.wrap("render", Renderer.render)))
            flatten = sw.wrap("flatten", email.message.Message.as_bytes)
            stack.enter_context(patched(email.message.Message, "as_bytes", flatten))
            start = time.perf_counter()
            campaign.build_plan(project.config, contacts, spec, now=FIXED_NOW, store=None)
            total = time.perf_counter() - start
        n = len(contacts)
        run = {k: 1000 * v / n for k, v in sw.total.items()}
        for key in ("render", "calendar", "mime", "flatten"):
            run.setdefault(key, 0.0)
        run["mime_build"] = run["mime"] - run["flatten"]
        run["plan_total"] = 1000 * total / n
        run["plan_other"] = run["plan_total"] - run["render"] - run["calendar"] - run["mime"]
        runs.append(run)
    return {k: median([r[k] for r in runs]) for k in runs[0]}


def journal_times(cfg: Path) -> dict[str, float]:
    """Per-message milliseconds of the journal: reserve (one transaction for all rows) and the
    three transitions of the exactly-once protocol (one transaction each)."""
    from mailer.contacts import loading
    from mailer.messages.plan import invitation_spec, new_message_id, new_uid
    from mailer.store import Reservation, Store, process_owner

    reset_journal(cfg)
    project = loading.load_project(cfg)
    config = project.config
    contacts = loading.recipients(project, tag=None, only=None)
    spec = invitation_spec(config)
    rows = [
        Reservation(c.email, c.name, new_message_id(config), new_uid(config), 0) for c in contacts
    ]
    n = len(rows)
    owner = process_owner()
    out: dict[str, float] = {}
    with Store(config.store_path) as store:
        j = store.journal
        start = time.perf_counter()
        j.reserve(spec.campaign, spec.round, rows, FIXED_NOW)
        out["reserve"] = 1000 * (time.perf_counter() - start) / n
        smtp_log = store.smtp_log
        stamps = {"claim": 0.0, "transmitting": 0.0, "sent": 0.0, "smtp_log": 0.0}
        for r in rows:
            now = dt.datetime.now(dt.UTC)
            t0 = time.perf_counter()
            j.claim(r.message_id, owner, now)
            t1 = time.perf_counter()
            j.mark_transmitting(r.message_id, now)
            t2 = time.perf_counter()
            smtp_log.record(r.message_id, 1, now)  # the daily cap's log (one row a message)
            t3a = time.perf_counter()
            j.mark_sent(r.message_id, now, "250 2.0.0 Ok: queued as ABC")
            t3 = time.perf_counter()
            stamps["claim"] += t1 - t0
            stamps["transmitting"] += t2 - t1
            stamps["smtp_log"] += t3a - t2
            stamps["sent"] += t3 - t3a
        for k, v in stamps.items():
            out[k] = 1000 * v / n
        if hasattr(j, "commit_marks"):  # the group commit the transport uses since 3167173
            from mailer.models import State
            from mailer.store.marks import Outcome, Submission

            j.requeue(spec.campaign, spec.round, [State.SENT], FIXED_NOW)
            ids = [r.message_id for r in rows]
            t0 = time.perf_counter()
            for i in range(0, n, 16):
                j.claim_many(ids[i : i + 16], owner, dt.datetime.now(dt.UTC))
            t1 = time.perf_counter()
            outcomes: list[Outcome] = []
            submissions: list[Submission] = []
            for mid in ids:
                now = dt.datetime.now(dt.UTC)
                j.commit_marks(transmitting=(mid, now), outcomes=outcomes, submissions=submissions)
                outcomes = [Outcome(mid, State.SENT, "250 2.0.0 Ok: queued as ABC", now)]
                submissions = [Submission(mid, 1, now)]
            j.commit_marks(outcomes=outcomes, submissions=submissions)
            t2 = time.perf_counter()
            out["grouped_claims"] = 1000 * (t1 - t0) / n
            out["grouped_marks"] = 1000 * (t2 - t1) / n
    out["transitions"] = out["claim"] + out["transmitting"] + out["smtp_log"] + out["sent"]
    if "grouped_marks" in out:
        out["grouped"] = out["grouped_claims"] + out["grouped_marks"]
    reset_journal(cfg)
    return out


async def _transport(port: int, data: bytes, n: int) -> float:
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
    await client.connect()
    start = time.perf_counter()
    for i in range(n):
        await client.mail(SENDER)
        await client.rcpt(f"journalist{i}@bench.example")
        await client.data(data)
    seconds = time.perf_counter() - start
    await client.quit()
    return 1000 * seconds / n


def transport_time(port: int, data: bytes, n: int) -> float:
    return asyncio.run(_transport(port, data, n))


AREAS = (
    ("email package", ("/email/",)),
    ("icalendar", ("/icalendar/",)),
    ("jinja2 + markupsafe", ("/jinja2/", "/markupsafe/")),
    ("babel", ("/babel/",)),
    ("aiosmtplib + asyncio", ("/aiosmtplib/", "/asyncio/", "selectors", "_overlapped")),
    ("sqlite3 (journal)", ("sqlite3", "'execute'", "'executemany'", "'commit'")),
    ("mailer", ("/mailer/",)),
)


def area_of(key: tuple[str, int, str]) -> str:
    filename, _, func = key
    text = f"{filename} {func!r}"
    if "sqlite3.Connection" in func or "sqlite3.Cursor" in func:
        return "sqlite3 (journal)"
    if "socket" in func or "'send'" in text or "'recv'" in text or "select.epoll" in func:
        return "aiosmtplib + asyncio"
    for name, needles in AREAS:
        if any(needle in text for needle in needles):
            return name
    return "other (stdlib)"


def caller_area(caller: tuple[str, int, str], callee: tuple[str, int, str]) -> str:
    if caller[0] == "~":
        return area_of(callee)
    return area_of(caller)


def profile_job(cfg: Path, out_prefix: str, *, pyinstrument: bool) -> dict[str, Any]:
    """cProfile of the whole mailer job in this process; internal time grouped by area."""
    from mailer.clock import SystemClock
    from mailer.contacts import loading
    from mailer.invitations import rounds
    from mailer.messages.plan import invitation_spec

    reset_journal(cfg)

    def job() -> int:
        clock = SystemClock()
        project = loading.load_project(cfg)
        with loading.open_store(project.config) as store:
            prepared = rounds.prepare(
                project, invitation_spec(project.config), store, now=clock.now(), suppressed=()
            )
            plan = rounds.commit(project, prepared, store, now=clock.now())
            report = rounds.send(project, plan, store, clock=clock, progress=None, password=None)
        return report.sent

    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    sent = job()
    prof.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    by_area: dict[str, float] = defaultdict(float)
    total = 0.0
    for key, (_cc, _nc, tt, _ct, callers) in raw.items():
        total += tt
        own = area_of(key)
        if key[0] != "~" or not callers or own in ("sqlite3 (journal)", "aiosmtplib + asyncio"):
            by_area[own] += tt
            continue
        # A builtin (re.sub, str.join, socket.send, ...) counts for the areas that called it,
        # in proportion to the time spent in it from each caller.
        shares = {caller: vals[3] for caller, vals in callers.items()}
        whole = sum(shares.values()) or 1.0
        for caller, part in shares.items():
            by_area[caller_area(caller, key)] += tt * part / whole
    top = sorted(raw.items(), key=lambda kv: -kv[1][2])[:15]
    cumulative = {}
    for key, (_cc, _nc, _tt, ct, _callers) in raw.items():
        filename, _line, func = key
        for wanted in (
            "build_message",
            "build_calendar",
            "render",
            "as_bytes",
            "claim",
            "mark_transmitting",
            "mark_sent",
            "reserve",
            "transact",
        ):
            if func == wanted and ("/mailer/" in filename or "email/message" in filename):
                cumulative[f"{func} ({Path(filename).name})"] = ct
    result: dict[str, Any] = {
        "messages": sent,
        "wall_s_under_profiler": wall,
        "areas_pct": {k: 100 * v / total for k, v in sorted(by_area.items(), key=lambda x: -x[1])},
        "cumulative_ms_per_msg": {k: 1000 * v / max(sent, 1) for k, v in cumulative.items()},
        "top": [
            {
                "function": f"{Path(k[0]).name}:{k[1]}({k[2]})",
                "calls": v[1],
                "tottime_s": v[2],
                "cumtime_s": v[3],
            }
            for k, v in top
        ],
    }
    if pyinstrument:
        from pyinstrument import Profiler

        reset_journal(cfg)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        job()
        profiler.stop()
        path = RESULTS / f"pyinstrument-{out_prefix}.txt"
        path.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
        result["pyinstrument"] = str(path.relative_to(RESULTS.parent.parent))
    reset_journal(cfg)
    return result


def startup() -> dict[str, Any]:
    exe = Path(sys.executable).with_name("mailer")
    walls = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
    python = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        python.append(time.perf_counter() - start)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mailer.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    best: dict[str, float] = {}
    total = 0.0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cum_us, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        best[package] = max(best.get(package, 0.0), int(cum_us) / 1000)
        if name.strip() == "mailer.cli":
            total = int(cum_us) / 1000
    top = sorted(((k, v) for k, v in best.items() if k != "mailer"), key=lambda kv: -kv[1])[:10]
    return {
        "help_s": median(walls),
        "python_s": median(python),
        "import_mailer_cli_ms": total,
        "import_top_ms": top,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="contacts per job (1000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "profile.json")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "command": "bench/.venv/bin/python bench/profile_mailer.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "n": args.n,
    }
    with tempfile.TemporaryDirectory(prefix="mailer-profile-") as tmp, sink("fast") as server:
        work = Path(tmp)
        for pdf in (False, True):
            key = "pdf" if pdf else "plain"
            print(f"[profile] {key}: stages", file=sys.stderr, flush=True)
            cfg = make_project(work / key, ProjectSpec(args.n, pdf, server.port, 1))
            stages = stage_times(cfg, args.repeat)
            journal = journal_times(cfg)
            from mailer.contacts import loading
            from mailer.messages.plan import build_plan, invitation_spec

            project = loading.load_project(cfg)
            one = loading.recipients(project, tag=None, only=None)[:1]
            data = (
                build_plan(
                    project.config, one, invitation_spec(project.config), now=FIXED_NOW, store=None
                )
                .items[0]
                .data
            )
            transport = median(
                [
                    transport_time(server.port, data, 300 if pdf else 1000)
                    for _ in range(args.repeat)
                ]
            )
            print(f"[profile] {key}: cProfile of the whole job", file=sys.stderr, flush=True)
            prof = profile_job(cfg, key, pyinstrument=args.pyinstrument)
            result[key] = {
                "bytes": len(data),
                "stages_ms": stages,
                "journal_ms": journal,
                "transport_ms": transport,
                "cprofile": prof,
            }
    result["startup"] = startup()
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(report(result))
    return 0


def report(result: dict[str, Any]) -> str:
    out = []
    m = result["machine"]
    out.append(f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}")
    out.append(f"Command: {result['command']}")
    out.append("")
    out.append(f"Per-message milliseconds, {result['n']:,} contacts, no profiler (median of runs)")
    out.append("")
    out.append("| stage | ~6 KB | with 200 KB PDF |")
    out.append("|---|---:|---:|")
    p, q = result["plain"], result["pdf"]
    rows = [
        ("Jinja2 render (subject, text, HTML)", "stages_ms", "render"),
        ("calendar object", "stages_ms", "calendar"),
        ("MIME: build the message", "stages_ms", "mime_build"),
        ("MIME: flatten with the email package (as_bytes)", "stages_ms", "flatten"),
        ("rest of the plan (contexts, ids, loop)", "stages_ms", "plan_other"),
        ("**plan total**", "stages_ms", "plan_total"),
        ("journal: reserve (one transaction, per row)", "journal_ms", "reserve"),
        ("journal: claim", "journal_ms", "claim"),
        ("journal: transmitting", "journal_ms", "transmitting"),
        ("smtp log row (daily cap)", "journal_ms", "smtp_log"),
        ("journal: sent", "journal_ms", "sent"),
        ("**journal: those four transactions**", "journal_ms", "transitions"),
        ("**journal as sent: 16 claims at a time + one group commit**", "journal_ms", "grouped"),
    ]
    for label, group, key in rows:
        out.append(f"| {label} | {p[group][key]:.3f} | {q[group][key]:.3f} |")
    out.append(
        f"| transport alone (aiosmtplib, 1 connection, pre-built bytes) | "
        f"{p['transport_ms']:.3f} | {q['transport_ms']:.3f} |"
    )
    out.append("")
    out.append(
        "cProfile of the whole job (plan + commit + send to smtp-sink, 1 connection): "
        "share of internal time by area"
    )
    out.append("")
    areas = sorted(
        set(p["cprofile"]["areas_pct"]) | set(q["cprofile"]["areas_pct"]),
        key=lambda a: -p["cprofile"]["areas_pct"].get(a, 0),
    )
    out.append("| area | ~6 KB | with PDF |")
    out.append("|---|---:|---:|")
    for a in areas:
        out.append(
            f"| {a} | {p['cprofile']['areas_pct'].get(a, 0):.1f}% | "
            f"{q['cprofile']['areas_pct'].get(a, 0):.1f}% |"
        )
    for key, label in (("plain", "~6 KB"), ("pdf", "with PDF")):
        out.append("")
        out.append(f"Top functions by internal time ({label})")
        out.append("")
        out.append("| function | calls | tottime s | cumtime s |")
        out.append("|---|---:|---:|---:|")
        for t in result[key]["cprofile"]["top"][:12]:
            out.append(
                f"| `{t['function']}` | {t['calls']:,} | {t['tottime_s']:.3f} | "
                f"{t['cumtime_s']:.3f} |"
            )
    s = result["startup"]
    out.append("")
    out.append(
        f"`mailer --help`: {s['help_s']:.3f} s wall (python -c pass: {s['python_s']:.3f} s);"
        f" import mailer.cli {s['import_mailer_cli_ms']:.0f} ms; heaviest packages: "
        + ", ".join(f"{k} {v:.0f} ms" for k, v in s["import_top_ms"])
    )
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
