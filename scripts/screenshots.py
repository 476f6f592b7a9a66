"""Make the docs' screenshots of the report and the door list (docs/images/*.png).

The sample project of the tests (tests/fixtures_report.py: 24 contacts, answers over twelve
days, a pre-brief and a release) is written to a temporary folder, the report and the door
list are written from it, and headless Chromium takes the pictures. Needs Debian's chromium.

    python scripts/screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailer.config import load_config  # noqa: E402
from mailer.report import write_doorlist, write_report  # noqa: E402
from tests.fixtures_report import NOW, write_sample  # noqa: E402

SHOTS = (  # (file written, picture, window size)
    ("report.html", "report.png", "1100,2400"),
    ("report.html", "report-phone.png", "390,844"),
    ("doorlist.html", "doorlist.png", "1000,900"),
)


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.stderr.write("error: chromium is not installed (apt-get install chromium)\n")
        return 1
    out = ROOT / "docs" / "images"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(write_sample(folder / "event"))
        write_report(config, output=folder / "report.html", now=NOW)
        write_doorlist(config, output=folder / "doorlist.html", now=NOW)
        for page, picture, size in SHOTS:
            subprocess.run(  # noqa: S603 (chromium from PATH, our own arguments)
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--user-data-dir={folder / 'profile'}",
                    f"--screenshot={out / picture}",
                    f"--window-size={size}",
                    (folder / page).as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            sys.stdout.write(f"wrote {out / picture}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
