"""A million contacts (issue 15, finding 6): the time and peak memory of ``mailer contacts
check`` and of ``mailer invite send --dry-run`` on a generated file, against the floor of the
same machine in the same run (Python's ``csv`` module counting the rows of the same file).

    python bench/contacts_scale.py                       # 1,000,000 rows, this checkout
    python bench/contacts_scale.py --rows 200000
    python bench/contacts_scale.py --compare /tmp/old    # also an older source tree, same file

``--compare DIR`` runs ``contacts check`` (and, with ``--compare-dry-run``, the dry run) with
``PYTHONPATH=DIR`` (a tree holding ``mailer/``, for example ``git archive <commit> mailer |
tar -x -C DIR``). Each command runs in its own process; its CPU time and peak RSS come from
``os.wait4``. Only the standard library and this
project are needed (the main venv will do). The project is written to a temporary folder and
removed afterwards (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("fi", "sv", "en")
FLOOR = (
    "import csv, sys\n"
    "with open(sys.argv[1], encoding='utf-8', newline='') as f:\n"
    "    print(sum(1 for _ in csv.reader(f)) - 1, 'rows')\n"
)


@dataclass(frozen=True)
class Measured:
    what: str
    tree: str
    seconds: float
    cpu: float
    peak_mb: float
    exit_code: int
    last_line: str


def write_project(folder: Path, rows: int) -> Path:
    """The starter project with *rows* generated contacts (non-ASCII names, three languages)."""
    sys.path.insert(0, str(ROOT))
    from mailer.project import write_starter

    write_starter(folder, now=dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC))
    with (folder / "contacts.csv").open("w", encoding="utf-8", newline="") as out:
        out.write("email,name,outlet,language,tags,first_name\n")
        for i in range(rows):
            out.write(
                f"toimittaja{i}@media{i % 997}.example,Päivi Mäki-Jaakkola {i},"
                f"Österbottens Tidning {i % 50},{LANGUAGES[i % 3]},local|trusted,Päivi\n"
            )
    return folder


def measure(what: str, tree: str, command: list[str], cwd: Path, path: str) -> Measured:
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "120"}
    began = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        lines = output.read().decode("utf-8", "replace").strip().splitlines()
    return Measured(
        what,
        tree,
        seconds,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        process.returncode,
        lines[-1][:110] if lines else "",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--compare", type=Path, help="an older source tree to run as well")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    parser.add_argument(
        "--compare-dry-run",
        action="store_true",
        help="also the dry run of the --compare tree (before issue 15: many minutes)",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mailer-contacts-scale-"))
    try:
        began = time.perf_counter()
        project = write_project(folder / "project", args.rows)
        made = time.perf_counter() - began
        size = (project / "contacts.csv").stat().st_size / 1e6
        print(f"{args.rows:,} rows, {size:.0f} MB, written in {made:.1f} s to {project}")
        trees = [("this", str(ROOT))]
        if args.compare is not None:
            trees.append((f"compare {args.compare}", str(args.compare.resolve())))
        mailer = [sys.executable, "-m", "mailer"]
        results = [
            measure("csv floor", "-", [sys.executable, "-c", FLOOR, "contacts.csv"], project, "")
        ]
        for name, path in trees:
            results.append(
                measure("contacts check", name, [*mailer, "contacts", "check"], project, path)
            )
            if name != "this" and not args.compare_dry_run:
                continue
            results.append(
                measure(
                    "invite send --dry-run",
                    name,
                    [*mailer, "invite", "send", "--dry-run"],
                    project,
                    path,
                )
            )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    load = os.getloadavg()
    print(
        f"\nmachine: {os.cpu_count()} cores, {_model()}, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end\n"
    )
    print("| command | tree | wall s | CPU s | peak RSS MB | exit | last line |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(
            f"| {r.what} | {r.tree} | {r.seconds:.1f} | {r.cpu:.1f} | {r.peak_mb:.0f} | "
            f"{r.exit_code} | {r.last_line.replace('|', '/')} |"
        )


def _model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
