"""A report as an Excel workbook (.xlsx, ``openpyxl``): one sheet per table, Chinese headers,
numbers as numbers (rates as percentages), the footnotes under the table. Returns the file's
bytes; the caller sends or stores them."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dispatch.reports.tables import Report, Table

# Characters Excel refuses in a sheet's name, and its length limit.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_MAX = 31
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name from a table's title."""
    base = _SHEET_FORBIDDEN.sub("_", title).strip("'") or "表"
    name = base[:_SHEET_MAX]
    n = 2
    while name in taken:
        suffix = f"({n})"
        name = base[: _SHEET_MAX - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


def _write(sheet: Worksheet, table: Table, report: Report) -> None:
    sheet.append([f"{report.title}（{report.period}）：{table.title}"])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet.append(list(table.columns))
    for header in sheet[2]:
        header.font = Font(bold=True)
        header.alignment = Alignment(horizontal="center")
    for row in table.rows:
        sheet.append([c.number_or_text for c in row])
        for written, given in zip(sheet[sheet.max_row], row, strict=True):
            if given.percent and isinstance(given.value, int | float):
                written.number_format = "0.0%"
    for note in (*table.notes, *report.notes):
        sheet.append([])
        sheet.append([note])
    for index, column in enumerate(table.columns, start=1):
        longest = max(
            [len(column) * 2, *(len(row[index - 1].text) * 2 for row in table.rows)], default=8
        )
        sheet.column_dimensions[get_column_letter(index)].width = min(max(longest, 8), 60)
    sheet.freeze_panes = "A3"


def workbook(report: Report) -> bytes:
    """The report as .xlsx bytes: one sheet per table, in the report's order."""
    book = Workbook()
    first = book.active
    taken: set[str] = set()
    for index, table in enumerate(report.tables):
        sheet = first if index == 0 and isinstance(first, Worksheet) else book.create_sheet()
        sheet.title = sheet_name(table.title, taken)
        _write(sheet, table, report)
    if not report.tables and isinstance(first, Worksheet):
        first.title = "无数据"
        first.append([f"{report.title}（{report.period}）：无数据"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
