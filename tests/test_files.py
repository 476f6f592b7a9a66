"""Issue 15, finding 7: ``mailer init`` writes personal data 0600 and nothing that group or
others can write, whatever the umask; ``mailer check`` names every file others could use to
act as the officer (config.toml, the templates, the token cache, the project folder)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.project.files import make_folders, write_new
from tests.helpers import make_project, set_keys

runner = CliRunner()
PERSONAL = {"config.toml", "contacts.csv"}
CONFIG_LINE = (
    "warn  files       config.toml can be written by {who} (it chooses the commands mailer "
    "runs): chmod go-w config.toml"
)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in sorted(root.rglob("*")):
        found[path.relative_to(root).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    return found


def init_with_umask(tmp_path: Path, umask: int) -> Path:
    """``mailer init`` in a new process whose umask is *umask* (the shell's, inherited)."""
    dest = tmp_path / f"project-{umask:03o}"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import os, sys; os.umask({umask}); "
            "from mailer.cli import main; sys.argv = ['mailer', 'init', sys.argv[1]]; main()",
            str(dest),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dest


@pytest.mark.parametrize("umask", [0o000, 0o002, 0o022])
def test_init_writes_personal_data_private_and_nothing_writable_by_others(
    tmp_path: Path, umask: int
) -> None:
    dest = init_with_umask(tmp_path, umask)
    found = modes(dest)
    assert len(found) > 40  # the project folder, config, contacts, PDF and every template
    for name, mode in found.items():
        if (dest / name).is_dir():
            assert mode == 0o755, name
        elif Path(name).name in PERSONAL:
            assert mode == 0o600, name
        else:
            assert mode == 0o644, name
    assert {name for name, mode in found.items() if mode == 0o600} == PERSONAL


def test_a_stricter_umask_is_kept(tmp_path: Path) -> None:
    found = modes(init_with_umask(tmp_path, 0o077))
    assert set(found.values()) == {0o700, 0o600}


def test_init_never_loosens_what_exists(tmp_path: Path) -> None:
    dest = tmp_path / "p"
    dest.mkdir(mode=0o700)
    (dest / "contacts.csv").write_text("email\na@b.example\n", encoding="utf-8")
    os.chmod(dest / "contacts.csv", 0o640)
    make_project(dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert stat.S_IMODE((dest / "contacts.csv").stat().st_mode) == 0o640
    assert (dest / "contacts.csv").read_text(encoding="utf-8") == "email\na@b.example\n"


def test_write_new_and_make_folders_under_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        make_folders(tmp_path / "a" / "b")
        assert write_new(tmp_path / "a" / "b" / "f", b"x", 0o666)
        assert not write_new(tmp_path / "a" / "b" / "f", b"y", 0o666)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "a" / "b" / "f").stat().st_mode) == 0o644
    assert (tmp_path / "a" / "b" / "f").read_bytes() == b"x"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "project")
    monkeypatch.chdir(path)
    return path


def check_lines() -> list[str]:
    result = runner.invoke(app, ["check", "--no-connect"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if line.startswith("warn  files")]


def test_check_is_quiet_about_a_fresh_project(project: Path) -> None:
    assert check_lines() == []


@pytest.mark.parametrize(
    ("mode", "who"), [(0o666, "group and others"), (0o620, "group"), (0o602, "others")]
)
def test_check_warns_of_a_config_others_can_write(project: Path, mode: int, who: str) -> None:
    os.chmod(project / "config.toml", mode)
    assert check_lines() == [CONFIG_LINE.format(who=who)]


def test_check_warns_of_templates_others_can_write(project: Path) -> None:
    os.chmod(project / "templates" / "reminder" / "sv" / "body.txt", 0o664)
    os.chmod(project / "templates" / "invitation", 0o777)
    assert check_lines() == [
        "warn  files       templates: 2 files and folders can be written by group and others "
        "(first templates/invitation; templates are code that runs for every message): "
        "chmod -R go-w templates"
    ]
    os.chmod(project / "templates" / "invitation", 0o755)
    assert check_lines() == [
        "warn  files       templates: 1 file or folder can be written by group (first "
        "templates/reminder/sv/body.txt; templates are code that runs for every message): "
        "chmod -R go-w templates"
    ]
    subprocess.run(["chmod", "-R", "go-w", "templates"], check=True, timeout=30)
    assert check_lines() == []


def test_check_warns_of_the_folder_and_the_token_cache(project: Path) -> None:
    set_keys(project, "oauth2", provider="microsoft", client_id="0000-public-client")
    cache = project / "oauth-token.json"
    cache.write_text("{}", encoding="utf-8")
    os.chmod(cache, 0o622)
    os.chmod(project, 0o777)
    try:
        assert check_lines() == [
            "warn  files       the project folder . can be written by group and others (its "
            "files choose the commands mailer runs): chmod go-w .",
            "warn  files       the token cache oauth-token.json can be written by group and "
            "others (it signs in as you): chmod go-w oauth-token.json",
        ]
    finally:
        os.chmod(project, 0o755)


def test_check_names_files_from_where_it_is_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.chmod(project / "config.toml", 0o646)
    monkeypatch.chdir(project.parent)
    result = runner.invoke(
        app, ["--config", "project/config.toml", "check", "--no-connect"], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("warn  files")] == [
        "warn  files       project/config.toml can be written by others (it chooses the commands "
        "mailer runs): chmod go-w project/config.toml"
    ]
