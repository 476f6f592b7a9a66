"""The geometry of the report's bar charts (pure): rectangles and labels in SVG user units.

The template draws them as plain inline SVG; every text goes through Jinja2's autoescape there.
A chart is only a picture of the table beside it, which holds the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailer.report.model import AnswerCounts

ANSWER_KINDS = ("yes", "maybe", "no", "none")


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    kind: str  # the CSS class: yes / maybe / no / none / count
    title: str  # the tooltip: "Finnish: 4 yes"


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"  # start / middle / end


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    rects: tuple[Rect, ...]
    labels: tuple[Label, ...]
    description: str  # for screen readers (aria-label)


def stacked_rows(groups: Sequence[AnswerCounts], *, description: str) -> Chart:
    """One horizontal bar per group, split into yes / maybe / no / no answer."""
    label_width, bar_width, row, gap = 170.0, 300.0, 22.0, 6.0
    most = max((g.total for g in groups), default=0) or 1
    rects: list[Rect] = []
    labels: list[Label] = []
    for n, group in enumerate(groups):
        y = n * (row + gap)
        labels.append(Label(label_width - 8, y + row * 0.7, _short(group.label), "end"))
        x = label_width
        for kind in ANSWER_KINDS:
            value = getattr(group, kind)
            if value:
                width = bar_width * value / most
                shown = "no answer" if kind == "none" else kind
                rects.append(Rect(x, y, width, row, kind, f"{group.label}: {value} {shown}"))
                x += width
        labels.append(Label(x + 6, y + row * 0.7, str(group.total)))
    height = max(1, len(groups)) * (row + gap)
    return Chart(
        int(label_width + bar_width + 40), int(height), tuple(rects), tuple(labels), description
    )


def columns(bars: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, description: str) -> Chart:
    """Vertical bars, one per (label, [(kind, value), ...]), the kinds stacked bottom up."""
    plot, left, bottom, gap = 150.0, 8.0, 34.0, 4.0
    width = max(16.0, min(48.0, 560.0 / max(1, len(bars))))
    most = max((sum(v for _, v in parts) for _, parts in bars), default=0) or 1
    every = max(1, round(len(bars) / 12))  # label at most about 12 bars
    rects: list[Rect] = []
    labels: list[Label] = []
    for n, (label, parts) in enumerate(bars):
        x = left + n * (width + gap)
        y = plot + 14
        total = 0
        for kind, value in parts:
            if value:
                height = plot * value / most
                y -= height
                rects.append(Rect(x, y, width, height, kind, f"{label}: {value} {kind}"))
                total += value
        if total:
            labels.append(Label(x + width / 2, y - 3, str(total), "middle"))
        if n % every == 0:
            labels.append(Label(x + width / 2, plot + 14 + 16, _short(label, 12), "middle"))
    chart_width = int(left * 2 + len(bars) * (width + gap))
    return Chart(
        max(chart_width, 200), int(plot + 14 + bottom), tuple(rects), tuple(labels), description
    )


def _short(text: str, most: int = 24) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
