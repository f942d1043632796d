"""热点诉求 (统计报表, issue 17): the period's categories, places and terms rising against 环比
and 同比, the clusters of repeated appeals and the risk signals (many callers, one place or
subject, a short time), for the supervisor.

- ``GET /reports/hot?period=&on=`` (``api.report_params``; ``format=xlsx``: the tables as a
  workbook, ``api.report_export``) and its JSON twin ``GET /api/reports/hot``;
- ``GET /reports/hot/cases?…&what=&kind=&key=&which=`` the cases behind one count of the
  page, found again from the same period (a category can stand for hundreds of cases, too
  many to name in a link).

Leaders only (``api.auth.Supervisor``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api import error_pages, report_export, report_params
from api.auth import Supervisor
from api.deps import SessionDep, SettingsDep, now
from api.pages import render
from core.settings import Settings
from dispatch.indicators import hot_topics
from dispatch.indicators.hot_topics import Kind
from dispatch.indicators.periods import Period, PeriodKind, previous
from dispatch.reports import hot, tables
from dispatch.reports.hot import Target, What, Which

router = APIRouter()
PERIOD_NAMES = ("period", "on", "from", "to")
WHICH_LABELS = {Which.CURRENT: "本期", Which.PREVIOUS: "上期", Which.YEAR_EARLIER: "去年同期"}
WHAT_LABELS = {What.TOPIC: "", What.CLUSTER: "重复诉求", What.SIGNAL: "风险苗头"}


def _period(request: Request, settings: Settings) -> Period:
    zone = ZoneInfo(settings.timezone)
    try:
        return report_params.parse(request.query_params, now().astimezone(zone).date(), zone)
    except report_params.BadPeriod as exc:
        raise _BadRequest(exc.en, exc.zh) from None


class _BadRequest(Exception):
    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


def link_for(period: Period) -> hot.Link:
    """The drill-down link of a count on the page of ``period``."""
    base = report_params.query(period)

    def link(target: Target) -> str:
        query = {
            **base,
            "what": target.what.value,
            "kind": target.kind.value,
            "key": target.key,
            "which": target.which.value,
        }
        return "/reports/hot/cases?" + urllib.parse.urlencode(query)

    return link


def _picker(request: Request, data: hot.Hot) -> dict[str, Any]:
    """What the period picker of the report pages (``reports_table.html``) shows."""
    period = data.period

    def link(other: Period) -> str:
        return f"{request.url.path}?{urllib.parse.urlencode(report_params.query(other))}"

    after = report_params.following(period)
    custom = period.kind is PeriodKind.CUSTOM
    return {
        "period": period,
        "kind": period.kind.value,
        "kinds": report_params.KIND_LABELS,
        "previous_link": link(previous(period)),
        "next_link": link(after) if after.first <= data.as_of.astimezone(data.zone).date() else "",
        "this_link": request.url.path + ("" if custom else f"?period={period.kind.value}"),
        "xlsx_link": report_export.xlsx_link(request),
        "as_of_local": data.as_of.astimezone(data.zone).strftime("%Y-%m-%d %H:%M"),
    }


def new_cache() -> hot.Cache:
    """The periods computed before, one per application (``api.app`` keeps it)."""
    return hot.Cache()


def _data(request: Request, session: Session, settings: Settings) -> hot.Hot:
    cache: hot.Cache = request.app.state.hot_cache
    return hot.hot(session, _period(request, settings), now(), cache)


@router.get("/reports/hot", response_class=HTMLResponse, include_in_schema=False)
def hot_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: Supervisor
) -> Response:
    try:
        data = _data(request, session, settings)
    except _BadRequest as exc:
        return error_pages.answer(request, 422, exc.en, exc.zh)
    report = hot.report(data, link_for(data.period))
    if report_export.wants_xlsx(request):
        return report_export.xlsx_response(report)
    return render(
        request,
        "reports_hot.html",
        login,
        settings,
        data=data,
        report=report,
        **_picker(request, data),
        kind_labels=hot_topics.KIND_LABELS,
        rising={kind: data.topics.rising(kind) for kind in (Kind.CATEGORY, Kind.PLACE, Kind.TERM)},
        rising_categories=len(data.topics.rising(Kind.CATEGORY)),
        topic_tables=hot.TOPIC_TABLES,
        drill=None,
    )


@router.get("/reports/hot/cases", response_class=HTMLResponse, include_in_schema=False)
def hot_cases_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: Supervisor
) -> Response:
    """The cases behind one count of the 热点诉求 page."""
    params = request.query_params
    try:
        data = _data(request, session, settings)
        target = Target(
            What(params.get("what", "")),
            Kind(params.get("kind", "")),
            params.get("key", ""),
            Which(params.get("which", Which.CURRENT.value)),
        )
    except _BadRequest as exc:
        return error_pages.answer(request, 422, exc.en, exc.zh)
    except ValueError:
        return error_pages.answer(
            request,
            422,
            "what, kind or which is not one the page uses",
            "链接参数不正确，请从热点诉求页面重新打开。",
        )
    try:
        ids = data.cases_of(target)
    except LookupError:
        raise HTTPException(status_code=404, detail="no such count on the page") from None
    title = (
        f"{WHAT_LABELS[target.what]}{hot_topics.KIND_LABELS[target.kind]}“"
        f"{_label(data, target, ids)}”{WHICH_LABELS[target.which]}的诉求"
    )
    return render(
        request,
        "reports_hot.html",
        login,
        settings,
        data=data,
        drill={
            "title": title,
            "appeals": sorted(
                (data.appeals[i] for i in ids), key=lambda a: (a.received_at, a.number)
            ),
            "back": "/reports/hot?" + urllib.parse.urlencode(report_params.query(data.period)),
        },
    )


def _label(data: hot.Hot, target: Target, ids: tuple[str, ...]) -> str:
    if target.what is What.TOPIC:
        return target.key
    group = next(
        (c for c in data.topics.clusters if (c.kind, c.key) == (target.kind, target.key)), None
    )
    if group is None:
        group = next(
            s.cluster
            for s in data.topics.signals
            if (s.cluster.kind, s.cluster.key) == (target.kind, target.key)
        )
    return data.label(group) if ids else target.key


@router.get("/api/reports/hot")
def hot_json(
    request: Request, session: SessionDep, settings: SettingsDep, _login: Supervisor
) -> Any:
    """热点诉求 for the period (``period``, ``on``, ``from``, ``to`` as on the page): the
    page's tables (``report``) and the risk signals with their cases."""
    try:
        data = _data(request, session, settings)
    except _BadRequest as exc:
        raise HTTPException(status_code=422, detail=exc.en) from None
    return {
        "period": report_params.query(data.period),
        "label": data.period.label,
        "appeals": data.topics.appeals,
        "rising": {
            kind.value: [
                {
                    "key": t.key,
                    "count": t.count,
                    "previous": len(t.month_on_month.earlier.ids),
                    "year_earlier": len(t.year_on_year.earlier.ids),
                    "month_on_month": t.rising_month_on_month,
                    "year_on_year": t.rising_year_on_year,
                }
                for t in data.topics.rising(kind)
            ]
            for kind in (Kind.CATEGORY, Kind.PLACE, Kind.TERM)
        },
        "signals": [
            {
                "kind": s.cluster.kind.value,
                "key": s.cluster.key,
                "label": data.label(s.cluster),
                "callers": s.callers,
                "cases": list(s.ids),
                "first": s.first.isoformat(),
                "last": s.last.isoformat(),
            }
            for s in data.topics.signals
        ],
        "report": tables.to_json(hot.report(data, link_for(data.period))),
    }
