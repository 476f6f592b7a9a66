"""The report and the door list in a real headless Chromium: screenshots at desktop and phone
width, the DOM's numbers against the journal, and the print to PDF (A4 pages, text, pypdf).

Chromium comes from Debian (scripts/test.sh installs it); without it these tests skip, and fail
when ``CI`` is set, so that CI cannot pass by skipping them.
"""

from __future__ import annotations

import html as html_module
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

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


# Test-only: measures, after layout, every element whose right edge passes the window or the
# page's text column (body less its padding), and every box that has to scroll sideways; it
# posts the result to the page holding the frame.
MEASURE = """<script>
(function () {
  var width = document.documentElement.clientWidth, over = [], scrolls = [];
  var body = document.body, padding = parseFloat(getComputedStyle(body).paddingRight);
  var limit = Math.min(width, body.getBoundingClientRect().right - padding);  // the text column
  function name(e) {
    var at = "";
    for (var a = e; !at && a; a = a.parentElement) { if (a.id) at = "#" + a.id; }
    return (at + " " + e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " "
            + (e.textContent || "").trim().slice(0, 20)).trim();
  }
  function clipped(e) {  // inside a box that scrolls sideways (and so holds it)
    for (var a = e.parentElement; a; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== "visible") return true;
    }
    return false;
  }
  document.querySelectorAll("body *").forEach(function (e) {
    var box = e.getBoundingClientRect();
    if (box.width > 0 && box.right > limit + 0.5 && !clipped(e))
      over.push(name(e) + " @" + Math.round(box.right));
    if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
      scrolls.push(name(e));
  });
  parent.postMessage(JSON.stringify({width: width, page: document.documentElement.scrollWidth,
                                     over: over, scrolls: scrolls}), "*");
})();
</script>"""
# Headless Chromium will not make its window narrower than 500 px, so the page is laid out in
# a frame of the wanted size; the frame's message lands in the outer page's DOM.
FRAME = """<!DOCTYPE html><html><body style="margin: 0">
<iframe src="{src}" width="{width}" height="{height}" style="border: 0"></iframe>
<script>addEventListener("message", function (event) {{
  var out = document.createElement("pre"); out.id = "measured"; out.textContent = event.data;
  document.body.appendChild(out); }});</script></body></html>"""


def measure(chromium: str, page: Path, tmp_path: Path, size: str) -> dict[str, Any]:
    """Lay *page* out at *size* in Chromium and return what :data:`MEASURE` found."""
    html = page.read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)  # lets it run
    probe = tmp_path / f"measure-{page.name}"
    probe.write_text(html.replace("</body>", MEASURE + "\n</body>"), encoding="utf-8")
    width, height = size.split(",")
    frame = tmp_path / "frame.html"
    frame.write_text(FRAME.format(src=probe.name, width=width, height=height), encoding="utf-8")
    dom = run(
        chromium,
        tmp_path,
        "--dump-dom",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
        "--window-size=1400,1000",
        frame.as_uri(),
    ).stdout
    found = re.search(r'<pre id="measured">([^<]*)</pre>', dom)
    assert found, dom[-2000:]
    result: dict[str, Any] = json.loads(html_module.unescape(found.group(1)))
    return result


@pytest.mark.parametrize("which", ["report", "door"])
@pytest.mark.parametrize("size", ["1280,900", "1100,900", "390,844"])
def test_nothing_overflows_the_window(
    chromium: str, files: dict[str, Path], tmp_path: Path, which: str, size: str
) -> None:
    found = measure(chromium, files[which], tmp_path, size)
    width = int(size.split(",")[0])
    assert width - 20 <= found["width"] <= width  # laid out at that width (less a scroll bar)
    assert found["over"] == []
    assert found["page"] == found["width"]
    if which == "door" and width < 500:  # a list for paper: on a phone, its tables scroll
        assert found["scrolls"] == [
            "div.wide surnamefirst nameout",
            "div.wide surnamefirst nameout",
        ]
    else:
        assert found["scrolls"] == []


def right_edges(reader: pypdf.PdfReader) -> list[tuple[float, str]]:
    """Where each piece of text ends on its page (points from the left; half an em a letter,
    a generous guess for DejaVu and Liberation), the furthest first."""
    found: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        if text.strip():
            left = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            found.append((left + len(text.strip()) * size * tm[0] * cm[0] * 0.5, text.strip()))

    for page in reader.pages:
        page.extract_text(visitor_text=visit)
    return sorted(found, reverse=True)


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
    assert re.search(r"answered\s+so\s+far", text)  # the last column of the day table
    assert right_edges(reader)[0][0] < A4_POINTS[0] - 28  # nothing runs off the paper's right


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
    text = " ".join(reader.pages[0].extract_text().split())  # lines wrap where the paper says
    assert "For the caterer: lunch for 8 people (and 2 more who did not say); 14 people" in text
    assert re.search(r"Ahonen.*Björklund.*Byström", text, re.S)
    assert right_edges(reader)[0][0] < A4_POINTS[0] - 28
