"""The event-day view: the report the officer opens in a browser, and the door list she prints.

:mod:`.collect` reads what the report shows (through the rsvp and release front doors),
:mod:`.doorlist` who is at the door, :mod:`.charts` the bar charts' geometry, :mod:`.render` the
self-contained HTML (Jinja2 templates in ``templates/``), :mod:`.pdf` the door list's PDF
(fpdf2 with the DejaVu font shipped in ``fonts/``); :mod:`.usecases` writes the files.
"""

from __future__ import annotations

from mailer.report.collect import build_report
from mailer.report.doorlist import build_doorlist
from mailer.report.model import DoorList, DoorRow, Report
from mailer.report.render import doorlist_html, report_html
from mailer.report.usecases import (
    DoorFormat,
    DoorListWritten,
    ReportWritten,
    write_doorlist,
    write_report,
)

__all__ = [
    "DoorFormat",
    "DoorList",
    "DoorListWritten",
    "DoorRow",
    "Report",
    "ReportWritten",
    "build_doorlist",
    "build_report",
    "doorlist_html",
    "report_html",
    "write_doorlist",
    "write_report",
]
