"""Bulletins (通报, issue 17 item 3): the line's figures for a day, an ISO week or a month,
made by the schedule when the period closes (and for any period on a supervisor's demand),
stored, listed and downloaded as Excel and PDF.

- The schedule (pure): at a moment ``now``, the periods due are the last closed day, ISO
  week and month in the configured zone (:func:`last_closed`); those without a bulletin are
  made (:func:`missing`). Only the last closed period of each kind is due: a schedule that
  was off for a while does not fill the past (a supervisor makes any period on demand).
- The content (pure, :func:`content`): a ``tables.Report`` titled e.g.
  ``12345政务服务便民热线月度通报（2026年11月）``: the line's main figures with 环比 and 同比;
  each unit's 受理数, 办结数, 按时办结率 and 群众满意率 (seed 000's words) with its 等次 and
  its place on the 红黑榜, graded as the 部门办理排名 grades it (``ranking``, thresholds in
  the settings); the 红榜 and the 黑榜; the citizens' ratings on the five levels; the
  categories most asked about. Every figure is ``overview``'s (so ``dispatch.indicators``'),
  with its formula on hover and a link to the cases behind it as of the making.
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
from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.feedback.scale import LEVEL_LABELS, Level
from dispatch.indicators import calls as call_figures
from dispatch.indicators import feedback, handling, intake
from dispatch.indicators.breakdowns import Dimension, key_label
from dispatch.indicators.figures import Change
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
from dispatch.reports import overview, ranking, reader
from dispatch.reports.bulletin_models import Bulletin
from dispatch.reports.overview import Basis, Linker, Ref, no_links
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


def title(centre_name: str, kind: PeriodKind) -> str:
    """The report's title, e.g. 12345政务服务便民热线月度通报 (its period is beside it)."""
    return f"{centre_name}{KIND_TITLES[kind]}"


def full_title(centre_name: str, period: Period) -> str:
    """The title with the period, as the list and the files name the bulletin."""
    return f"{title(centre_name, period.kind)}（{period.label}）"


# The line's figures in the bulletin (the dashboard, ``overview``, shows them all).
LINE = (
    call_figures.VOLUME.key,
    call_figures.ANSWER_RATE.key,
    call_figures.ANSWER_15S_RATE.key,
    call_figures.WORST_24H.key,
    call_figures.ABANDON_RATE.key,
    call_figures.MESSAGES.key,
    intake.REGISTERED.key,
    intake.ACCEPTED.key,
    intake.REJECTED.key,
    intake.ON_SPOT_RATE.key,
    handling.DISPATCHED.key,
    handling.CLOSED.key,
    handling.CLOSURE_RATE.key,
    handling.ON_TIME_RATE.key,
    handling.OVERDUE.key,
    handling.REMINDERS.key,
    handling.YELLOW_CARDS.key,
    handling.RED_CARDS.key,
    feedback.VISIT_RATE.key,
    feedback.SATISFACTION_RATE.key,
)
# Each unit's figures in seed 000's words: 受理数, 办结数, 按时办结率, 群众满意率.
UNIT_COLUMNS = (
    ("受理数", handling.DISPATCHED.key),
    ("办结数", handling.CLOSED.key),
    ("按时办结率", handling.ON_TIME_RATE.key),
    ("群众满意率", feedback.SATISFACTION_RATE.key),
)


def _line_table(rows: Mapping[Period, Rows], period: Period, basis: Basis, link: Linker) -> Table:
    before, last_year = previous(period), year_earlier(period)
    out = []
    for key in LINE:
        now = overview.compute(key, rows[period], period, basis)
        earlier = overview.compute(key, rows[before], before, basis)
        year_ago = overview.compute(key, rows[last_year], last_year, basis)
        definition = now.definition
        out.append(
            (
                Cell(definition.name, title=definition.formula),
                figure(now, link(Ref(key, period))),
                figure(earlier, link(Ref(key, before))),
                overview.change_cell(Change(now, earlier)),
                figure(year_ago, link(Ref(key, last_year))),
                overview.change_cell(Change(now, year_ago)),
            )
        )
    as_of = basis.as_of.astimezone(period.zone)
    return Table(
        "line",
        "全线主要指标",
        overview.FIGURE_COLUMNS,
        tuple(out),
        (
            f"上期（环比）：{before.label}；去年同期（同比）：{last_year.label}。比率的变化以"
            "个百分点计，数量的变化以增长率计；无可计算的分母时显示“—”。",
            f"数据截至 {as_of:%Y-%m-%d %H:%M}（办结率、回访率等按期内受理或审核的案件截至"
            "此时的状态计算）。",
        ),
    )


def listed(item: ranking.Graded) -> str:
    return RED if item.red_list else BLACK if item.black_list else ""


def _units_table(
    graded: Sequence[ranking.Graded], period: Period, limits: ranking.Thresholds, link: Linker
) -> Table:
    return Table(
        "units",
        "各单位办理情况",
        ("单位", "等次", *(name for name, _ in UNIT_COLUMNS), "红黑榜"),
        tuple(
            (
                Cell(item.name),
                Cell(item.band_label, title="；".join(item.reasons)),
                *(
                    figure(
                        item.figures[key],
                        link(Ref(key, period, Dimension.LEAD_UNIT, item.unit_id)),
                    )
                    for _, key in UNIT_COLUMNS
                ),
                Cell(listed(item)),
            )
            for item in graded
        ),
        (
            "受理数：期内交办给该单位主办的件数；办结数：期内办结且由该单位主办的件数。",
            *ranking.rules_notes(limits),
        ),
    )


def _levels_table(rows: Rows, period: Period, basis: Basis, link: Linker) -> Table:
    out = []
    for level in Level:
        key = feedback.LEVEL_SHARE[level].key
        share = overview.compute(key, rows, period, basis)
        out.append(
            (
                Cell(LEVEL_LABELS[level]),
                number(int(share.numerator)),
                figure(share, link(Ref(key, period))),
            )
        )
    return Table(
        "ratings",
        "群众评价分布",
        ("评价", "件数", "占比"),
        tuple(out),
        ("每件按期内最后一次有效评价计；满意率 =（非常满意 + 满意 + 基本满意）÷ 有效评价数。",),
    )


def _categories_table(
    rows: Mapping[Period, Rows], period: Period, basis: Basis, link: Linker
) -> Table:
    before = previous(period)
    key, category = intake.ACCEPTED.key, Dimension.CATEGORY
    accepted = overview.LINES[key]
    earlier_groups = overview.groups(rows[before], category)  # each period grouped once
    counts = {
        group: found
        for group, subset in overview.groups(rows[period], category).items()
        if (found := accepted(overview.On(subset, period, basis))).value
    }
    total = sum(found.numerator for found in counts.values())
    top = sorted(counts.items(), key=lambda item: (-item[1].numerator, item[0]))
    out = []
    for group, found in top[:TOP_CATEGORIES]:
        subset = earlier_groups.get(group, overview.Subset((), (), ()))
        earlier = accepted(overview.On(subset, before, basis))
        share = found.numerator / total
        out.append(
            (
                text(key_label(category, group)),
                figure(found, link(Ref(key, period, category, group))),
                Cell(_percent(share), share, percent=True),
                figure(earlier, link(Ref(key, before, category, group))),
                overview.change_cell(Change(found, earlier)),
            )
        )
    return Table(
        "categories",
        f"受理量前{TOP_CATEGORIES}的诉求类别",
        ("类别", "受理量", "占比", "上期受理量", "环比"),
        tuple(out),
        ("占比：该类别受理量 ÷ 期内各类别受理量之和。",),
    )


def _percent(value: float) -> str:
    """A share as people write it: 60%, 57.5%."""
    shown = f"{value * 100:.1f}"
    return f"{shown.removesuffix('.0')}%"


def comparisons(period: Period) -> tuple[Period, Period, Period]:
    """The periods a bulletin's figures need rows for: itself, 环比's and 同比's."""
    return (period, previous(period), year_earlier(period))


def content(
    centre_name: str,
    period: Period,
    rows: Mapping[Period, Rows],
    basis: Basis,
    limits: ranking.Thresholds,
    link: Linker = no_links,
) -> Report:
    """The bulletin of ``period`` as of ``basis.as_of``; ``rows`` hold each period of
    :func:`comparisons` (the reader's rows of its window). The units are graded as the
    部门办理排名 grades them (``ranking``), and its 红榜 and 黑榜 are the bulletin's."""
    current = rows[period]
    graded = ranking.assess(current, period, basis, current.units, limits)
    ranked = ranking.report(graded, period, limits, link)
    return Report(
        title(centre_name, period.kind),
        period.label,
        (
            _line_table(rows, period, basis, link),
            _units_table(graded, period, limits, link),
            ranked.table("red_list"),
            ranked.table("black_list"),
            _levels_table(current, period, basis, link),
            _categories_table(rows, period, basis, link),
        ),
        (f"本通报由{centre_name}统计；日期、时间均为北京时间。",),
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
    return reader.load(session, period.start, period.end, as_of if as_of > period.end else None)


def _no_links(_as_of: dt.datetime) -> Linker:
    return no_links


@dataclass(frozen=True)
class Maker:
    """What making a bulletin needs besides the period: the centre's name, the 红黑榜's
    thresholds (``ranking``'s, as the 部门办理排名 page uses them), the zone, the official
    calendar (read at each making, as the deadlines read it) and the day unit of the 信访
    profile, and the links of the figures made as of a moment (the drill-down's)."""

    centre_name: str
    limits: ranking.Thresholds
    zone: ZoneInfo
    calendar: Callable[[], WorkingCalendar]
    day_unit: DayUnit = DayUnit.WORKING
    links: Callable[[dt.datetime], Linker] = _no_links


@dataclass(frozen=True)
class Made:
    bulletin_id: str
    title: str
    new: bool  # False: it existed already (made earlier, or by another process just now)


def compute(session: Session, maker: Maker, period: Period, as_of: dt.datetime) -> Report:
    """The bulletin's report for ``period`` as of ``as_of``, read with ``session``."""
    rows = {each: load(session, each, as_of) for each in set(comparisons(period))}
    basis = Basis(as_of, maker.calendar(), maker.day_unit)
    return content(maker.centre_name, period, rows, basis, maker.limits, maker.links(as_of))


def make(
    sessions: sessionmaker[Session],
    maker: Maker,
    period: Period,
    now: dt.datetime,
    made_by: str = SYSTEM,
) -> Made:
    """The bulletin of ``period``: the one made already, else made now (figures as of
    ``now``, to the whole second as a link can name it). Reads first, then writes the row
    in a short transaction; if another process wrote the same period meanwhile, its row
    stands and is returned (``new`` False)."""
    as_of = now.replace(microsecond=0)
    with sessions() as session:
        existing = of_period(session, period)
        if existing is not None:
            return Made(existing.id, existing.title, False)
        report = compute(session, maker, period, as_of)
    data = json.dumps(report_to_json(report), ensure_ascii=False, sort_keys=True)
    row = Bulletin(
        kind=period.kind.value,
        first_day=period.first,
        last_day=period.last,
        title=full_title(maker.centre_name, period),
        report=data,
        as_of=as_of,
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
