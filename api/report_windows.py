"""红旗窗口 (统计报表, issue 17): each window's eligibility for a year under seed 003's rule,
the complaints behind it, and the receipts of the written explanations owed (收到书面说明).

- ``GET /reports/windows?year=`` the page (``format=xlsx``: its tables as a workbook,
  ``api.report_export``); ``GET /api/reports/windows?year=`` its JSON twin;
- ``POST /reports/windows/{unit_id}/explanation`` (form) and
  ``POST /api/reports/windows/{unit_id}/explanation`` (JSON) record a receipt, both through
  ``dispatch.reports.windows.record_explanation``.

Leaders only (``api.auth.Supervisor``). The year defaults to this one (local).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import report_export
from api.auth import Login, Supervisor
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.pages import render, see, zh_errors
from api.report_pages import cases_link  # the drill-down list of the cases behind a count
from core.db import transaction
from core.settings import Settings
from dispatch.cases.registration import Invalid
from dispatch.handling.steps import Refused
from dispatch.reports import tables, windows
from dispatch.reports.window_explanations import Explanation, Form

router = APIRouter()
YEARS_SHOWN = 6  # this year and the five before in the year picker

Year = Annotated[int | None, Query(description="the year (local); default this year")]


def case_link(case_id: str) -> str:
    return f"/cases/{case_id}"


def _year(settings: Settings, year: int | None) -> tuple[int, ZoneInfo]:
    zone = ZoneInfo(settings.timezone)
    return (now().astimezone(zone).year if year is None else year), zone


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    year: int | None,
    errors: dict[str, dict[str, str]] | None = None,
    messages: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    chosen, zone = _year(settings, year)
    data = windows.windows_year(session, chosen, now(), zone)
    report = windows.report(data, case_link, cases_link)
    if report_export.wants_xlsx(request):
        return report_export.xlsx_response(report)
    this_year = now().astimezone(zone).year
    return render(
        request,
        "reports_windows.html",
        login,
        settings,
        status_code=status_code,
        data=data,
        report=report,
        standings=list(zip(data.windows, report.table("windows").rows, strict=True)),
        years=list(range(this_year, this_year - YEARS_SHOWN, -1)),
        xlsx_link=report_export.xlsx_link(request),
        today=now().astimezone(zone).date().isoformat(),
        window_errors=errors or {},
        window_messages=messages or {},
        form=form or {},
    )


@router.get("/reports/windows", response_class=HTMLResponse, include_in_schema=False)
def windows_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: Supervisor,
    year: Year = None,
) -> Response:
    return _page(request, session, settings, login, year)


def _form(values: dict[str, str]) -> Form:
    return Form(
        values.get("received_on", ""),
        values.get("submitted_by", ""),
        values.get("rectification", ""),
        values.get("note", ""),
    )


@router.post(
    "/reports/windows/{unit_id}/explanation", response_class=HTMLResponse, include_in_schema=False
)
async def record_page(
    unit_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    """收到书面说明 from the page's form (as ``POST /api/reports/windows/{id}/explanation``)."""
    values = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        year = int(values.get("year", ""))
    except ValueError:
        raise HTTPException(status_code=422, detail="year must be a whole number") from None
    zone = ZoneInfo(settings.timezone)

    def change() -> None:
        with transaction(sessions) as session:
            windows.record_explanation(
                session, unit_id, year, _form(values), login.username, now(), zone
            )

    try:
        await run_in_threadpool(change)
    except LookupError:
        raise HTTPException(status_code=404, detail="window not found") from None
    except (Invalid, Refused) as exc:
        errors = {unit_id: zh_errors(exc)} if isinstance(exc, Invalid) else {}
        messages = {unit_id: exc.message_zh} if isinstance(exc, Refused) else {}
        with sessions() as session:
            return _page(
                request,
                session,
                settings,
                login,
                year,
                errors,
                messages,
                {**values, "unit_id": unit_id},
                status_code=422 if isinstance(exc, Invalid) else 409,
            )
    return see(f"/reports/windows?year={year}#window-{unit_id}")


# -- the JSON twin -------------------------------------------------------------------------------


class ExplanationCreate(BaseModel):
    """收到书面说明: the written explanation of a window for a year, as received."""

    year: int = Field(description="the year the complaints were received in")
    received_on: dt.date = Field(description="the local date the letter arrived")
    submitted_by: str = Field(max_length=64, description="who wrote it (窗口负责人)")
    rectification: str = Field(max_length=2000, description="the rectification proposed")
    note: str = Field(default="", max_length=2000)


class ExplanationPublic(BaseModel):
    id: int
    unit_id: str
    year: int
    received_on: dt.date
    submitted_by: str
    rectification: str
    note: str
    recorded_by: str
    recorded_at: dt.datetime


def _public(given: Explanation) -> ExplanationPublic:
    return ExplanationPublic(
        id=given.id,
        unit_id=given.unit_id,
        year=given.year,
        received_on=given.received_on,
        submitted_by=given.submitted_by,
        rectification=given.rectification,
        note=given.note,
        recorded_by=given.recorded_by,
        recorded_at=given.recorded_at,
    )


@router.get("/api/reports/windows")
def windows_json(
    session: SessionDep, settings: SettingsDep, _login: Supervisor, year: Year = None
) -> Any:
    """Each window's standing for the year (红旗窗口), the complaints behind it and the
    explanations received; ``report`` is the page's tables (``format=xlsx`` on the page)."""
    chosen, zone = _year(settings, year)
    data = windows.windows_year(session, chosen, now(), zone)
    return {
        "year": data.year,
        "as_of": data.as_of.isoformat(),
        "windows": [
            {
                "unit_id": w.id,
                "name": w.name,
                "kind": w.kind,
                "typed": list(w.typed),
                "substantiated": list(w.standing.substantiated),
                "unsubstantiated": list(w.standing.unsubstantiated),
                "pending": list(w.standing.pending),
                "count": w.standing.count,
                "eligible": w.standing.eligible,
                "explanation_owed": w.standing.explanation_owed,
                "verdict": w.standing.verdict,
                "explanation": _public(w.explanation).model_dump(mode="json")
                if w.explanation
                else None,
            }
            for w in data.windows
        ],
        "complaints": [
            {
                "id": c.id,
                "number": c.number,
                "received_at": c.received_at.isoformat(),
                "window_id": c.window_id,
                "finding": c.finding,
                "counted": c.counted,
            }
            for c in data.complaints.values()
        ],
        "report": tables.to_json(windows.report(data, case_link, cases_link)),
    }


@router.post("/api/reports/windows/{unit_id}/explanation", status_code=201)
async def record_json(
    unit_id: str,
    body: ExplanationCreate,
    sessions: WriterDep,
    settings: SettingsDep,
    login: Supervisor,
) -> ExplanationPublic:
    """收到书面说明: record the receipt of the window's written explanation for the year
    (once per window and year: a second one is 409; a window owing none is 409)."""
    zone = ZoneInfo(settings.timezone)
    form = Form(body.received_on, body.submitted_by, body.rectification, body.note)

    def change() -> Explanation:
        with transaction(sessions) as session:
            return windows.record_explanation(
                session, unit_id, body.year, form, login.username, now(), zone
            )

    try:
        return _public(await run_in_threadpool(change))
    except LookupError:
        raise HTTPException(status_code=404, detail="window not found") from None
