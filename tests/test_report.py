"""mailer report and mailer rsvp doorlist: the numbers against a journal of known counts, the
files (0600, self-contained, escaped), the door list's three formats and the CLI's lines."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import stat
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest
from typer.testing import CliRunner

from mailer.cli import app
from mailer.config import load_config
from mailer.report import DoorFormat, write_doorlist, write_report
from mailer.report.collect import histogram, timeline
from mailer.report.render import seconds
from mailer.rsvp import guest_roles
from tests.fixtures_report import EXPECTED, NOW, PEOPLE, write_sample

Cli = Callable[..., Any]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "event")


@pytest.fixture
def cli(sample: Path) -> Cli:
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, ["--config", str(sample), *args])

    return invoke


def cell(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(?:<b>)?([^<]*)<', html)
    assert found, element_id
    return found.group(1).strip()


def outside_references(html: str) -> list[str]:
    """Every src / href / xlink:href / url() that is not ``#...`` or ``data:``."""
    refs = re.findall(r'\b(?:src|href|xlink:href|action|srcset)\s*=\s*"([^"]*)"', html)
    refs += re.findall(r"url\(\s*['\"]?([^)'\"]*)", html)
    return [r for r in refs if not r.startswith(("#", "data:"))]


def test_the_report_shows_the_journals_numbers(sample: Path) -> None:
    result = write_report(load_config(sample), output=None, now=NOW)
    assert result.path == sample.parent / "report.html"
    html = result.path.read_text(encoding="utf-8")
    for key in ("invited", "delivered", "failed", "in_doubt", "bounced", "suppressed"):
        assert cell(html, f"n-{key.replace('_', '-')}") == str(EXPECTED[key])
    for key in ("expected", "journalists", "guests", "photographers", "lunch", "lunch_unknown"):
        assert cell(html, f"h-{key.replace('_', '-')}") == str(EXPECTED[key])
    assert cell(html, "h-maybe") == str(EXPECTED["maybe_people"])
    assert re.search(
        r'<tr id="answers-all"><th>all invited</th><td class="n">10</td><td class="n">4</td>'
        r'<td class="n">2</td><td class="n">7</td></tr>',
        html,
    )
    assert '<tr><th>Jarkko Vesa</th><td class="n">3</td></tr>' in html
    assert '<tr><th>Maria Lindqvist</th><td class="n">1</td></tr>' in html
    assert "Waiting for review: 2" in html
    assert cell(html, "release-recipients") == "20"
    assert cell(html, "release-accepted") == "20"
    assert cell(html, "release-first") == "+0.2 s"
    assert cell(html, "release-last") == "+3.0 s"  # 0.2 + 19 * RELEASE_GAP, 3.0499... stored
    assert cell(html, "release-state") == "done"
    assert "Pre-briefed outlets: 2" in html
    assert 'id="release-problems"' not in html and "alarm" not in html.split("</style>")[1]
    assert outside_references(html) == []
    assert "<script" not in html.lower().replace("&lt;script&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; unclear answer" in html
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600


def test_an_early_release_message_is_shown_loudly(tmp_path: Path) -> None:
    config = write_sample(tmp_path / "early", early=True)
    result = write_report(load_config(config), output=tmp_path / "r.html", now=NOW)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert result.report.release is not None
    [problem] = result.report.release.problems
    assert (problem.problem, problem.detail) == ("early", "3.0 s before the embargo")
    assert 'class="alarm" id="release-problems"' in html
    assert f"<b>EARLY</b> {PEOPLE[4][0]} &lt;journalist04@media.example&gt;" in html


def test_the_report_cli_writes_one_line(cli: Cli, sample: Path) -> None:
    res = cli("report")
    assert res.exit_code == 0, res.output
    assert res.stdout == (
        f"Wrote {sample.parent / 'report.html'}: 23 invitations, 10 yes, 14 people expected, "
        "2 items to review (readable by you only)\n"
    )


def test_report_open_starts_the_browser(cli: Cli, tmp_path: Path, monkeypatch: Any) -> None:
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {seen}\n')
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # read $BROWSER again, not a cached choice
    res = cli("report", "--output", str(tmp_path / "out.html"), "--open")
    assert res.exit_code == 0, res.output
    for _ in range(100):
        if seen.exists() and seen.read_text():
            break
        time.sleep(0.05)
    assert seen.read_text().strip() == (tmp_path / "out.html").as_uri()


def test_the_report_cannot_be_written_to_a_missing_folder(cli: Cli, tmp_path: Path) -> None:
    res = cli("report", "--output", str(tmp_path / "no" / "r.html"))
    assert res.exit_code == 1
    assert res.stderr == (
        f"error: {tmp_path / 'no' / 'r.html'}: cannot write the report: No such file or directory\n"
    )


def test_the_door_list_in_three_formats(cli: Cli, sample: Path) -> None:
    res = cli("rsvp", "doorlist")
    assert res.exit_code == 0, res.output
    folder = sample.parent
    names = [folder / f"doorlist.{s}" for s in ("html", "pdf", "csv")]
    assert res.stdout.splitlines() == [
        f"Wrote the door list (10 people coming, 2 maybe) to {', '.join(map(str, names))} "
        "(readable by you only)",
        "For the caterer: lunch for 8 people (and 2 more who did not say); 14 people expected.",
    ]
    for path in names:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = names[2].read_text(encoding="utf-8")
    assert text.startswith("\ufeffsurname;first name;outlet;email;answer;party;")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == [
        "Ahonen", "Björklund", "Byström", "Kivelä", "Lindholm", "Nyman", "Okafor", "Rinne",
        "Zetterberg", "Östman", "Heikkilä", "Åberg",
    ]  # fmt: skip
    assert rows[2] == [
        "Björklund", "Mikael", "Nordisk Energi", "journalist05@media.example", "yes", "2",
        "yes", "yes", "", "",
    ]  # fmt: skip
    html = names[0].read_text(encoding="utf-8")
    assert "Apu &amp; &lt;Kumppanit&gt;" in html and "<Kumppanit>" not in html
    assert outside_references(html) == []
    assert html.count('<span class="box"></span>') == 12
    reader = pypdf.PdfReader(names[1])
    assert len(reader.pages) == 1
    pdf_text = reader.pages[0].extract_text()
    assert "For the caterer: lunch for 8 people (and 2 more who did not say); 14 people" in pdf_text
    assert "Mäki-Jaakkola" not in pdf_text  # suppressed, never invited
    assert "Östman" in pdf_text and "Apu & <Kumppanit>" in pdf_text


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (["--output", "door.pdf"], ["door.pdf"]),
        (["--output", "door", "--format", "csv", "--format", "html"], ["door.csv", "door.html"]),
        (["--output", "door.html", "-f", "pdf"], ["door.pdf"]),
    ],
)
def test_door_list_formats_follow_the_options(
    cli: Cli, tmp_path: Path, args: list[str], written: list[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    res = cli("rsvp", "doorlist", *[str(out / a) if a.startswith("door") else a for a in args])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(written)


def test_door_list_refuses_an_unknown_suffix(cli: Cli, tmp_path: Path) -> None:
    res = cli("rsvp", "doorlist", "--output", str(tmp_path / "door.txt"))
    assert res.exit_code == 2
    assert res.stderr == (
        f"error: --output {tmp_path / 'door.txt'}: end the name with .html, .pdf or .csv "
        "(or choose with --format)\n"
    )


def test_door_list_use_case_returns_the_rows(sample: Path, tmp_path: Path) -> None:
    result = write_doorlist(
        load_config(sample), output=tmp_path / "d", formats=[DoorFormat.CSV], now=NOW
    )
    assert result.paths == (tmp_path / "d.csv",)
    door = result.door
    assert (door.expected, door.lunch, door.lunch_unknown) == (14, 8, 2)
    assert [r.party for r in door.rows] == [1, 2, 2, 1, 1, 1, 3, 1, 1, 1]
    assert [r.surname for r in door.rows if r.photographer] == ["Björklund", "Byström"]


# --- the parts -----------------------------------------------------------------------------------


def test_histogram_picks_a_round_width() -> None:
    assert [(b.label, b.count) for b in histogram([0.2, 0.9, 1.5, 3.05])] == [
        ("0-1 s", 2),
        ("1-2 s", 1),
        ("2-3 s", 0),
        ("3-4 s", 1),
    ]
    wide = histogram([0.0, 100.0, 700.0])
    assert [b.label for b in wide][:2] == ["0-1 min", "1-2 min"] and len(wide) == 12
    assert histogram([]) == ()


def test_timeline_goes_by_week_after_three_weeks(sample: Path) -> None:
    from mailer.contacts import open_store, project_for
    from mailer.report import build_report

    config = load_config(sample)
    with open_store(config, read_only=True) as store:
        report = build_report(config, store, project_for(config).book.contacts, now=NOW)
    assert [(p.label, p.yes, p.no, p.maybe, p.answered) for p in report.timeline][:4] == [
        ("day 0", 2, 1, 0, 3),
        ("day 1", 2, 0, 0, 5),
        ("day 2", 1, 1, 0, 7),
        ("day 3", 1, 0, 1, 9),
    ]
    assert report.timeline[-1].answered == 16
    rows = [
        type("R", (), {"answered_at": report.sent_out + dt.timedelta(days=d), "status": s})()
        for d, s in ((0, _Status("yes")), (30, _Status("no")))
    ]
    assert report.sent_out is not None
    weekly = timeline(rows, report.sent_out, report.sent_out.tzinfo)  # type: ignore[arg-type]
    assert [w.label for w in weekly] == [
        "days 0-6",
        "days 7-13",
        "days 14-20",
        "days 21-27",
        "days 28-34",
    ]


class _Status:
    def __init__(self, value: str) -> None:
        self.value = value


def test_seconds_after_the_embargo() -> None:
    assert [seconds(x) for x in (None, 0.04, 59.94, 125.0, -3.0)] == [
        "-",
        "+0.0 s",
        "+59.9 s",
        "+2 min 5 s",
        "-3.0 s",
    ]


def test_guest_roles_of_a_note() -> None:
    assert guest_roles("Tulen kuvaajan kanssa.") == ("photographer",)
    assert guest_roles("Tulen ilman kuvaajaa.") == ()
    assert guest_roles("Kommer med fotograf och kollega") == ("photographer", "colleague")
