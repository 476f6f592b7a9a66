"""The report and the door list as self-contained HTML (Jinja2, autoescaped, strict).

The templates are package data (``templates/``); the style sheet is inlined and the charts are
inline SVG, so a file opens offline and loads nothing from anywhere: no scripts, no fonts, no
images. Every name, note and reason from the journal or contacts.csv is escaped.
"""

from __future__ import annotations

import datetime as dt

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mailer.report.charts import Chart, columns, stacked_rows
from mailer.report.model import DoorList, Report


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mailer.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["seconds"] = seconds
    env.filters["when"] = when
    env.filters["num"] = lambda x: f"{x:.1f}"
    return env


def seconds(value: float | None) -> str:
    """``+0.4 s``, ``+2 min 5 s`` after the embargo; ``-`` when there is none."""
    if value is None:
        return "-"
    sign = "+" if value >= 0 else "-"
    value = abs(value)
    if value < 60:
        return f"{sign}{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{sign}{minutes} min {rest} s"


def when(value: dt.datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return "-" if value is None else value.strftime(pattern)


def report_charts(report: Report) -> dict[str, Chart]:
    charts = {
        "answers": stacked_rows(
            [report.answers, *report.by_language], description="Answers, all and by language"
        ),
        "tags": stacked_rows(report.by_tag, description="Answers by outlet type"),
        "timeline": columns(
            [
                (p.label, [("yes", p.yes), ("maybe", p.maybe), ("no", p.no)])
                for p in report.timeline
            ],
            description="Answers by the day they came, since the invitation went out",
        ),
    }
    if report.release is not None and report.release.histogram:
        charts["release"] = columns(
            [(b.label, [("count", b.count)]) for b in report.release.histogram],
            description="Release messages accepted, by time after the embargo",
        )
    return charts


def report_html(report: Report) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(r=report, charts=report_charts(report))


def doorlist_html(door: DoorList) -> str:
    return _environment().get_template("doorlist.html.j2").render(d=door)
