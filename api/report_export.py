"""How every report page (统计报表, issue 17) gives its tables as an Excel file.

The pattern, one for all report pages (总览, 部门办理排名, 红旗窗口, 热点诉求, 通报):

- the page's own URL with ``format=xlsx`` added to its query (``/reports?period=month&on=…
  &format=xlsx``) answers the same ``tables.Report`` the page shows, as a workbook
  (``dispatch.reports.xlsx.workbook``): the same query gives the same figures, one sheet per
  table; ``&table=<key>`` gives that one table alone. A page builds its link with
  :func:`xlsx_link` and its route answers with :func:`xlsx_response` (passing
  ``request.query_params.get("table", "")``) when :func:`wants_xlsx` says so;
- the JSON twin is ``/api/reports/…`` (``tables.to_json`` of the same report, plus what the
  page needs besides its tables), from the same use-case function as the page.

A ``format`` other than ``html`` or ``xlsx`` is a 422 (English for the API, Chinese page for
the console, as every other refused parameter).
"""

from __future__ import annotations

import urllib.parse

from fastapi import HTTPException, Request
from fastapi.responses import Response

from dispatch.reports import xlsx
from dispatch.reports.tables import Report

FORMAT = "format"
XLSX = "xlsx"
_FORMATS = frozenset({"", "html", XLSX})
_ASCII = "report.xlsx"  # the name for clients that do not read filename*


def wants_xlsx(request: Request) -> bool:
    """Whether the request asks for the page's tables as .xlsx (``?format=xlsx``)."""
    asked = request.query_params.get(FORMAT, "")
    if asked not in _FORMATS:
        raise HTTPException(status_code=422, detail="format must be html or xlsx")
    return asked == XLSX


def xlsx_link(request: Request) -> str:
    """The page's own URL (path and query) asking for its tables as .xlsx."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != FORMAT]
    return f"{request.url.path}?{urllib.parse.urlencode([*kept, (FORMAT, XLSX)])}"


def file_name(report: Report) -> str:
    """The download's name, e.g. 统计总览（2026年11月）.xlsx."""
    return f"{report.title}（{report.period}）.xlsx"


def one_table(report: Report, key: str) -> Report:
    """The report with only its table ``key`` (a page's "download this table"); 404 when it
    has none of that key."""
    try:
        table = report.table(key)
    except KeyError:
        raise HTTPException(status_code=404, detail="no such table") from None
    return Report(report.title, report.period, (table,), report.notes)


def xlsx_response(report: Report, table: str = "") -> Response:
    """The report (or its one table ``table``, from ``?table=``) as an .xlsx download, its
    Chinese name encoded per RFC 6266/5987 (with an ASCII fallback for old clients)."""
    if table:
        report = one_table(report, table)
    name = file_name(report)
    quoted = urllib.parse.quote(name, safe="")
    return Response(
        xlsx.workbook(report),
        media_type=xlsx.MEDIA_TYPE,
        headers={
            "Content-Disposition": f"attachment; filename=\"{_ASCII}\"; filename*=UTF-8''{quoted}"
        },
    )
