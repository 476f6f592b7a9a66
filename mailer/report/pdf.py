"""The door list as a PDF (fpdf2, pure Python): A4, the header row repeated on every page.

The font is DejaVu Sans Condensed, shipped in ``fonts/`` (its licence is there too): the core
PDF fonts cover Latin-1 only, and a name such as "Łukasz Dvořák" must print as written on any
machine, whatever fonts it has. fpdf2 embeds only the letters used, so the file stays small.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

from fpdf import FPDF
from fpdf.fonts import FontFace

from mailer.report.model import DoorList, DoorRow

FONT = "DejaVu"
BOX = "\u2610"  # ☐
COLUMNS = ("", "Surname", "First name", "Outlet", "Party", "Photo", "Lunch", "Interview")
WIDTHS = (7, 32, 26, 42, 12, 12, 13, 42)  # mm; 186 in all, within A4's margins


class _DoorPdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.cell(0, 5, f"{self.footer_text} · page {self.page_no()} of {{nb}}", align="C")


def _lunch(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def _cells(row: DoorRow) -> tuple[str, ...]:
    return (
        BOX,
        row.surname,
        row.first_name,
        row.outlet,
        str(row.party),
        "yes" if row.photographer else "",
        _lunch(row.lunch),
        row.interview,
    )


def doorlist_pdf(door: DoorList) -> bytes:
    fonts = resources.files("mailer.report") / "fonts"
    pdf = _DoorPdf(orientation="portrait", unit="mm", format="A4")
    with resources.as_file(fonts / "DejaVuSansCondensed.ttf") as regular:
        pdf.add_font(FONT, "", regular)
    with resources.as_file(fonts / "DejaVuSansCondensed-Bold.ttf") as bold:
        pdf.add_font(FONT, "B", bold)
    pdf.set_creation_date(door.generated.astimezone(dt.UTC))
    pdf.set_title(f"Door list: {door.title}")
    pdf.set_creator("mailer")
    pdf.footer_text = f"{door.title} · door list of {door.generated:%Y-%m-%d %H:%M}"
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 7, f"Door list: {door.title}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    when = f"{door.start:%A %d %B %Y, %H:%M}"
    pdf.multi_cell(0, 5, f"{when} · {door.location}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 6, door.caterer, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _table(pdf, door.rows, "Coming (yes)")
    if door.maybe:
        pdf.ln(4)
        _table(pdf, door.maybe, "Maybe (not counted above)")
    pdf.ln(3)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 6, door.caterer, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _table(pdf: FPDF, rows: tuple[DoorRow, ...], heading: str) -> None:
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 7, f"{heading}: {len(rows)}", new_x="LMARGIN", new_y="NEXT")
    if not rows:
        return
    pdf.set_font(FONT, "", 9)
    with pdf.table(
        col_widths=WIDTHS,
        width=sum(WIDTHS),
        align="LEFT",
        text_align="LEFT",
        line_height=5,
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
        repeat_headings=1,
    ) as table:
        table.row(COLUMNS)
        for row in rows:
            table.row(_cells(row))
