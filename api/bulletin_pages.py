"""The bulletins (通报, issue 17 item 3) for leaders: ``/bulletins`` lists them (by kind) and
makes one now for any closed period; ``/bulletins/{id}`` shows its tables as they were
when it was made, ``?format=xlsx`` gives them as Excel (``api.report_export``, the report
pages' pattern) and ``/bulletins/{id}.pdf`` as PDF (``api.pdf``). The JSON twins are under
``/api/bulletins``. The schedule's job (``api.background.bulletins_forever``) makes the
daily, weekly and monthly ones with the same :func:`maker`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api import pdf, report_export, report_pages, report_params
from api.auth import Login, Supervisor
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.labels import actor_label
from api.pages import render, templates
from core.settings import Settings
from custody.dossier import zone_name
from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.rules_source import RulesSource
from dispatch.indicators.periods import PERIOD_KIND_LABELS, Period, PeriodKind
from dispatch.reports import bulletins
from dispatch.reports.bulletin_models import Bulletin
from dispatch.reports.bulletins import BulletinNotFound, Maker
from dispatch.reports.overview import Linker
from dispatch.reports.tables import Report, to_json

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/bulletins", tags=["reports"])
KIND_CHOICES = {kind.value: PERIOD_KIND_LABELS[kind] for kind in PeriodKind}
NOT_CLOSED_ZH = "该统计期尚未结束，只能为已结束的统计期生成通报。"


def maker(settings: Settings, rules: RulesSource) -> Maker:
    """What the pages and the schedule make bulletins with: the 部门办理排名's thresholds
    and day unit, the calendar as the deadlines read it, and the drill-down's links as of
    the bulletin's making (so a figure's link lists the very cases it counted)."""
    zone = ZoneInfo(settings.timezone)

    def links(as_of: dt.datetime) -> Linker:
        at = report_pages.Moment(zone, as_of)
        return lambda ref: report_pages.drill_link(ref, at)

    unit = DayUnit.CALENDAR if settings.deadline_profile == "xinfang" else DayUnit.WORKING
    return Maker(
        settings.centre_name,
        report_pages.thresholds(settings),
        zone,
        lambda: rules.rules().calendar,
        unit,
        links,
    )


def _maker(request: Request, settings: Settings) -> Maker:
    return maker(settings, request.app.state.rules)


def _zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def _kind(raw: str) -> PeriodKind | None:
    if not raw:
        return None
    try:
        return PeriodKind(raw)
    except ValueError:
        raise HTTPException(status_code=422, detail="kind must be a period kind") from None


class NotClosed(ValueError):
    def __init__(self) -> None:
        super().__init__("a bulletin is made only for a period that has ended")


def asked_period(params: dict[str, str], settings: Settings, moment: dt.datetime) -> Period:
    """The closed period a supervisor asked for (``report_params``' parameters)."""
    zone = _zone(settings)
    period = report_params.parse(params, moment.astimezone(zone).date(), zone)
    if period.end > moment:
        raise NotClosed
    return period


def _found(session: Session, bulletin_id: str) -> Bulletin:
    try:
        return bulletins.find(session, bulletin_id)
    except BulletinNotFound:
        raise HTTPException(status_code=404, detail="bulletin not found") from None


# -- pages -------------------------------------------------------------------------------


def _list_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    kind = _kind(request.query_params.get("kind", ""))
    zone = _zone(settings)
    last_month = bulletins.last_closed(now(), zone)[2]
    return render(
        request,
        "bulletins.html",
        login,
        settings,
        status_code=status_code,
        rows=bulletins.recent(session, kind),
        kind=kind.value if kind else "",
        kinds=KIND_CHOICES,
        errors=errors or {},
        values=values or {"period": "month", "on": last_month.first.isoformat()},
        scheduled=settings.bulletin_interval_seconds > 0,
    )


@router.get("/bulletins", response_class=HTMLResponse)
def bulletin_list(
    request: Request, session: SessionDep, settings: SettingsDep, login: Supervisor
) -> HTMLResponse:
    return _list_page(request, session, settings, login)


@router.post("/bulletins", response_class=HTMLResponse)
async def make_bulletin(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    moment = now()
    try:
        period = asked_period(values, settings, moment)
    except (report_params.BadPeriod, NotClosed) as exc:
        message = exc.zh if isinstance(exc, report_params.BadPeriod) else NOT_CLOSED_ZH
        with sessions() as session:
            return _list_page(request, session, settings, login, {"period": message}, values, 422)
    made = await run_in_threadpool(
        bulletins.make, sessions, _maker(request, settings), period, moment, login.username
    )
    return RedirectResponse(
        f"/bulletins/{made.bulletin_id}?{'made' if made.new else 'existed'}=1", status_code=303
    )


def _pdf_html(report: Report, row: Bulletin, settings: Settings, for_pdf: bool) -> str:
    zone = _zone(settings)
    return templates.get_template("print_bulletin.html").render(
        report=report,
        doc_title=row.title,
        number="",
        centre_name=settings.centre_name,
        period=report.period,
        made_at=row.made_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        made_by=actor_label(row.made_by),
        printed_at=now().astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        zone_label=zone_name(zone),
        for_pdf=for_pdf,
        back_href=f"/bulletins/{row.id}",
        pdf_href=f"/bulletins/{row.id}.pdf",
    )


@router.get("/bulletins/{bulletin_id}.pdf")
def bulletin_pdf(
    bulletin_id: str, session: SessionDep, settings: SettingsDep, _login: Supervisor
) -> Response:
    row = _found(session, bulletin_id)
    report = bulletins.report_of(row)
    name = f"{row.title}.pdf"
    return Response(
        pdf.render(_pdf_html(report, row, settings, True)),
        media_type=pdf.MEDIA_TYPE,
        headers={"Content-Disposition": pdf.content_disposition(name, "bulletin.pdf")},
    )


@router.get("/bulletins/{bulletin_id}", response_class=HTMLResponse)
def bulletin_page(
    bulletin_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: Supervisor,
) -> Response:
    row = _found(session, bulletin_id)
    report = bulletins.report_of(row)
    if report_export.wants_xlsx(request):
        return report_export.xlsx_response(report)
    zone = _zone(settings)
    return render(
        request,
        "bulletin.html",
        login,
        settings,
        row=row,
        report=report,
        kind_label=bulletins.kind_label(row.kind),
        made_at=row.made_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        made_by=actor_label(row.made_by),
        xlsx_href=report_export.xlsx_link(request),
        made=request.query_params.get("made") == "1",
        existed=request.query_params.get("existed") == "1",
    )


# -- JSON ----------------------------------------------------------------------------------


class BulletinSummary(BaseModel):
    id: str
    kind: PeriodKind
    kind_label: str
    first_day: dt.date
    last_day: dt.date
    title: str
    made_at: dt.datetime
    made_by: str
    as_of: dt.datetime


class BulletinMade(BulletinSummary):
    new: bool = Field(description="false: the period's bulletin existed already")


class BulletinOut(BulletinSummary):
    report: dict[str, Any] = Field(description="the tables (dispatch.reports.tables.to_json)")


class BulletinAsk(BaseModel):
    """A closed period, as the report pages name it: ``period`` and a day ``on`` in it, or
    ``from`` and ``to`` for a custom one."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    period: PeriodKind = PeriodKind.MONTH
    on: dt.date | None = None
    first: dt.date | None = Field(default=None, alias="from")
    last: dt.date | None = Field(default=None, alias="to")

    def params(self) -> dict[str, str]:
        named = {"period": self.period.value, "on": self.on, "from": self.first, "to": self.last}
        return {k: v if isinstance(v, str) else v.isoformat() for k, v in named.items() if v}


def _summary(row: Bulletin, zone: ZoneInfo) -> BulletinSummary:
    return BulletinSummary(
        id=row.id,
        kind=PeriodKind(row.kind),
        kind_label=bulletins.kind_label(row.kind),
        first_day=row.first_day,
        last_day=row.last_day,
        title=row.title,
        made_at=row.made_at.astimezone(zone),
        made_by=row.made_by,
        as_of=row.as_of.astimezone(zone),
    )


def _invalid(field: str, message: str) -> JSONResponse:
    """A refused field, in the shape of every 422 of the API."""
    return JSONResponse(
        {"detail": [{"loc": ["body", field], "msg": message, "type": "value_error"}]},
        status_code=422,
    )


@api_router.get("")
def list_bulletins(
    session: SessionDep,
    settings: SettingsDep,
    _login: Supervisor,
    kind: PeriodKind | None = None,
) -> list[BulletinSummary]:
    """The bulletins, newest period first (of one kind)."""
    zone = _zone(settings)
    return [_summary(row, zone) for row in bulletins.recent(session, kind)]


@api_router.post(
    "",
    status_code=201,
    response_model=BulletinMade,
    responses={200: {"model": BulletinMade, "description": "made already"}},
)
def make_bulletin_json(
    ask: BulletinAsk,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: Supervisor,
) -> Response:
    """Make the bulletin of a closed period: 201 with it, or 200 with the one made already."""
    moment = now()
    try:
        period = asked_period(ask.params(), settings, moment)
    except report_params.BadPeriod as exc:
        return _invalid("period", exc.en)
    except NotClosed as exc:
        return _invalid("period", str(exc))
    made = bulletins.make(sessions, _maker(request, settings), period, moment, login.username)
    with sessions() as session:
        row = _found(session, made.bulletin_id)
        out = BulletinMade(**_summary(row, _zone(settings)).model_dump(), new=made.new)
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if made.new else 200)


@api_router.get("/{bulletin_id}")
def bulletin_json(
    bulletin_id: str, session: SessionDep, settings: SettingsDep, _login: Supervisor
) -> BulletinOut:
    """A bulletin with its tables as they were when it was made."""
    row = _found(session, bulletin_id)
    summary = _summary(row, _zone(settings)).model_dump()
    return BulletinOut(**summary, report=to_json(bulletins.report_of(row)))
