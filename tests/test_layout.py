"""The sample project at the top of the repository: the same files ``mailer init`` writes, and
usable where it stands (``mailer check`` and ``mailer invite send`` without ``-c``)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ("config.toml", "contacts.csv", "programme.pdf", "templates")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sample_project", ROOT / "scripts/sample_project.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_top_level_sample_is_what_mailer_init_writes() -> None:
    assert _script().differences() == []


def test_the_check_notices_a_changed_or_stray_template(tmp_path: Path) -> None:
    for name in SAMPLE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    script = _script()
    assert script.differences(tmp_path) == []
    (tmp_path / "templates/invitation/fi/subject.txt").write_text("Kutsu\n")
    (tmp_path / "templates/invitation/fi/notes.txt").write_text("x\n")
    assert script.differences(tmp_path) == [
        "templates/invitation/fi/subject.txt: differs from the starter",
        "templates/invitation/fi/notes.txt: not in the starter",
    ]


def _mailer(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailer", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "100"},
        check=False,
    )


def test_the_sample_works_where_it_stands_without_c(tmp_path: Path) -> None:
    # A copy of the top level, so that the test writes no journal into the checkout.
    for name in SAMPLE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    check = _mailer(tmp_path, "check", "--no-connect")
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines()[0] == "ok    config      config.toml"
    sent = _mailer(tmp_path, "invite", "send", "--yes")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 7


def test_the_sample_projects_journal_and_outbox_are_ignored_by_git() -> None:
    if not (ROOT / ".git").exists():  # an unpacked source archive: nothing to ask git
        return
    paths = ["mailer.db", "mailer.db-wal", "outbox/x.eml", "mailer.db.release.lock"]
    found = subprocess.run(
        ["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert found.stdout.split() == paths
