"""Shared helpers of the benchmark suite: projects, contacts, the 200 KB PDF, ports, machine facts.

Everything here runs in the bench venv (``bench/.venv``, made by ``bench/setup.sh``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LOOPBACK = "127.0.0.1"
SENDER = "viestinta@kokkola.example"
PDF_NAME = "programme.pdf"
PDF_SIZE = 200 * 1024
FIXED_NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)

# Names chosen to exercise folding and encoding: non-ASCII letters in all three languages, long
# double-barrelled surnames that push "To:" over 78 characters, quotes and commas.
_FIRST = (
    ("fi", "Päivi"),
    ("fi", "Jyrki"),
    ("fi", "Anna-Kaisa"),
    ("fi", "Ülle"),
    ("sv", "Åsa"),
    ("sv", "Jörgen"),
    ("sv", "Mikael"),
    ("en", "Sarah"),
    ("en", "Zoë"),
    ("en", "José"),
)
_LAST = (
    "Mäki-Jaakkola",
    "Hyvönen",
    "Länsimäki",
    "Sjöholm",
    "Byström",
    "Björklund",
    "Okafor",
    "Äijälä-Väätäinen-Östergård-Kääriäinen",
    "O'Brien, Jr.",
    "Núñez García",
)
_OUTLETS = (
    "Keskipohjanmaa",
    "Yle Keski-Pohjanmaa",
    "Teollisuusuutiset",
    "Österbottens Tidning",
    "Yle Österbotten",
    "Nordisk Energi",
    "Battery Insider",
    "Helsingin Sanomat",
    "Hufvudstadsbladet",
    "Kauppalehti",
)


def _ascii(text: str) -> str:
    table = str.maketrans("äöåüëéóúíñÄÖÅÜËÉÓÚÍÑ", "aoaueeouinAOAUEEOUIN")
    slug = re.sub(r"[^a-z0-9-]", "", text.translate(table).lower().replace(" ", "-"))
    return re.sub(r"-+", "-", slug).strip("-")


def contact_rows(n: int, *, seed: int = 7) -> Iterator[dict[str, str]]:
    """*n* distinct journalists with non-ASCII names in fi, sv and en (deterministic)."""
    rng = random.Random(seed)
    for i in range(n):
        lang, first = _FIRST[i % len(_FIRST)]
        last = _LAST[(i // len(_FIRST) + rng.randrange(3)) % len(_LAST)]
        outlet = _OUTLETS[i % len(_OUTLETS)]
        email = f"{_ascii(first)}.{_ascii(last)}.{i}@{_ascii(outlet)}.example"
        yield {
            "email": email,
            "name": f"{first} {last}",
            "outlet": outlet,
            "language": lang,
            "tags": "local|trusted" if i % 3 == 0 else "national|trade",
            "first_name": first,
        }


def write_contacts(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        fields = ["email", "name", "outlet", "language", "tags", "first_name"]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(contact_rows(n))


def pdf_200k(size: int = PDF_SIZE, *, seed: int = 11) -> bytes:
    """A valid one-page PDF of *size* bytes: the page plus an incompressible embedded stream."""
    rng = random.Random(seed)
    page = b"BT /F1 18 Tf 56 770 Td (Loppuseminaarin ohjelma - benchmark) Tj ET\n"
    head = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(page) + page + b"endstream",
    ]

    def assemble(filler: int) -> bytes:
        blob = rng_bytes[:filler]
        objects = [*head, b"<< /Length %d >>\nstream\n" % len(blob) + blob + b"\nendstream"]
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1,
            xref,
        )
        return bytes(out)

    rng_bytes = rng.randbytes(size)
    overhead = len(assemble(0))
    return assemble(max(0, size - overhead - 8))  # the length digits can grow by a few bytes


@dataclass(frozen=True)
class ProjectSpec:
    n: int
    pdf: bool
    port: int
    connections: int


def make_project(dest: Path, spec: ProjectSpec) -> Path:
    """A starter project (``mailer.project.starter.write_starter``) with *n* generated contacts,
    sending over plain SMTP to 127.0.0.1:*port*; returns the config path."""
    import tomllib

    import tomli_w

    from mailer.project.starter import write_starter

    if dest.exists():
        shutil.rmtree(dest)
    write_starter(dest, now=FIXED_NOW)
    (dest / "contacts.csv").unlink()
    write_contacts(dest / "contacts.csv", spec.n)
    (dest / PDF_NAME).write_bytes(pdf_200k())
    cfg_path = dest / "config.toml"
    cfg = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["invitation"]["attachments"] = [PDF_NAME] if spec.pdf else []
    cfg["transport"] = {"kind": "smtp", "outbox_dir": "outbox"}
    cfg["smtp"] = {
        "host": LOOPBACK,
        "port": spec.port,
        "security": "none",
        "connections": spec.connections,
        "rate_per_minute": 0,
        "daily_cap": 0,
        "timeout_seconds": 60.0,
        "max_attempts": 2,
        "retry_initial_seconds": 0.1,
        "retry_max_seconds": 0.5,
    }
    cfg_path.write_text(tomli_w.dumps(cfg, multiline_strings=True), encoding="utf-8")
    return cfg_path


def reset_journal(cfg_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{cfg_path.parent / 'mailer.db'}{suffix}").unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
                sock.recv(512)  # the greeting
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port} after {timeout:.0f} s")


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    smtp_sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    postfix = ""
    if Path(smtp_sink).exists():
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", "postfix"],
                capture_output=True,
                text=True,
                check=False,
            )
            postfix = out.stdout.strip()
        except OSError:
            postfix = ""
    versions = {}
    for dist in ("aiosmtplib", "aiosmtpd", "mailmerge", "jinja2", "icalendar"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = "-"
    return {
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_in_mailer": _git("status", "--porcelain", "--", "mailer").replace("\n", "; "),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "os": platform.platform(),
        "postfix": postfix,
        **versions,
    }


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> float:
    """(max - min) / median, in percent."""
    if len(values) < 2:
        return 0.0
    mid = statistics.median(values)
    return 100.0 * (max(values) - min(values)) / mid if mid else 0.0


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bench_python() -> str:
    return sys.executable


@contextmanager
def timer() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def machine_line(m: dict[str, str]) -> str:
    """One Markdown line naming the machine of a run (from :func:`machine`)."""
    return (
        f"{m.get('cpu') or 'unknown CPU'}, `nproc` {m.get('nproc')}, Python {m.get('python')}, "
        f"Postfix {m.get('postfix') or '-'}, aiosmtplib {m.get('aiosmtplib')}, "
        f"mailmerge {m.get('mailmerge')}; commit {m.get('commit')}"
        + (
            f" with uncommitted `mailer/` files ({m['uncommitted_in_mailer']})"
            if m.get("uncommitted_in_mailer")
            else ""
        )
    )


DOCS_PAGE = ROOT / "docs" / "benchmarks.md"


def write_docs_block(name: str, markdown: str, page: Path = DOCS_PAGE) -> None:
    """Replace what stands between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in *page*
    (the generated tables of one bench script) with *markdown*."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = page.read_text(encoding="utf-8")
    head, _, rest = text.partition(begin)
    if text.count(begin) != 1 or text.count(end) != 1 or end not in rest:
        raise RuntimeError(f"{page}: not exactly one {begin} ... {end} block to replace")
    _, _, tail = rest.partition(end)
    page.write_text(f"{head}{begin}\n{markdown.strip()}\n{end}{tail}", encoding="utf-8")


def run_record(script: str, argv: Sequence[str] | None) -> dict[str, Any]:
    """The start of a run's JSON record: the command as given, when, the machine and its load."""
    given = list(argv if argv is not None else sys.argv[1:])
    return {
        "command": f"bench/.venv/bin/python {script}" + (f" {shlex.join(given)}" if given else ""),
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_start": os.getloadavg(),
    }


def run_header(result: dict[str, Any]) -> list[str]:
    """The Markdown lines above a run's tables: command, duration, load, machine."""
    return [
        f"`{result['command']}` on {result['started']}; {result['duration_s']:.0f} s; "
        f"load average {result['load_start'][0]:.1f} at the start, "
        f"{result['load_end'][0]:.1f} at the end.",
        "",
        f"Machine: {machine_line(result['machine'])}.",
        "",
    ]


def save_run(result: dict[str, Any], out: Path, text: str, *, script: str, docs: bool) -> None:
    """Write the run's JSON to *out*, print its tables *text* and, with *docs*, put them in
    docs/benchmarks.md (the *script* block)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(text)
    print(f"\nwrote {os.path.relpath(out)}")
    if docs:
        write_docs_block(script, text)
        print(f"wrote docs/benchmarks.md (the {script} block)")
