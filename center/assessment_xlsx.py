"""The assessment report as the XLSX an office opens (openpyxl): a sheet
named 绩效考核 with the title and the period above a frozen header row,
Chinese headers, set column widths, counts as integers and rates as
numbers with a percent format (an empty cell where a rate has no
denominator), the total row and the notes with the ranking rule below.

Every text cell is written as text: a department or staff name beginning
with = is never a formula (openpyxl would otherwise store one)."""
from __future__ import annotations

import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from .assessment import NOTES, Report, table, period_text, title

SHEET = "绩效考核"
HEADER_ROW = 4                          # title, period, blank, header
RATE_FORMAT = "0.0%"
COUNT_FORMAT = "0"
FONT = "等线"                           # Office's default Chinese face; others fall back
_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _text(cell, value: str) -> None:
    cell.value = value
    cell.data_type = "s"               # never a formula, whatever the text begins with


def workbook(report: Report, generated: datetime | None = None) -> Workbook:
    cols, values = table(report)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    last = get_column_letter(len(cols))
    _text(ws["A1"], title(report))
    ws["A1"].font = Font(name=FONT, size=14, bold=True)
    ws.merge_cells(f"A1:{last}1")
    when = f" · 生成时间：{generated:%Y-%m-%d %H:%M}" if generated else ""
    _text(ws["A2"], period_text(report) + when)
    ws["A2"].font = Font(name=FONT, size=10)
    ws.merge_cells(f"A2:{last}2")
    head_fill = PatternFill("solid", fgColor="EEEEEE")
    for i, c in enumerate(cols, 1):
        cell = ws.cell(HEADER_ROW, i)
        _text(cell, c.header)
        cell.font = Font(name=FONT, bold=True)
        cell.fill = head_fill
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(i)].width = c.width
    for n, line in enumerate(values):
        r = HEADER_ROW + 1 + n
        total = n == len(values) - 1
        for i, (c, v) in enumerate(zip(cols, line), 1):
            cell = ws.cell(r, i)
            if c.kind == "text":
                _text(cell, str(v))
            elif v is not None:
                cell.value = v
                cell.number_format = RATE_FORMAT if c.kind == "rate" else COUNT_FORMAT
            cell.border = _BORDER
            cell.font = Font(name=FONT, bold=total)
            if c.kind != "text":
                cell.alignment = Alignment(horizontal="right")
    note_row = HEADER_ROW + len(values) + 2
    for k, note in enumerate(NOTES):
        _text(ws.cell(note_row + k, 1), note)
        ws.cell(note_row + k, 1).font = Font(name=FONT, size=9, color="555555")
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 3)      # the header row and the rank and unit columns
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    return wb


def xlsx_bytes(report: Report, generated: datetime | None = None) -> bytes:
    buf = io.BytesIO()
    workbook(report, generated).save(buf)
    return buf.getvalue()


__all__ = ["COUNT_FORMAT", "HEADER_ROW", "RATE_FORMAT", "SHEET", "workbook", "xlsx_bytes"]
