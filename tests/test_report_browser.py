"""The report and the door list in a real headless Chromium: screenshots at desktop and phone
width, the DOM's numbers against the journal, and the print to PDF (A4 pages, text, pypdf).

Chromium comes from Debian (scripts/test.sh installs it); without it these tests skip, and fail
when ``CI`` is set, so that CI cannot pass by skipping them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pypdf
import pytest
from PIL import Image

from mailer.config import load_config
from mailer.report import write_doorlist, write_report
from tests.fixtures_report import EXPECTED, NOW, write_sample

pytestmark = [pytest.mark.slow, pytest.mark.browser]

A4_POINTS = (595, 842)  # width, height, rounded


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "chromium is not installed (scripts/test.sh installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so this test must not be skipped")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("browser")
    config = load_config(write_sample(folder / "event"))
    report = write_report(config, output=folder / "report.html", now=NOW).path
    door = write_doorlist(config, output=folder / "door.html", now=NOW).paths[0]
    return {"report": report, "door": door}


def run(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize("which", ["report", "door"])
@pytest.mark.parametrize("size", ["1280,900", "390,844"])
def test_screenshots_are_not_blank(
    chromium: str, files: dict[str, Path], tmp_path: Path, which: str, size: str
) -> None:
    shot = tmp_path / "shot.png"
    run(chromium, tmp_path, f"--screenshot={shot}", f"--window-size={size}", files[which].as_uri())
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert image.size == tuple(int(x) for x in size.split(","))
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, bars and table lines, not an empty page
    white = max(colours)[0] / (image.size[0] * image.size[1])
    assert 0.3 < white < 0.99


def test_the_dom_holds_the_journals_numbers(
    chromium: str, files: dict[str, Path], tmp_path: Path
) -> None:
    dom = run(chromium, tmp_path, "--dump-dom", files["report"].as_uri()).stdout

    def value(element_id: str) -> str:
        found = re.search(rf'id="{element_id}"[^>]*>(?:<b>)?([^<]*)<', dom)
        assert found, element_id
        return found.group(1).strip()

    for key in ("invited", "delivered", "failed", "in_doubt", "bounced", "suppressed"):
        assert value(f"n-{key.replace('_', '-')}") == str(EXPECTED[key])
    for key in ("expected", "guests", "photographers", "lunch"):
        assert value(f"h-{key}") == str(EXPECTED[key])
    assert value("release-recipients") == str(EXPECTED["release_recipients"])
    assert dom.count("<svg") == 4  # answers, outlet types, over time, release
    assert "<script" not in dom  # the review item's <script> stayed text
    refs = re.findall(r'\b(?:src|href)="([^"]*)"', dom)
    assert [r for r in refs if not r.startswith(("#", "data:"))] == []


def test_the_report_prints_on_a4(chromium: str, files: dict[str, Path], tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    run(
        chromium,
        tmp_path,
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        files["report"].as_uri(),
    )
    reader = pypdf.PdfReader(pdf)
    assert 2 <= len(reader.pages) <= 4
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == A4_POINTS
    text = " ".join(page.extract_text() for page in reader.pages)
    for words in ("The invitation round", "Headcounts", "Waiting for review: 2", "Jarkko Vesa"):
        assert words in text


def test_the_door_list_prints_on_one_a4_page(
    chromium: str, files: dict[str, Path], tmp_path: Path
) -> None:
    pdf = tmp_path / "door.pdf"
    run(
        chromium,
        tmp_path,
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        files["door"].as_uri(),
    )
    reader = pypdf.PdfReader(pdf)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "For the caterer: lunch for 8 people (and 2 more who did not say); 14 people" in text
    assert re.search(r"Ahonen.*Björklund.*Byström", text, re.S)
