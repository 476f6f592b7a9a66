"""The sample project at the repository's top level, written from the starter's single source.

``config.toml``, ``contacts.csv``, ``programme.pdf`` and ``templates/`` at the top of a clone are
exactly what ``mailer init`` writes (mailer/project/starter.py and mailer/project/sample/), for
the event date already in the top-level ``config.toml`` (or the next 25 June when there is none),
so that ``mailer check --no-connect`` and ``mailer invite send --yes`` work at the root.

    python scripts/sample_project.py            # write them again after changing the starter
    python scripts/sample_project.py --check    # exit 1 and list what differs (tests do this)
    python scripts/sample_project.py --date 2028-06-25   # move the sample to another year
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailer.project.starter import (  # noqa: E402  (the checkout's own mailer, not an installed one)
    CONFIG_NAME,
    EVENT_START,
    TIMEZONE,
    starter_files,
)
from mailer.timeutil import load_zone, localize  # noqa: E402


def event_date(root: Path = ROOT) -> dt.date | None:
    """The date of ``[event] start`` in *root*'s config.toml, if there is one that says it."""
    try:
        config = tomllib.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
        return dt.date.fromisoformat(str(config["event"]["start"])[:10])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError):
        return None


def files_for(day: dt.date) -> list[tuple[Path, bytes]]:
    """The starter's files for an event on *day* (``now`` is a month before it)."""
    start = localize(dt.datetime.combine(day, EVENT_START), load_zone(TIMEZONE))
    return starter_files(start - dt.timedelta(days=30))


def differences(root: Path = ROOT, day: dt.date | None = None) -> list[str]:
    """The top-level sample files that are missing or differ from what the starter writes."""
    day = day or event_date(root)
    if day is None:
        return [f"{CONFIG_NAME}: missing, or without an [event] start date"]
    found = []
    for relative, content in files_for(day):
        target = root / relative
        if not target.is_file():
            found.append(f"{relative}: missing")
        elif target.read_bytes() != content:
            found.append(f"{relative}: differs from the starter")
    templates = {p for p, _ in files_for(day) if p.parts[0] == "templates"}
    for extra in sorted((root / "templates").rglob("*")) if (root / "templates").is_dir() else []:
        if extra.is_file() and extra.relative_to(root) not in templates:
            found.append(f"{extra.relative_to(root)}: not in the starter")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    parser.add_argument("--date", type=dt.date.fromisoformat, help="the event date (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    if args.check:
        found = differences(ROOT, args.date)
        for line in found:
            print(line)
        if found:
            print("run 'python scripts/sample_project.py' to write the sample project again")
        return 1 if found else 0
    day = args.date or event_date() or None
    if day is None:
        from mailer.project.starter import next_event_date

        day = next_event_date(dt.datetime.now(dt.UTC))
    written = files_for(day)
    for relative, content in written:
        target = ROOT / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        print(f"wrote {relative}")
    keep = {relative for relative, _ in written}
    for extra in sorted((ROOT / "templates").rglob("*"), reverse=True):
        if extra.is_file() and extra.relative_to(ROOT) not in keep:
            extra.unlink()
            print(f"removed {extra.relative_to(ROOT)} (no longer in the starter)")
        elif extra.is_dir() and not any(extra.iterdir()):
            extra.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
