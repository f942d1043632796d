"""Bulletins (通报, issue 17 item 3): the line's figures for a day, an ISO week or a month,
made by the schedule when the period closes (and for any period on a supervisor's demand),
stored, listed and downloaded as Excel and PDF.

- The schedule (pure): at a moment ``now``, the periods due are the last closed day, ISO
  week and month in the configured zone (:func:`last_closed`); those without a bulletin are
  made (:func:`missing`). Only the last closed period of each kind is due: a schedule that
  was off for a while does not fill the past (a supervisor makes any period on demand).
- The content (pure, :func:`content`): a ``tables.Report`` titled e.g.
  ``12345政务服务便民热线月度通报（2026年11月）``: the line's main figures with 环比 and 同比;
  each unit's 受理数, 办结数, 按时办结率 and 群众满意率 (seed 000's words) with its place
  on the 红黑榜 (thresholds are settings); the 红黑榜 itself; the citizens' ratings on the
  five levels; the categories most asked about. Every figure comes from
  ``dispatch.indicators`` (never a formula here), with its formula on hover.
- Storage (:func:`make`, :func:`make_due`): one row per kind and period (unique), the report
  as JSON (``tables.to_json``), when and by whom it was made and the moment its figures are
  for (``as_of``, the making time: cohort rates such as 办结率 follow the cases to then).
  The .xlsx and the PDF are rendered from that JSON when downloaded: the JSON is the
  bulletin, the files are views of it, so no file on disk can be orphaned by a failed row
  or disagree with it. The figures are worked out before the write transaction (no write
  lock held while reading); two processes racing for one period both compute it, and the
  unique key lets one row win, the other process reading the winner's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.feedback.scale import LEVEL_LABELS, Level
from dispatch.indicators import calls as call_figures
from dispatch.indicators import feedback, handling, intake
from dispatch.indicators.breakdowns import Dimension, group, key_label
from dispatch.indicators.figures import Change, Figure, Measure, trend
from dispatch.indicators.periods import (
    PERIOD_KIND_LABELS,
    Period,
    PeriodKind,
    custom,
    period_at,
    period_of,
    previous,
    year_earlier,
)
from dispatch.reports import reader
from dispatch.reports.bulletin_models import Bulletin
from dispatch.reports.reader import Data as Rows
from dispatch.reports.tables import Cell, Report, Table, figure, number, text
from dispatch.reports.tables import from_json as report_from_json
from dispatch.reports.tables import to_json as report_to_json

SCHEDULED = (PeriodKind.DAY, PeriodKind.WEEK, PeriodKind.MONTH)
KIND_TITLES = {
    PeriodKind.DAY: "每日通报",
    PeriodKind.WEEK: "每周通报",
    PeriodKind.MONTH: "月度通报",
    PeriodKind.QUARTER: "季度通报",
    PeriodKind.YEAR: "年度通报",
    PeriodKind.CUSTOM: "专题通报",
}
SYSTEM = "system:bulletins"  # made_by of the schedule's bulletins (shown as 系统)
TOP_CATEGORIES = 10
RED, BLACK = "红榜", "黑榜"


# -- the schedule (pure) -----------------------------------------------------------------


def last_closed(now: dt.datetime, zone: ZoneInfo) -> list[Period]:
    """The day, ISO week and month that closed last before ``now`` (in ``zone``)."""
    return [previous(period_at(kind, now, zone)) for kind in SCHEDULED]


Key = tuple[str, dt.date, dt.date]


def key_of(period: Period) -> Key:
    return (period.kind.value, period.first, period.last)


def missing(now: dt.datetime, zone: ZoneInfo, made: Collection[Key]) -> list[Period]:
    """The scheduled periods due at ``now`` that have no bulletin among ``made``."""
    return [period for period in last_closed(now, zone) if key_of(period) not in made]


def period_for(kind: PeriodKind, first: dt.date, last: dt.date, zone: ZoneInfo) -> Period:
    """The period a supervisor asked for: a day, week, month, quarter or year holding
    ``first`` (``last`` is not used), or the custom days ``first`` to ``last``."""
    if kind is PeriodKind.CUSTOM:
        return custom(first, last, zone)
    return period_of(kind, first, zone)


# -- the content (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The 红黑榜's thresholds (settings ``red_list_*``, ``black_list_*``)."""

    red_satisfaction: float
    red_on_time: float
    black_satisfaction: float
    black_on_time: float


Links = Callable[[Figure, Period, str | None], str]
"""The address of the cases or calls behind a figure (for a unit, or the whole line)."""


def no_links(_figure: Figure, _period: Period, _unit: str | None) -> str:
    return ""


def title(centre_name: str, kind: PeriodKind) -> str:
    """The report's title, e.g. 12345政务服务便民热线月度通报 (its period is beside it)."""
    return f"{centre_name}{KIND_TITLES[kind]}"


def full_title(centre_name: str, period: Period) -> str:
    """The title with the period, as the list and the files name the bulletin."""
    return f"{title(centre_name, period.kind)}（{period.label}）"


def listing(rate_of: Figure | None, on_time: Figure | None, limits: Thresholds) -> str:
    """红榜 when both rates reach the red thresholds; 黑榜 when either falls below its black
    threshold; else nothing (a unit with neither rate is on no list)."""
    satisfaction = rate_of.value if rate_of is not None else None
    punctual = on_time.value if on_time is not None else None
    if (satisfaction is not None and satisfaction < limits.black_satisfaction) or (
        punctual is not None and punctual < limits.black_on_time
    ):
        return BLACK
    if (
        satisfaction is not None
        and punctual is not None
        and satisfaction >= limits.red_satisfaction
        and punctual >= limits.red_on_time
    ):
        return RED
    return ""


def _percent(value: float) -> str:
    """A threshold or a share as people write it: 85%, 57.5%."""
    shown = f"{value * 100:.1f}"
    return f"{shown.removesuffix('.0')}%"


def change_cell(change: Change) -> Cell:
    """环比 or 同比: a rate's change in 个百分点, a count's or mean's growth in per cent."""
    delta = change.delta
    if delta is None:
        return Cell("—")
    if change.current.definition.measure is Measure.RATE:
        points = round(delta * 100, 1)
        return Cell(f"{points:+.1f}个百分点", points)
    growth = change.growth
    if growth is None:
        return Cell("—")
    return Cell(f"{growth * 100:+.1f}%", growth, percent=True)


# The line's figures, in the bulletin's order: (computed from the rows, for a period, as of).
LineFigure = Callable[[Rows, Period, dt.datetime], Figure | None]


def _worst_24h(rows: Rows, period: Period, _as_of: dt.datetime) -> Figure | None:
    window = call_figures.worst_24h(rows.calls, period)
    return window.figure if window is not None else None


LINE: tuple[LineFigure, ...] = (
    lambda r, p, _a: call_figures.volume(r.calls, p),
    lambda r, p, _a: call_figures.answer_rate(r.calls, p),
    lambda r, p, _a: call_figures.answer_15s_rate(r.calls, p),
    _worst_24h,
    lambda r, p, _a: call_figures.abandon_rate(r.calls, p),
    lambda r, p, _a: call_figures.messages(r.calls, p),
    lambda r, p, _a: intake.registered(r.files, p),
    lambda r, p, _a: intake.accepted(r.files, p),
    lambda r, p, _a: intake.rejected(r.files, p),
    lambda r, p, _a: intake.on_spot_rate(r.files, p),
    lambda r, p, _a: handling.dispatched(r.files, p),
    lambda r, p, _a: handling.closed(r.files, p),
    lambda r, p, a: handling.closure_rate(r.files, p, a),
    lambda r, p, a: handling.on_time_rate(r.files, p, a),
    lambda r, p, a: handling.overdue(r.files, p, a),
    lambda r, p, _a: handling.reminders(r.files, p),
    lambda r, p, _a: handling.yellow_cards(r.files, p),
    lambda r, p, _a: handling.red_cards(r.files, p),
    lambda r, p, a: feedback.visit_rate(r.files, p, a),
    lambda r, p, a: feedback.satisfaction_rate(r.files, p, a),
)


def _line_table(
    rows: Mapping[Period, Rows], period: Period, as_of: dt.datetime, links: Links
) -> Table:
    out = []
    for line_figure in LINE:
        current = line_figure(rows[period], period, as_of)
        if current is None:  # no worst 24 hours: no call asked for a person
            continue

        def at(
            other: Period, line_figure: LineFigure = line_figure, model: Figure = current
        ) -> Figure:
            found = line_figure(rows[other], other, as_of)
            return found if found is not None else Figure(model.definition, None, 0, None, ())

        seen = trend(at, period)
        out.append(
            (
                text(current.definition.name),
                figure(current, links(current, period, None)),
                figure(seen.month_on_month.earlier),
                change_cell(seen.month_on_month),
                figure(seen.year_on_year.earlier),
                change_cell(seen.year_on_year),
            )
        )
    return Table(
        "line",
        "全线主要指标",
        ("指标", "本期", "上期", "环比", "去年同期", "同比"),
        tuple(out),
        (
            "环比：与上一个同类周期相比；同比：与去年同期相比。比率的变化以个百分点计，"
            "数量的变化以增长率计。",
            f"统计时点：{as_of.astimezone(period.zone):%Y-%m-%d %H:%M}（办结率、回访率等"
            "按期内受理或审核的案件截至统计时点的状态计算）。",
        ),
    )


@dataclass(frozen=True)
class UnitLine:
    unit_id: str
    name: str
    accepted: Figure
    closed: Figure
    on_time: Figure
    satisfaction: Figure
    listed: str


def unit_lines(
    rows: Rows,
    period: Period,
    as_of: dt.datetime,
    unit_names: Mapping[str, str],
    limits: Thresholds,
) -> list[UnitLine]:
    """Each unit's 受理数 (cases dispatched to it as lead), 办结数, 按时办结率, 满意率 and its
    list; the units named in ``unit_names`` and any other unit that led a case of the rows.
    Ranked: 红榜 first, 黑榜 last, then by 满意率 and 按时办结率 (none last), then name."""
    grouped = group(rows.files, Dimension.LEAD_UNIT)
    lines = []
    for unit_id in sorted(set(unit_names) | set(grouped)):
        files = grouped.get(unit_id, [])
        on_time = handling.on_time_rate(files, period, as_of, unit_id)
        satisfaction = feedback.satisfaction_rate(files, period, as_of, unit_id)
        lines.append(
            UnitLine(
                unit_id,
                unit_names.get(unit_id, unit_id),
                handling.dispatched(files, period, unit_id),
                handling.closed(files, period, unit_id),
                on_time,
                satisfaction,
                listing(satisfaction, on_time, limits),
            )
        )
    order = {RED: 0, "": 1, BLACK: 2}

    def rank(line: UnitLine) -> tuple[int, float, float, str]:
        satisfied = line.satisfaction.value
        punctual = line.on_time.value
        return (
            order[line.listed],
            -(satisfied if satisfied is not None else -1.0),
            -(punctual if punctual is not None else -1.0),
            line.name,
        )

    return sorted(lines, key=rank)


def _units_table(lines: Sequence[UnitLine], period: Period, links: Links) -> Table:
    return Table(
        "units",
        "各单位办理情况",
        ("单位", "受理数", "办结数", "按时办结率", "群众满意率", "红黑榜"),
        tuple(
            (
                text(line.name),
                figure(line.accepted, links(line.accepted, period, line.unit_id)),
                figure(line.closed, links(line.closed, period, line.unit_id)),
                figure(line.on_time, links(line.on_time, period, line.unit_id)),
                figure(line.satisfaction, links(line.satisfaction, period, line.unit_id)),
                text(line.listed),
            )
            for line in lines
        ),
        ("受理数：期内交办给该单位主办的件数；办结数：期内办结且由该单位主办的件数。",),
    )


def _lists_table(lines: Sequence[UnitLine], limits: Thresholds) -> Table:
    def why(line: UnitLine) -> str:
        if line.listed == RED:
            return "满意率和按时办结率均达到红榜标准"
        reasons = []
        if line.satisfaction.value is not None and (
            line.satisfaction.value < limits.black_satisfaction
        ):
            reasons.append(f"满意率低于{_percent(limits.black_satisfaction)}")
        if line.on_time.value is not None and line.on_time.value < limits.black_on_time:
            reasons.append(f"按时办结率低于{_percent(limits.black_on_time)}")
        return "；".join(reasons)

    listed = [line for line in lines if line.listed]
    return Table(
        "lists",
        "红黑榜",
        ("榜单", "单位", "按时办结率", "群众满意率", "依据"),
        tuple(
            (
                text(line.listed),
                text(line.name),
                figure(line.on_time),
                figure(line.satisfaction),
                text(why(line)),
            )
            for line in listed
        ),
        (
            f"红榜：满意率不低于{_percent(limits.red_satisfaction)}且按时办结率不低于"
            f"{_percent(limits.red_on_time)}；黑榜：满意率低于"
            f"{_percent(limits.black_satisfaction)}或按时办结率低于"
            f"{_percent(limits.black_on_time)}。无评价、无到期件的比率不参与评定。",
        ),
    )


def _levels_table(rows: Rows, period: Period, as_of: dt.datetime, links: Links) -> Table:
    split = feedback.level_split(rows.files, period, as_of)
    return Table(
        "ratings",
        "群众评价分布",
        ("评价", "件数", "占比"),
        tuple(
            (
                text(LEVEL_LABELS[level]),
                number(int(split[level].numerator)),
                figure(split[level], links(split[level], period, None)),
            )
            for level in Level
        ),
        ("每件按期内最后一次有效评价计；满意率 =（非常满意 + 满意 + 基本满意）÷ 有效评价数。",),
    )


def _categories_table(rows: Mapping[Period, Rows], period: Period, links: Links) -> Table:
    before = previous(period)

    def accepted_by_category(on: Period) -> dict[str, Figure]:
        return {
            key: intake.accepted(files, on)
            for key, files in group(rows[on].files, Dimension.CATEGORY).items()
        }

    now_counts = {k: f for k, f in accepted_by_category(period).items() if f.value}
    then_counts = accepted_by_category(before)
    total = sum(f.numerator for f in now_counts.values())
    top = sorted(now_counts.items(), key=lambda item: (-item[1].numerator, item[0]))
    out = []
    for key, found in top[:TOP_CATEGORIES]:
        earlier = then_counts.get(key)
        model = Figure(found.definition, 0.0, 0.0, None, ())
        change = Change(found, earlier if earlier is not None else model)
        share = found.numerator / total
        out.append(
            (
                text(key_label(Dimension.CATEGORY, key)),
                figure(found, links(found, period, None)),
                Cell(_percent(round(share, 3)), share, percent=True),
                number(int(earlier.numerator) if earlier is not None else 0),
                change_cell(change),
            )
        )
    return Table(
        "categories",
        f"受理量前{TOP_CATEGORIES}的诉求类别",
        ("类别", "受理量", "占比", "上期受理量", "环比"),
        tuple(out),
        ("占比：该类别受理量 ÷ 期内受理总量。",),
    )


def comparisons(period: Period) -> tuple[Period, Period, Period]:
    """The periods a bulletin's figures need rows for: itself, 环比's and 同比's."""
    return (period, previous(period), year_earlier(period))


def content(
    centre_name: str,
    period: Period,
    as_of: dt.datetime,
    rows: Mapping[Period, Rows],
    limits: Thresholds,
    links: Links = no_links,
) -> Report:
    """The bulletin of ``period`` as of ``as_of``; ``rows`` hold each period of
    :func:`comparisons` (the reader's rows of its window)."""
    lines = unit_lines(rows[period], period, as_of, rows[period].units, limits)
    return Report(
        title(centre_name, period.kind),
        period.label,
        (
            _line_table(rows, period, as_of, links),
            _units_table(lines, period, links),
            _lists_table(lines, limits),
            _levels_table(rows[period], period, as_of, links),
            _categories_table(rows, period, links),
        ),
        (f"本通报由{centre_name}统计，统计时间以{period.zone.key}时区计。",),
    )


# -- stored bulletins ----------------------------------------------------------------------


class BulletinNotFound(LookupError):
    def __init__(self) -> None:
        super().__init__("bulletin not found")


def report_of(bulletin: Bulletin) -> Report:
    """The bulletin's tables as they were when it was made."""
    return report_from_json(json.loads(bulletin.report))


def period_of_bulletin(bulletin: Bulletin, zone: ZoneInfo) -> Period:
    return Period(PeriodKind(bulletin.kind), bulletin.first_day, bulletin.last_day, zone)


def kind_label(kind: str) -> str:
    return PERIOD_KIND_LABELS[PeriodKind(kind)]


def find(session: Session, bulletin_id: str) -> Bulletin:
    found = session.get(Bulletin, bulletin_id)
    if found is None:
        raise BulletinNotFound
    return found


def of_period(session: Session, period: Period) -> Bulletin | None:
    return session.scalar(
        select(Bulletin).where(
            Bulletin.kind == period.kind.value,
            Bulletin.first_day == period.first,
            Bulletin.last_day == period.last,
        )
    )


def recent(session: Session, kind: PeriodKind | None = None, limit: int = 200) -> list[Bulletin]:
    """The bulletins newest period first (of one kind)."""
    query = select(Bulletin).order_by(Bulletin.first_day.desc(), Bulletin.made_at.desc())
    if kind is not None:
        query = query.where(Bulletin.kind == kind.value)
    return list(session.scalars(query.limit(limit)))


def made_keys(session: Session, periods: Sequence[Period]) -> set[Key]:
    """Which of ``periods`` have a bulletin."""
    firsts = {period.first for period in periods}
    found = session.execute(
        select(Bulletin.kind, Bulletin.first_day, Bulletin.last_day).where(
            Bulletin.first_day.in_(firsts)
        )
    )
    return {(kind, first, last) for kind, first, last in found}


def load(session: Session, period: Period, as_of: dt.datetime) -> Rows:
    """A period's rows, complete for figures as of ``as_of``."""
    return reader.load(session, period.start, period.end, max(as_of, period.end))


@dataclass(frozen=True)
class Maker:
    """What making a bulletin needs besides the period: the centre's name, the 红黑榜's
    thresholds, the zone and the figures' links."""

    centre_name: str
    limits: Thresholds
    zone: ZoneInfo
    links: Links = no_links


@dataclass(frozen=True)
class Made:
    bulletin_id: str
    title: str
    new: bool  # False: it existed already (made earlier, or by another process just now)


def compute(session: Session, maker: Maker, period: Period, as_of: dt.datetime) -> Report:
    """The bulletin's report for ``period`` as of ``as_of``, read with ``session``."""
    rows = {each: load(session, each, as_of) for each in set(comparisons(period))}
    return content(maker.centre_name, period, as_of, rows, maker.limits, maker.links)


def make(
    sessions: sessionmaker[Session],
    maker: Maker,
    period: Period,
    now: dt.datetime,
    made_by: str = SYSTEM,
) -> Made:
    """The bulletin of ``period``: the one made already, else made now (figures as of
    ``now``). Reads first, then writes the row in a short transaction; if another process
    wrote the same period meanwhile, its row stands and is returned (``new`` False)."""
    with sessions() as session:
        existing = of_period(session, period)
        if existing is not None:
            return Made(existing.id, existing.title, False)
        report = compute(session, maker, period, now)
    data = json.dumps(report_to_json(report), ensure_ascii=False, sort_keys=True)
    row = Bulletin(
        kind=period.kind.value,
        first_day=period.first,
        last_day=period.last,
        title=full_title(maker.centre_name, period),
        report=data,
        as_of=now,
        made_at=now,
        made_by=made_by,
    )
    try:
        with transaction(sessions) as session:
            session.add(row)
            session.flush()
            return Made(row.id, row.title, True)
    except IntegrityError:
        with sessions() as session:
            winner = of_period(session, period)
            if winner is None:
                raise
            return Made(winner.id, winner.title, False)


def make_due(sessions: sessionmaker[Session], maker: Maker, now: dt.datetime) -> list[Made]:
    """The schedule's run: make each bulletin due at ``now`` that is missing. Safe to run
    twice, and from two processes at once."""
    due = last_closed(now, maker.zone)
    with sessions() as session:
        made = made_keys(session, due)
    return [make(sessions, maker, period, now) for period in missing(now, maker.zone, made)]
