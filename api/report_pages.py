"""统计报表 for leaders (issue 17): the dashboard (总览, ``/reports``), 部门办理排名 with
红黑榜 (``/reports/units``) and the cases or calls behind any figure (``/reports/cases``).

Each page has a JSON twin under ``/api/reports/…`` and an .xlsx of its tables (the page's
URL with ``format=xlsx``, ``api.report_export``); the page, the twin and the workbook come
from one use-case function each (:func:`overview_of`, :func:`ranking_of`, :func:`drill`),
so the three always show the same figures. Rows come from ``dispatch.reports.reader``, one
window per period (the period, the one before for 环比, a year earlier for 同比).

Every figure on these pages links to ``/reports/cases`` with the indicator's key, the
period's parameters, the moment the figures are for (``as_of``, whole seconds) and the
breakdown's group: that route computes the same figure again and lists its ids, so the
list is exactly what the figure counted. A short explicit list (``id=`` repeated) is also
accepted, for other report pages that name their cases themselves.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from api import charts, error_pages, metrics, report_params
from api.auth import Supervisor
from api.deps import RulesDep, SessionDep, SettingsDep, now
from api.pages import render
from api.report_export import wants_xlsx, xlsx_link, xlsx_response
from api.report_params import BadPeriod
from core.ids import is_id
from core.settings import Settings
from dispatch.cases.handling_models import Assignment, Unit
from dispatch.cases.lifecycle import STATUS_LABELS
from dispatch.cases.models import Case
from dispatch.cases.registration import CHANNEL_LABELS, TYPE_LABELS
from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.stage_clocks import Rules
from dispatch.indicators import catalogue, periods
from dispatch.indicators.figures import Figure, Measure, Subject
from dispatch.indicators.periods import Period
from dispatch.reports import overview, ranking, reader
from dispatch.reports.overview import Basis, Names, Ref
from dispatch.reports.tables import Cell, Report, Table, to_json
from dispatch.search.paging import Page, Paging, of_slice
from ivr.models import Call

page_router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/reports", tags=["reports"])
DRILL = "/reports/cases"
PAGE_SIZE = 50
MAX_IDS = 200  # an explicit list (id=…): at most this many
SIDES = {"hits": "计入分子的", "base": "计入分母的"}
CALL_OUTCOMES = {
    "answered": "已接听",
    "message_left": "已留言",
    "abandoned": "排队中挂断",
    "hung_up_during_notice": "提示音期间挂断",
    "failed": "故障",
}


# -- what every report works from ------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """Where the figures stand: the zone, the moment they are for (whole seconds), today."""

    zone: ZoneInfo
    as_of: dt.datetime
    given: bool = False  # named in the request (else: now)

    @property
    def today(self) -> dt.date:
        return self.as_of.astimezone(self.zone).date()

    @property
    def memo_key(self) -> object:
        """What a report computed as of this moment depends on besides the rows' versions:
        now's figures change with the day only (the rows end before now, and a write
        changes a version); a moment named in the request is exactly that moment."""
        return ("as_of", self.as_of) if self.given else ("today", self.today)


def moment(settings: Settings, params: Mapping[str, str] | None = None) -> Moment:
    raw = (params or {}).get("as_of", "").strip()
    as_of = report_params.parse_as_of(raw) if raw else report_params.whole_seconds(now())
    return Moment(ZoneInfo(settings.timezone), as_of, bool(raw))


def basis(settings: Settings, rules: Rules, at: Moment) -> Basis:
    """The 信访 profile counts its handling time in calendar days, the hotline's in working
    days (as their deadlines do)."""
    unit = DayUnit.CALENDAR if settings.deadline_profile == "xinfang" else DayUnit.WORKING
    return Basis(at.as_of, rules.calendar, unit)


def load(
    session: Session, period: Period, at: Moment, cache: reader.Cache | None = None
) -> reader.Data:
    """The rows of one period, complete for figures as of ``at`` (from the app's cache of
    windows when it has one: a repeat view with nothing written since is not read again)."""
    later = at.as_of if at.as_of > period.end else None
    if cache is not None:
        return cache.load(session, period.start, period.end, later)
    return reader.load(session, period.start, period.end, later)


def names_of(session: Session, data: reader.Data) -> Names:
    """Units by id; people by username (who registered a case) and by their phone's
    extension (a call records the extension that answered it)."""
    phones = {
        row[0]: row[1] or row[2]
        for row in session.execute(
            select(User.phone, User.display_name, User.username).where(User.phone != "")
        )
        if row[0]
    }
    return Names(data.units, {**data.operators, **phones})


def cache_of(request: Request) -> reader.Cache | None:
    """The process's cache of report windows (``app.state.report_cache``), if wired."""
    cache = getattr(request.app.state, "report_cache", None)
    return cache if isinstance(cache, reader.Cache) else None


def drill_link(ref: Ref, at: Moment, side: str = "") -> str:
    """The cases or calls behind a figure (see the module's docstring)."""
    query = {"figure": ref.key, **report_params.query(ref.period)}
    query["as_of"] = report_params.as_of_text(at.as_of)
    if ref.dimension:
        query |= {"dim": ref.dimension, "group": ref.group}
    if side:
        query["side"] = side
    return f"{DRILL}?{urllib.parse.urlencode(query)}"


def cases_link(ids: Sequence[str]) -> str:
    """A short explicit list of cases (at most ``MAX_IDS``), for other report pages."""
    return f"{DRILL}?{urllib.parse.urlencode([('id', case_id) for case_id in ids])}"


def inputs(params: Mapping[str, str], settings: Settings) -> tuple[Moment, Period]:
    """The moment and the period a report's parameters name (``BadPeriod`` if wrong)."""
    at = moment(settings, params)
    return at, report_params.parse(params, at.today, at.zone)


# The JSON twins' parameters, as the schema documents them (the pages read the same names).
PeriodKindQ = Annotated[
    str, Query(description="day, week, month (default), quarter, year or custom")
]
OnQ = Annotated[str, Query(description="a local date (YYYY-MM-DD) inside the period; today")]
FromQ = Annotated[str, Query(alias="from", description="a custom period's first local date")]
ToQ = Annotated[str, Query(alias="to", description="a custom period's last local date")]
AsOfQ = Annotated[
    str, Query(description="the moment the figures are for (ISO 8601 with a zone); now")
]


def period_params(period: str, on: str, first: str, last: str, as_of: str) -> dict[str, str]:
    return {"period": period, "on": on, "from": first, "to": last, "as_of": as_of}


def refused(request: Request, exc: BadPeriod) -> Response:
    """A wrong parameter: 422, the Chinese message on a page, the English one for the API."""
    return error_pages.answer(request, 422, exc.en, exc.zh)


def label_maps() -> dict[str, dict[str, str]]:
    return {
        "channels": {str(k): v for k, v in CHANNEL_LABELS.items()},
        "types": {str(k): v for k, v in TYPE_LABELS.items()},
        "statuses": {str(k): v for k, v in STATUS_LABELS.items()},
    }


# -- 总览 --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    period: Period
    at: Moment
    report: Report


def overview_of(
    session: Session,
    settings: Settings,
    rules: Rules,
    period: Period,
    at: Moment,
    cache: reader.Cache | None = None,
) -> Overview:
    """The dashboard's report: the period, the one before (环比) and a year earlier (同比)."""
    current = load(session, period, at, cache)
    before = load(session, periods.previous(period), at, cache)
    year_ago = load(session, periods.year_earlier(period), at, cache)

    def build() -> Report:
        return overview.build(
            current,
            before,
            year_ago,
            period,
            basis(settings, rules, at),
            names_of(session, current),
            lambda ref: drill_link(ref, at),
            title=f"{settings.centre_name}统计总览",
        )

    if cache is None:
        return Overview(period, at, build())
    # A repeat view with nothing written since: the report built before (building it is
    # most of the cost: seconds over a year of 100,000 cases).
    key = ("overview", period, at.memo_key, current.version, before.version, year_ago.version)
    return Overview(period, at, cache.remember(key, build))


KEY_FIGURES = (
    ("calls", "calls.volume"),
    ("calls", "calls.answer_rate"),
    ("calls", "calls.answer_15s_rate"),
    ("cases", "cases.accepted"),
    ("cases", "cases.closure_rate"),
    ("cases", "cases.on_time_rate"),
    ("cases", "cases.overdue"),
    ("feedback", "feedback.satisfaction_rate"),
)


def row_of(table: Table, name: str) -> tuple[Cell, ...] | None:
    for row in table.rows:
        if row[0].text == name:
            return row
    return None


def key_figures(report: Report) -> list[tuple[str, tuple[Cell, ...]]]:
    """The figures shown large at the top: (name, the table row: 本期, 上期, 环比…)."""
    found = []
    for table_key, key in KEY_FIGURES:
        name = catalogue.definition(key).name
        row = row_of(report.table(table_key), name)
        if row is not None:
            found.append((name, row))
    return found


def _column(table: Table, name: str) -> int:
    return table.columns.index(name)


def dashboard_charts(report: Report, settings: Settings) -> dict[str, Any]:
    """The dashboard's pictures, drawn from the report's own tables (so they show the same
    numbers): the trend, bars per unit for 按时办结率 and 满意率, the categories, and the
    five levels of satisfaction."""
    trend = report.table("trend")
    labels = [row[0].text.split("至")[0] for row in trend.rows]  # a part-month: its first day

    def series(name: str, css: str) -> charts.Series:
        index = _column(trend, name)
        return charts.Series(
            name,
            [_number(row[index]) for row in trend.rows],
            css,
            [row[index].href for row in trend.rows],
        )

    units = report.table("by_unit")

    def unit_bars(name: str) -> list[charts.Bar]:
        index = _column(units, name)
        return [
            charts.Bar(row[0].text, _number(row[index]), row[index].text, row[index].href)
            for row in units.rows
            if row[index].value is not None
        ]

    categories = report.table("by_category")
    accepted = _column(categories, "受理量")
    feedback = report.table("feedback")
    levels = [row for row in feedback.rows if row[0].text.endswith("占比")]
    red_on_time = settings.red_list_on_time
    red_satisfaction = settings.red_list_satisfaction
    return {
        "trend": charts.line(
            labels,
            [
                series("来电量", "series-1"),
                series("受理量", "series-2"),
                series("办结量", "series-3"),
            ],
            f"{trend.title}：来电量、受理量、办结量",
        ),
        "on_time": charts.bars(
            unit_bars("按时办结率"),
            "各单位按时办结率",
            percent=True,
            target=red_on_time,
            target_label=f"红榜线 {red_on_time * 100:g}%",
        ),
        "satisfaction": charts.bars(
            unit_bars("满意率"),
            "各单位满意率",
            percent=True,
            target=red_satisfaction,
            target_label=f"红榜线 {red_satisfaction * 100:g}%",
        ),
        "categories": charts.bars(
            [
                charts.Bar(
                    row[0].text, _number(row[accepted]), row[accepted].text, row[accepted].href
                )
                for row in categories.rows[:12]
            ],
            "诉求类别（受理量）",
            css="counts",
        ),
        "levels": charts.bars(
            [
                charts.Bar(
                    row[0].text.removesuffix("占比"), _number(row[1]), row[1].text, row[1].href
                )
                for row in levels
            ],
            "满意度五级分布",
            percent=True,
            css="levels",
        ),
    }


def _number(cell: Cell) -> float | None:
    return float(cell.value) if isinstance(cell.value, int | float) else None


def _nav(request: Request, period: Period, at: Moment) -> dict[str, Any]:
    """The period picker's values and the links to the periods around this one."""

    def link(other: Period) -> str:
        return f"{request.url.path}?{urllib.parse.urlencode(report_params.query(other))}"

    after = report_params.following(period)
    return {
        "period": period,
        "kind": period.kind.value,
        "kinds": report_params.KIND_LABELS,
        "previous_link": link(periods.previous(period)),
        "next_link": link(after) if after.first <= at.today else "",
        "this_link": request.url.path + f"?period={period.kind.value}"
        if period.kind.value != "custom"
        else request.url.path,
        "xlsx_link": xlsx_link(request),
        "as_of_local": at.as_of.astimezone(at.zone).strftime("%Y-%m-%d %H:%M"),
        "here": request.url.path,
    }


@page_router.get("/reports", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rules: RulesDep,
    login: Supervisor,
) -> Response:
    try:
        at, period = inputs(request.query_params, settings)
    except BadPeriod as exc:
        return refused(request, exc)
    export = wants_xlsx(request)
    found = overview_of(session, settings, rules, period, at, cache_of(request))
    if export:
        return xlsx_response(found.report, request.query_params.get("table", ""))
    live = metrics.gather(session, settings, now())
    return render(
        request,
        "reports_dashboard.html",
        login,
        settings,
        report=found.report,
        figures=key_figures(found.report),
        charts=dashboard_charts(found.report, settings),
        live=live,
        live_cells={
            "due_today": live_cell(live.due_today),
            "overdue": live_cell(live.overdue),
        },
        **_nav(request, period, at),
    )


def live_cell(found: Figure) -> Cell:
    """A live count (今日到期, 当前超期) linking to its cases when they are few enough to
    list by id."""
    href = cases_link(found.ids) if found.ids and len(found.ids) <= MAX_IDS else ""
    definition = found.definition
    return Cell(found.text, found.value, href, f"{definition.name}＝{definition.formula}")


def _period_json(period: Period) -> dict[str, str]:
    return {
        "kind": period.kind.value,
        "first": period.first.isoformat(),
        "last": period.last.isoformat(),
        "label": period.label,
    }


@api_router.get("/overview", response_model=None)
def overview_api(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rules: RulesDep,
    _login: Supervisor,
    period: PeriodKindQ = "",
    on: OnQ = "",
    first: FromQ = "",
    last: ToQ = "",
    as_of: AsOfQ = "",
) -> dict[str, Any] | Response:
    """The dashboard's figures as JSON: the report's tables (each cell with its text, value,
    formula and the link to the cases behind it)."""
    params = period_params(period, on, first, last, as_of)
    try:
        at, chosen = inputs(params, settings)
    except BadPeriod as exc:
        return refused(request, exc)
    found = overview_of(session, settings, rules, chosen, at, cache_of(request))
    return {
        "period": _period_json(chosen),
        "as_of": report_params.as_of_text(at.as_of),
        "report": to_json(found.report),
    }


# -- 部门办理排名 -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    period: Period
    at: Moment
    graded: list[ranking.Graded]
    report: Report
    thresholds: ranking.Thresholds


def thresholds(settings: Settings) -> ranking.Thresholds:
    return ranking.Thresholds(
        red_on_time=settings.red_list_on_time,
        red_satisfaction=settings.red_list_satisfaction,
        black_on_time=settings.black_list_on_time,
        black_satisfaction=settings.black_list_satisfaction,
        min_sample=settings.ranking_min_sample,
    )


def ranking_of(
    session: Session,
    settings: Settings,
    rules: Rules,
    period: Period,
    at: Moment,
    cache: reader.Cache | None = None,
) -> Ranking:
    data = load(session, period, at, cache)
    limits = thresholds(settings)

    def build() -> Ranking:
        graded = ranking.assess(data, period, basis(settings, rules, at), data.units, limits)
        report = ranking.report(
            graded,
            period,
            limits,
            lambda ref: drill_link(ref, at),
            title=f"{settings.centre_name}部门办理排名",
        )
        return Ranking(period, at, graded, report, limits)

    if cache is None:
        return build()
    return cache.remember(("ranking", period, at.memo_key, data.version), build)


@page_router.get("/reports/units", response_class=HTMLResponse)
def units_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rules: RulesDep,
    login: Supervisor,
) -> Response:
    try:
        at, period = inputs(request.query_params, settings)
    except BadPeriod as exc:
        return refused(request, exc)
    export = wants_xlsx(request)
    found = ranking_of(session, settings, rules, period, at, cache_of(request))
    if export:
        return xlsx_response(found.report, request.query_params.get("table", ""))
    return render(
        request,
        "reports_units.html",
        login,
        settings,
        report=found.report,
        graded=found.graded,
        band_labels=ranking.BAND_LABELS,
        **_nav(request, period, at),
    )


@api_router.get("/units", response_model=None)
def units_api(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rules: RulesDep,
    _login: Supervisor,
    period: PeriodKindQ = "",
    on: OnQ = "",
    first: FromQ = "",
    last: ToQ = "",
    as_of: AsOfQ = "",
) -> dict[str, Any] | Response:
    """Each unit's band (等次), its lists (红榜, 黑榜) and figures, and the report's tables."""
    params = period_params(period, on, first, last, as_of)
    try:
        at, chosen = inputs(params, settings)
    except BadPeriod as exc:
        return refused(request, exc)
    found = ranking_of(session, settings, rules, chosen, at, cache_of(request))
    return {
        "period": _period_json(chosen),
        "as_of": report_params.as_of_text(at.as_of),
        "units": [
            {
                "unit_id": item.unit_id,
                "name": item.name,
                "band": item.band_label,
                "red_list": item.red_list,
                "black_list": item.black_list,
                "reasons": list(item.reasons),
                "figures": {
                    key: {"value": figure.value, "text": figure.text}
                    for key, figure in item.figures.items()
                },
            }
            for item in found.graded
        ],
        "report": to_json(found.report),
    }


# -- the cases or calls behind a figure ------------------------------------------------------


@dataclass(frozen=True)
class CaseItem:
    id: str
    number: str
    registered_at: dt.datetime
    channel: str
    case_type: str
    category: str
    title: str
    status: str
    unit: str  # the lead unit's name now, or ""


@dataclass(frozen=True)
class CallItem:
    id: str
    started_at: dt.datetime
    caller_number: str
    outcome: str
    operator: str


@dataclass(frozen=True)
class Drill:
    """What a drill-down shows: the figure (or none, for an explicit list), which side of
    it, and the page of its items."""

    subject: Subject
    ids: tuple[str, ...]  # every id, in the list's order
    page: Page[Any]
    figure: Figure | None = None
    side: str = "hits"
    period: Period | None = None
    group: str = ""  # the breakdown group's label
    dimension: str = ""  # the breakdown's label


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def case_items(session: Session, ids: Sequence[str], units: Mapping[str, str]) -> list[CaseItem]:
    """The cases ``ids`` as the list shows them, in that order."""
    found: dict[str, CaseItem] = {}
    leads: dict[str, str | None] = {}
    for chunk in _chunks(ids):
        for case_id, unit_id in session.execute(
            select(Assignment.case_id, Assignment.unit_id)
            .where(Assignment.case_id.in_(chunk), Assignment.role == "lead")
            .order_by(Assignment.dispatched_at, Assignment.id)
        ):
            leads[case_id] = unit_id
        for row in session.execute(
            select(
                Case.id,
                Case.number,
                Case.registered_at,
                Case.channel,
                Case.case_type,
                Case.category,
                Case.title,
                Case.status,
            ).where(Case.id.in_(chunk))
        ):
            lead = leads.get(row[0])
            found[row[0]] = CaseItem(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5] or "",
                row[6],
                row[7],
                units.get(lead, lead) if lead else "",
            )
    return [found[case_id] for case_id in ids if case_id in found]


def call_items(
    session: Session, ids: Sequence[str], operators: Mapping[str, str]
) -> list[CallItem]:
    found: dict[str, CallItem] = {}
    for chunk in _chunks(ids):
        for row in session.execute(
            select(Call.id, Call.started_at, Call.caller_number, Call.outcome, Call.operator).where(
                Call.id.in_(chunk)
            )
        ):
            operator = row[4] or ""
            found[row[0]] = CallItem(
                row[0], row[1], row[2] or "", row[3] or "", operators.get(operator, operator)
            )
    return [found[call_id] for call_id in ids if call_id in found]


def unit_names(session: Session) -> dict[str, str]:
    return {row[0]: row[1] for row in session.execute(select(Unit.id, Unit.name))}


def _ordered(data: reader.Data, ids: Sequence[str], subject: Subject) -> tuple[str, ...]:
    """The ids newest first (cases by when they were received, calls by when they began)."""
    wanted = set(ids)
    if subject is Subject.CALL:
        calls = [call for call in data.calls if call.id in wanted]
        return tuple(c.id for c in sorted(calls, key=lambda c: (c.started_at, c.id), reverse=True))
    files = [file for file in data.files if file.id in wanted]
    ordered = sorted(files, key=lambda f: (f.case.received_at, f.id), reverse=True)
    return tuple(file.id for file in ordered)


def _page_number(params: Mapping[str, str]) -> int:
    raw = params.get("page", "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise BadPeriod("page must be a positive whole number", "页码须为正整数。")
    return int(raw)


def drill(
    session: Session,
    settings: Settings,
    rules: Rules,
    params: Mapping[str, str],
    explicit: Sequence[str],
    at: Moment,
    everything: bool = False,
    cache: reader.Cache | None = None,
) -> Drill:
    """The figure named by the parameters, computed as the report page computed it, and its
    items (one page, or all of them with ``everything``); or an explicit list of cases."""
    paging = Paging(_page_number(params), PAGE_SIZE)
    if explicit:
        if len(explicit) > MAX_IDS or not all(is_id(case_id) for case_id in explicit):
            raise BadPeriod(
                f"id: at most {MAX_IDS} case ids", f"案件标识有误，或超过 {MAX_IDS} 件。"
            )
        rows = session.execute(
            select(Case.id).where(Case.id.in_(list(explicit))).order_by(Case.received_at.desc())
        )
        ids = tuple(row[0] for row in rows)
        shown = ids if everything else tuple(of_slice(ids, paging).items)
        listed = case_items(session, shown, unit_names(session) if shown else {})
        return Drill(Subject.CASE, ids, Page(listed, len(ids), paging))
    key = params.get("figure", "")
    if key not in overview.LINES:
        raise BadPeriod("figure: unknown indicator", "没有这项统计指标。")
    side = params.get("side", "") or "hits"
    if side not in SIDES:
        raise BadPeriod("side must be hits or base", "只能查看分子或分母所含的案件。")
    dimension = params.get("dim", "")
    if dimension and dimension not in overview.DIMENSION_LABELS:
        raise BadPeriod("dim: unknown breakdown", "没有这种分组方式。")
    group = params.get("group", "") if dimension else ""
    period = report_params.parse(params, at.today, at.zone)
    data = load(session, period, at, cache)
    figure = overview.compute(key, data, period, basis(settings, rules, at), dimension, group)
    subject = figure.definition.subject
    ids = _ordered(data, figure.ids if side == "hits" else figure.base_ids, subject)
    shown = ids if everything else tuple(of_slice(ids, paging).items)
    items: Sequence[Any] = (
        call_items(session, shown, names_of(session, data).operators)
        if subject is Subject.CALL
        else case_items(session, shown, data.units)
    )
    return Drill(
        subject,
        ids,
        Page(items, len(ids), paging),
        figure,
        side,
        period,
        overview.group_label(dimension, group, names_of(session, data)) if dimension else "",
        overview.DIMENSION_LABELS.get(dimension, ""),
    )


def drill_title(found: Drill) -> str:
    if found.figure is None or found.period is None:
        return "所选案件"
    group = f"（{found.dimension}：{found.group}）" if found.dimension else ""
    return f"{found.period.label}{group}{found.figure.definition.name}"


def drill_report(found: Drill, zone: ZoneInfo, title: str) -> Report:
    """The list as a one-table report (for the .xlsx)."""
    labels = label_maps()
    if found.subject is Subject.CALL:
        table = Table(
            "calls",
            "来电",
            ("来电时间", "来电号码", "结果", "接听话务员"),
            tuple(
                (
                    Cell(item.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")),
                    Cell(item.caller_number or "未知"),
                    Cell(CALL_OUTCOMES.get(item.outcome, item.outcome or "通话中")),
                    Cell(item.operator),
                )
                for item in found.page.items
            ),
        )
    else:
        table = Table(
            "cases",
            "案件",
            ("编号", "登记时间", "渠道", "类型", "类别", "事项", "状态", "主办单位"),
            tuple(
                (
                    Cell(item.number),
                    Cell(item.registered_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")),
                    Cell(labels["channels"].get(item.channel, item.channel)),
                    Cell(labels["types"].get(item.case_type, item.case_type)),
                    Cell(item.category or "未分类"),
                    Cell(item.title),
                    Cell(labels["statuses"].get(item.status, item.status)),
                    Cell(item.unit or "—"),
                )
                for item in found.page.items
            ),
        )
    notes: tuple[str, ...] = ()
    if found.figure is not None:
        definition = found.figure.definition
        notes = (f"{definition.name}：{definition.formula}",)
    period = found.period.label if found.period is not None else ""
    return Report(title, period, (table,), notes)


def _explicit(request: Request) -> list[str]:
    return [value for value in request.query_params.getlist("id") if value]


def _drill(
    params: Mapping[str, str],
    explicit: Sequence[str],
    session: Session,
    settings: Settings,
    rules: Rules,
    everything: bool,
    cache: reader.Cache | None,
) -> tuple[Drill, Moment]:
    at = moment(settings, params)
    return drill(session, settings, rules, params, explicit, at, everything, cache), at


@page_router.get("/reports/cases", response_class=HTMLResponse)
def drill_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rules: RulesDep,
    login: Supervisor,
) -> Response:
    export = wants_xlsx(request)
    try:
        found, at = _drill(
            request.query_params,
            _explicit(request),
            session,
            settings,
            rules,
            export,
            cache_of(request),
        )
    except BadPeriod as exc:
        return refused(request, exc)
    title = drill_title(found)
    if export:
        return xlsx_response(drill_report(found, at.zone, title))
    other = ""
    if found.figure is not None and found.figure.definition.measure is Measure.RATE:
        flipped = "base" if found.side == "hits" else "hits"
        params = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("side", "page")
        ]
        other = f"{request.url.path}?{urllib.parse.urlencode([*params, ('side', flipped)])}"
    return render(
        request,
        "reports_cases.html",
        login,
        settings,
        found=found.page,
        drill=found,
        title=title,
        sides=SIDES,
        other_side=other,
        outcomes=CALL_OUTCOMES,
        xlsx_link=xlsx_link(request),
        page_link=lambda number: _page_link(request, number),
        here=request.url.path,
        back_link="/reports"
        + (
            "?" + urllib.parse.urlencode(report_params.query(found.period))
            if found.period is not None
            else ""
        ),
    )


def _page_link(request: Request, number: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v]
    if number > 1:
        params.append(("page", str(number)))
    return f"{request.url.path}?{urllib.parse.urlencode(params)}"


@api_router.get("/cases", response_model=None)
def drill_api(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    rules: RulesDep,
    _login: Supervisor,
    figure: Annotated[str, Query(description="the indicator's key, e.g. cases.on_time_rate")] = "",
    side: Annotated[str, Query(description="hits (the numerator's, default) or base")] = "",
    dim: Annotated[str, Query(description="a breakdown: lead_unit, category, channel…")] = "",
    group: Annotated[str, Query(description="the breakdown's group (a unit id…)")] = "",
    page: Annotated[str, Query(description="the page, from 1")] = "",
    ids: Annotated[list[str], Query(alias="id", description="an explicit list of case ids")] = [],  # noqa: B006
    period: PeriodKindQ = "",
    on: OnQ = "",
    first: FromQ = "",
    last: ToQ = "",
    as_of: AsOfQ = "",
) -> dict[str, Any] | Response:
    """The cases or calls behind a figure (the same parameters as the page's links), a page
    at a time, with the figure it lists."""
    params = period_params(period, on, first, last, as_of) | {
        "figure": figure,
        "side": side,
        "dim": dim,
        "group": group,
        "page": page,
    }
    try:
        found, _ = _drill(params, ids, session, settings, rules, False, cache_of(request))
    except BadPeriod as exc:
        return refused(request, exc)
    shown = found.figure
    return {
        "subject": found.subject.value,
        "figure": None
        if shown is None
        else {
            "key": shown.key,
            "name": shown.definition.name,
            "formula": shown.definition.formula,
            "value": shown.value,
            "text": shown.text,
            "numerator": shown.numerator,
            "denominator": shown.denominator,
        },
        "side": found.side,
        "total": found.page.total,
        "page": found.page.paging.page,
        "ids": [item.id for item in found.page.items],
        "items": [
            {
                "id": item.id,
                "number": item.number,
                "registered_at": item.registered_at.isoformat(),
                "status": item.status,
                "title": item.title,
                "unit": item.unit,
            }
            if isinstance(item, CaseItem)
            else {
                "id": item.id,
                "started_at": item.started_at.isoformat(),
                "caller_number": item.caller_number,
                "outcome": item.outcome,
                "operator": item.operator,
            }
            for item in found.page.items
        ],
    }


# What the app includes (one line in api.app): the pages (not in the schema) and the twins.
router = APIRouter()
router.include_router(page_router)
router.include_router(api_router)
