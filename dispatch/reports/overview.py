"""统计总览: a period's figures of the line (calls, cases, feedback, 信访) with 环比 and 同比,
broken down by channel, type, category, lead unit, window and operator, and a trend by day
(or by month for long periods), as one ``tables.Report``: what the dashboard, its .xlsx and
the bulletins show. Pure: rows in (as ``dispatch.reports.reader`` loads them), tables out.

Every figure comes from ``dispatch.indicators`` through :data:`LINES` (indicator key → how
to compute it), and :func:`figure` is the one way to get a figure of the report again,
whole or for one group of a breakdown: the drill-down page lists its ids, so the cases a
page links to are exactly the ones the figure counted. Links are made by a ``Linker`` the
caller gives (the console's URL scheme stays in ``api``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.feedback.scale import Level
from dispatch.indicators import (
    breakdowns,
    calls,
    catalogue,
    feedback,
    handling,
    intake,
    periods,
    petitions,
)
from dispatch.indicators.breakdowns import Dimension
from dispatch.indicators.figures import Change, Figure, Measure, rate
from dispatch.indicators.periods import Period, PeriodKind
from dispatch.indicators.rows import CallbackRow, CallRow, CaseFile
from dispatch.reports.tables import Cell, Report, Table
from dispatch.reports.tables import figure as figure_cell

TITLE = "统计总览"
ANSWERED_BY = "answered_by"
"""A breakdown of calls by the operator who answered them (the case dimensions are
``breakdowns.Dimension``'s)."""
DIMENSION_LABELS: dict[str, str] = {
    **{str(d): label for d, label in breakdowns.DIMENSION_LABELS.items()},
    ANSWERED_BY: "接听话务员",
}
DAILY_DAYS = 62  # up to this many days, the trend is by day; longer periods by month


class Rows(Protocol):
    """The rows a report is computed from (``dispatch.reports.reader.Data`` is one)."""

    @property
    def calls(self) -> Sequence[CallRow]: ...

    @property
    def callbacks(self) -> Sequence[CallbackRow]: ...

    @property
    def files(self) -> Sequence[CaseFile]: ...


@dataclass(frozen=True)
class Subset:
    """Some of a period's rows: one group of a breakdown, or one day of the trend."""

    calls: Sequence[CallRow]
    callbacks: Sequence[CallbackRow]
    files: Sequence[CaseFile]


@dataclass(frozen=True)
class Basis:
    """What every figure is computed against besides the rows and the period: the moment
    the figures are for (``as_of``), the official calendar (holidays and 调休) and the day
    count of the 信访 profile's handling time (calendar days under the 信访 profile)."""

    as_of: dt.datetime
    calendar: WorkingCalendar
    day_unit: DayUnit = DayUnit.CALENDAR


@dataclass(frozen=True)
class On:
    """What one figure is computed over: some rows, a period, the basis, and the unit id
    when the figure is for one lead unit (``None`` otherwise)."""

    rows: Rows
    period: Period
    basis: Basis
    unit: str | None = None

    @property
    def calls(self) -> Sequence[CallRow]:
        return self.rows.calls

    @property
    def callbacks(self) -> Sequence[CallbackRow]:
        return self.rows.callbacks

    @property
    def files(self) -> Sequence[CaseFile]:
        return self.rows.files

    @property
    def as_of(self) -> dt.datetime:
        return self.basis.as_of


Compute = Callable[[On], Figure]


def _worst_24h(on: On) -> Figure:
    window = calls.worst_24h(on.calls, on.period)
    return window.figure if window is not None else rate(calls.WORST_24H, (), ())


def _level(level: Level) -> Compute:
    def compute(on: On) -> Figure:
        return feedback.level_split(on.files, on.period, on.as_of, on.unit)[level]

    return compute


LINES: dict[str, Compute] = {
    # calls
    calls.VOLUME.key: lambda o: calls.volume(o.calls, o.period),
    calls.ANSWER_RATE.key: lambda o: calls.answer_rate(o.calls, o.period),
    calls.ANSWER_15S_RATE.key: lambda o: calls.answer_15s_rate(o.calls, o.period),
    calls.WORST_24H.key: _worst_24h,
    calls.ABANDON_RATE.key: lambda o: calls.abandon_rate(o.calls, o.period),
    calls.MESSAGES.key: lambda o: calls.messages(o.calls, o.period),
    calls.AVERAGE_WAIT.key: lambda o: calls.average_wait(o.calls, o.period),
    calls.AVERAGE_TALK.key: lambda o: calls.average_talk(o.calls, o.period),
    calls.CALLBACK_DONE_RATE.key: lambda o: calls.callback_done_rate(
        o.callbacks, o.period, o.as_of
    ),
    calls.CALLBACK_DELAY.key: lambda o: calls.callback_delay(o.callbacks, o.period, o.as_of),
    calls.REPEAT_RATE.key: lambda o: calls.repeat_rate(o.calls, o.period),
    # intake
    intake.REGISTERED.key: lambda o: intake.registered(o.files, o.period),
    intake.ACCEPTED.key: lambda o: intake.accepted(o.files, o.period),
    intake.REJECTED.key: lambda o: intake.rejected(o.files, o.period),
    intake.REJECTION_RATE.key: lambda o: intake.rejection_rate(o.files, o.period),
    intake.ON_SPOT_RATE.key: lambda o: intake.on_spot_rate(o.files, o.period),
    intake.MERGED.key: lambda o: intake.merged(o.files, o.period),
    intake.WITHDRAWN.key: lambda o: intake.withdrawn(o.files, o.period),
    # handling
    handling.DISPATCHED.key: lambda o: handling.dispatched(o.files, o.period, o.unit),
    handling.SIGN_TIME.key: lambda o: handling.sign_time(
        o.files, o.period, o.as_of, o.basis.calendar, o.unit
    ),
    handling.ON_TIME_DISPATCH_RATE.key: lambda o: handling.on_time_dispatch_rate(
        o.files, o.period, o.as_of, o.unit
    ),
    handling.RETURN_RATE.key: lambda o: handling.return_rate(o.files, o.period, o.as_of, o.unit),
    handling.REASSIGNED.key: lambda o: handling.reassigned(o.files, o.period, o.unit),
    handling.EXTENDED.key: lambda o: handling.extended(o.files, o.period, o.unit),
    handling.CLOSED.key: lambda o: handling.closed(o.files, o.period, o.unit),
    handling.CLOSURE_RATE.key: lambda o: handling.closure_rate(o.files, o.period, o.as_of, o.unit),
    handling.ON_TIME_RATE.key: lambda o: handling.on_time_rate(o.files, o.period, o.as_of, o.unit),
    handling.OVERDUE.key: lambda o: handling.overdue(o.files, o.period, o.as_of, o.unit),
    handling.OVERDUE_RATE.key: lambda o: handling.overdue_rate(o.files, o.period, o.as_of, o.unit),
    handling.REMINDERS.key: lambda o: handling.reminders(o.files, o.period, o.unit),
    handling.YELLOW_CARDS.key: lambda o: handling.yellow_cards(o.files, o.period, o.unit),
    handling.RED_CARDS.key: lambda o: handling.red_cards(o.files, o.period, o.unit),
    handling.REOPEN_RATE.key: lambda o: handling.reopen_rate(o.files, o.period, o.as_of, o.unit),
    # feedback
    feedback.VISIT_RATE.key: lambda o: feedback.visit_rate(o.files, o.period, o.as_of, o.unit),
    feedback.SATISFACTION_RATE.key: lambda o: feedback.satisfaction_rate(
        o.files, o.period, o.as_of, o.unit
    ),
    **{feedback.LEVEL_SHARE[level].key: _level(level) for level in Level},
    feedback.ON_TIME_FEEDBACK_RATE.key: lambda o: feedback.on_time_feedback_rate(
        o.files, o.period, o.as_of, o.unit
    ),
    # 信访
    petitions.REPEAT_PETITION_RATE.key: lambda o: petitions.repeat_petition_rate(
        o.files, o.period, o.as_of, o.unit
    ),
    petitions.HANDLING_DAYS.key: lambda o: petitions.average_handling_time(
        o.files, o.period, o.basis.calendar, DayUnit.CALENDAR, o.unit
    ),
    petitions.HANDLING_WORKING_DAYS.key: lambda o: petitions.average_handling_time(
        o.files, o.period, o.basis.calendar, DayUnit.WORKING, o.unit
    ),
}


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    lines: tuple[str, ...]


def _handling_days_key(basis: Basis) -> str:
    if basis.day_unit is DayUnit.CALENDAR:
        return petitions.HANDLING_DAYS.key
    return petitions.HANDLING_WORKING_DAYS.key


def sections(basis: Basis) -> tuple[Section, ...]:
    """The report's figure tables, in the order the page shows them."""
    return (
        Section(
            "calls",
            "话务",
            tuple(d.key for d in calls.DEFINITIONS),
        ),
        Section(
            "cases",
            "受理与办理",
            (
                intake.REGISTERED.key,
                intake.ACCEPTED.key,
                intake.REJECTED.key,
                intake.REJECTION_RATE.key,
                intake.ON_SPOT_RATE.key,
                handling.DISPATCHED.key,
                handling.SIGN_TIME.key,
                handling.ON_TIME_DISPATCH_RATE.key,
                handling.RETURN_RATE.key,
                handling.REASSIGNED.key,
                handling.EXTENDED.key,
                handling.CLOSED.key,
                handling.CLOSURE_RATE.key,
                handling.ON_TIME_RATE.key,
                handling.OVERDUE.key,
                handling.OVERDUE_RATE.key,
                handling.REMINDERS.key,
                handling.YELLOW_CARDS.key,
                handling.RED_CARDS.key,
                handling.REOPEN_RATE.key,
                intake.MERGED.key,
                intake.WITHDRAWN.key,
            ),
        ),
        Section(
            "feedback",
            "回访与满意度",
            (
                feedback.VISIT_RATE.key,
                feedback.SATISFACTION_RATE.key,
                *(feedback.LEVEL_SHARE[level].key for level in Level),
                feedback.ON_TIME_FEEDBACK_RATE.key,
            ),
        ),
        Section(
            "petitions",
            "信访办理",
            (
                petitions.REPEAT_PETITION_RATE.key,
                _handling_days_key(basis),
                handling.CLOSURE_RATE.key,
                feedback.SATISFACTION_RATE.key,
            ),
        ),
    )


@dataclass(frozen=True)
class Breakdown:
    """A table of figures per group of one dimension."""

    key: str
    dimension: str  # a ``breakdowns.Dimension`` value, or ANSWERED_BY
    lines: tuple[str, ...]
    order_by: str = ""  # a line: groups by its value, largest first (else by key)


BREAKDOWNS = (
    Breakdown(
        "by_unit",
        Dimension.LEAD_UNIT,
        (
            handling.DISPATCHED.key,
            handling.CLOSED.key,
            handling.CLOSURE_RATE.key,
            handling.ON_TIME_RATE.key,
            handling.OVERDUE.key,
            handling.RETURN_RATE.key,
            feedback.SATISFACTION_RATE.key,
        ),
        order_by=handling.DISPATCHED.key,
    ),
    Breakdown(
        "by_category",
        Dimension.CATEGORY,
        (
            intake.ACCEPTED.key,
            handling.CLOSED.key,
            handling.ON_TIME_RATE.key,
            feedback.SATISFACTION_RATE.key,
        ),
        order_by=intake.ACCEPTED.key,
    ),
    Breakdown(
        "by_channel",
        Dimension.CHANNEL,
        (intake.REGISTERED.key, intake.ACCEPTED.key, handling.CLOSED.key),
        order_by=intake.REGISTERED.key,
    ),
    Breakdown(
        "by_type",
        Dimension.TYPE,
        (intake.REGISTERED.key, intake.ACCEPTED.key, handling.CLOSED.key),
        order_by=intake.REGISTERED.key,
    ),
    Breakdown(
        "by_window",
        Dimension.WINDOW,
        (intake.ACCEPTED.key, handling.CLOSED.key, feedback.SATISFACTION_RATE.key),
        order_by=intake.ACCEPTED.key,
    ),
    Breakdown(
        "by_operator",
        Dimension.OPERATOR,
        (intake.REGISTERED.key, intake.ACCEPTED.key, intake.ON_SPOT_RATE.key),
        order_by=intake.REGISTERED.key,
    ),
    Breakdown(
        "calls_by_operator",
        ANSWERED_BY,
        (calls.VOLUME.key, calls.AVERAGE_WAIT.key, calls.AVERAGE_TALK.key),
        order_by=calls.VOLUME.key,
    ),
)
BREAKDOWN_TITLES = {
    "by_unit": "按主办单位",
    "by_category": "按诉求类别",
    "by_channel": "按渠道",
    "by_type": "按诉求类型",
    "by_window": "按被投诉单位（窗口）",
    "by_operator": "按登记人",
    "calls_by_operator": "按接听话务员",
}


# -- computing one figure ----------------------------------------------------------------------


def groups(rows: Rows, dimension: str) -> dict[str, Subset]:
    """The rows of each group of ``dimension``: cases grouped as ``breakdowns.group`` does;
    calls by the operator who answered them (``calls.by_operator``)."""
    if dimension == ANSWERED_BY:
        return {
            operator: Subset(answered, (), ())
            for operator, answered in sorted(calls.by_operator(rows.calls).items())
        }
    return {
        key: Subset((), (), files)
        for key, files in breakdowns.group(rows.files, Dimension(dimension)).items()
    }


def compute(
    key: str,
    rows: Rows,
    period: Period,
    basis: Basis,
    dimension: str = "",
    group: str = "",
) -> Figure:
    """The report's figure ``key`` for the period: over all the rows, or over one group of
    a breakdown (a lead unit's figure counts that unit's rows, as ``breakdowns`` says)."""
    try:
        line = LINES[key]
    except KeyError:
        raise KeyError(f"unknown indicator {key!r}") from None
    if not dimension:
        return line(On(rows, period, basis))
    subset = groups(rows, dimension).get(group, Subset((), (), ()))
    unit = group if dimension == Dimension.LEAD_UNIT else None
    return line(On(subset, period, basis, unit))


# -- links -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """What a figure's link names: the indicator, its period, and the group of a breakdown
    (empty for the whole)."""

    key: str
    period: Period
    dimension: str = ""
    group: str = ""


Linker = Callable[[Ref], str]


def no_links(_ref: Ref) -> str:
    return ""


# -- the report --------------------------------------------------------------------------------

FIGURE_COLUMNS = ("指标", "本期", "上期", "环比", "去年同期", "同比")


@dataclass(frozen=True)
class Names:
    """Names for the keys the rows carry: units (id → name) and users (username → display
    name)."""

    units: Mapping[str, str]
    operators: Mapping[str, str]


def change_cell(change: Change) -> Cell:
    """环比 or 同比: for a rate the difference in 个百分点, for a count or a mean the growth
    (增长率); — when either side has no value (or the earlier count is 0)."""
    if change.current.definition.measure is Measure.RATE:
        delta = change.delta
        if delta is None:
            return Cell("—")
        return Cell(f"{delta * 100:+.1f}个百分点", delta, percent=True)
    growth = change.growth
    if growth is None:
        return Cell("—")
    return Cell(f"{growth * 100:+.1f}%", growth, percent=True)


def _figure_table(
    section: Section,
    current: Rows,
    previous: Rows,
    year_earlier: Rows,
    period: Period,
    basis: Basis,
    link: Linker,
) -> Table:
    before, last_year = periods.previous(period), periods.year_earlier(period)
    rows = []
    notes = []
    for key in section.lines:
        now = compute(key, current, period, basis)
        earlier = compute(key, previous, before, basis)
        year_ago = compute(key, year_earlier, last_year, basis)
        definition = now.definition
        rows.append(
            (
                Cell(definition.name, title=definition.formula),
                figure_cell(now, link(Ref(key, period))),
                figure_cell(earlier, link(Ref(key, before))),
                change_cell(Change(now, earlier)),
                figure_cell(year_ago, link(Ref(key, last_year))),
                change_cell(Change(now, year_ago)),
            )
        )
        notes.append(f"{definition.name}：{definition.formula}")
    if calls.WORST_24H.key in section.lines:
        notes.append(_worst_note(current, period))
    return Table(section.key, section.title, FIGURE_COLUMNS, tuple(rows), tuple(notes))


def _worst_note(rows: Rows, period: Period) -> str:
    window = calls.worst_24h(rows.calls, period)
    if window is None:
        return "任意连续24小时接通率：期内没有可计算的连续24小时（或无人工排队来电）。"
    zone = period.zone
    start = window.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    end = window.end.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    verdict = "达标" if window.meets_target else "未达标"
    return (
        f"最低的连续24小时为 {start} 至 {end}，人工接通率 {window.figure.text}，"
        f"对照 GB/T 33358-2016 要求的 {window.target * 100:.0f}%：{verdict}。"
    )


def group_label(dimension: str, key: str, names: Names) -> str:
    if dimension in (Dimension.LEAD_UNIT, Dimension.WINDOW) and key in names.units:
        return names.units[key]
    if dimension in (Dimension.OPERATOR, ANSWERED_BY) and key in names.operators:
        return names.operators[key] or key
    if dimension == ANSWERED_BY:
        return key or "未指定"
    return breakdowns.key_label(Dimension(dimension), key)


def breakdown_figures(
    spec: Breakdown, rows: Rows, period: Period, basis: Basis
) -> dict[str, dict[str, Figure]]:
    """Each group's figures (group key → line key → figure), in the table's order."""
    found = {
        group: {
            key: LINES[key](
                On(subset, period, basis, group if spec.dimension == Dimension.LEAD_UNIT else None)
            )
            for key in spec.lines
        }
        for group, subset in groups(rows, spec.dimension).items()
    }
    if spec.order_by:

        def size(item: tuple[str, dict[str, Figure]]) -> tuple[float, str]:
            value = item[1][spec.order_by].value
            return (-(value or 0.0), item[0])

        found = dict(sorted(found.items(), key=size))
    return found


def _breakdown_table(
    spec: Breakdown,
    rows: Rows,
    period: Period,
    basis: Basis,
    names: Names,
    link: Linker,
) -> Table:
    found = breakdown_figures(spec, rows, period, basis)
    definitions = [catalogue.definition(key) for key in spec.lines]
    body = tuple(
        (
            Cell(group_label(spec.dimension, group, names)),
            *(
                figure_cell(figures[key], link(Ref(key, period, spec.dimension, group)))
                for key in spec.lines
            ),
        )
        for group, figures in found.items()
        if any(figure.value for figure in figures.values())
    )
    return Table(
        spec.key,
        BREAKDOWN_TITLES[spec.key],
        (DIMENSION_LABELS[spec.dimension], *(d.name for d in definitions)),
        body,
        (_breakdown_note(spec.dimension),),
    )


def _breakdown_note(dimension: str) -> str:
    if dimension == Dimension.LEAD_UNIT:
        return (
            "按主办单位：一件案件计入曾主办它的每个单位，各项按该单位的交办、时限、评价记录计算"
            "（被退回的单位计退回，改派后的单位计办结）。"
        )
    if dimension == ANSWERED_BY:
        return "按接听话务员：只计话务员接听的来电。"
    return "各组之和可能与总数不同：未分组或无数据的组不列出。"


def trend_periods(period: Period) -> list[Period]:
    """The points of the trend: each day of the period, or each (part of a) month when the
    period is longer than :data:`DAILY_DAYS` days."""
    zone = period.zone
    if period.days <= DAILY_DAYS:
        return [
            periods.day(period.first + dt.timedelta(days=offset), zone)
            for offset in range(period.days)
        ]
    points = []
    first = period.first
    while first <= period.last:
        month = periods.month(first.year, first.month, zone)
        last = min(month.last, period.last)
        points.append(
            month
            if (first, last) == (month.first, month.last)
            else periods.custom(first, last, zone)
        )
        first = last + dt.timedelta(days=1)
    return points


TREND_LINES = (
    calls.VOLUME.key,
    intake.REGISTERED.key,
    intake.ACCEPTED.key,
    handling.CLOSED.key,
)


def _bucket(period: Period, points: list[Period]) -> Callable[[dt.datetime], int | None]:
    firsts = [point.first for point in points]

    def index(moment: dt.datetime) -> int | None:
        if not period.contains(moment):
            return None
        day = period.local_date(moment)
        low, high = 0, len(firsts)
        while high - low > 1:
            middle = (low + high) // 2
            if firsts[middle] <= day:
                low = middle
            else:
                high = middle
        return low

    return index


def trend(rows: Rows, period: Period, basis: Basis) -> list[tuple[Period, dict[str, Figure]]]:
    """The trend's counts per point. The rows are first split by the points their times
    fall in (a call by its start, a case by every moment of its history), so each point's
    figure is computed by the indicator over the rows that can count in it."""
    points = trend_periods(period)
    where = _bucket(period, points)
    call_parts: list[list[CallRow]] = [[] for _ in points]
    file_parts: list[list[CaseFile]] = [[] for _ in points]
    for call in rows.calls:
        index = where(call.started_at)
        if index is not None:
            call_parts[index].append(call)
    for file in rows.files:
        moments: Iterable[dt.datetime] = (file.case.received_at, *(e.at for e in file.events))
        hit = {index for moment in moments if (index := where(moment)) is not None}
        for index in hit:
            file_parts[index].append(file)
    return [
        (
            point,
            {
                key: LINES[key](On(Subset(call_parts[i], (), file_parts[i]), point, basis))
                for key in TREND_LINES
            },
        )
        for i, point in enumerate(points)
    ]


def _point_label(point: Period) -> str:
    if point.kind is PeriodKind.DAY:
        return point.first.isoformat()
    if point.kind is PeriodKind.MONTH:
        return f"{point.first.year}-{point.first.month:02d}"
    return f"{point.first.isoformat()}至{point.last.isoformat()}"


def _trend_table(rows: Rows, period: Period, basis: Basis, link: Linker) -> Table:
    points = trend(rows, period, basis)
    daily = period.days <= DAILY_DAYS
    return Table(
        "trend",
        "每日趋势" if daily else "每月趋势",
        ("日期" if daily else "月份", *(catalogue.definition(k).name for k in TREND_LINES)),
        tuple(
            (
                Cell(_point_label(point)),
                *(figure_cell(figures[k], link(Ref(k, point))) for k in TREND_LINES),
            )
            for point, figures in points
        ),
        ("按日期（北京时间）统计；来电按呼入时间，登记按收到时间，受理、办结按该操作的时间。",),
    )


def build(
    current: Rows,
    previous: Rows,
    year_earlier: Rows,
    period: Period,
    basis: Basis,
    names: Names,
    link: Linker = no_links,
    title: str = TITLE,
) -> Report:
    """The whole report for ``period``: the figure tables with 环比 (``previous`` holds the
    rows of ``periods.previous(period)``) and 同比 (``year_earlier``: those of
    ``periods.year_earlier(period)``), the breakdowns and the trend of the period."""
    tables = [
        _figure_table(s, current, previous, year_earlier, period, basis, link)
        for s in sections(basis)
    ]
    tables += [_breakdown_table(b, current, period, basis, names, link) for b in BREAKDOWNS]
    tables.append(_trend_table(current, period, basis, link))
    before, last_year = periods.previous(period), periods.year_earlier(period)
    as_of = basis.as_of.astimezone(period.zone).strftime("%Y-%m-%d %H:%M")
    return Report(
        title,
        period.label,
        tuple(tables),
        (
            f"统计期：{period.label}；上期（环比）：{before.label}；去年同期（同比）："
            f"{last_year.label}；数据截至 {as_of}（北京时间）。",
            "比率无可计算的分母时显示“—”，不作 0% 或 100% 计。",
        ),
    )
