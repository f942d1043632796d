"""Handling indicators: 交办量, 签收时效, 按时转办率, 退回率 and 改派量, 延期量, 办结量,
办结率, 按时办结率, 超期量 and 超期率 (and what is overdue right now), 催办/黄牌/红牌 counts,
重办率. Pure: ``rows.CaseFile`` in, figures out.

Per unit (``unit_id``): a row that names its unit (an assignment, an extension, a clock, a
supervision record) counts for that unit; a case-level figure counts for the case's lead
unit (主办) at the moment that matters (its closing, its rating, ``as_of``).

Clocks (``case_deadlines``) are judged on their local due dates, as ``dispatch.deadlines``
computed them in working days (holidays and 调休 included): a clock met on or before its
due date (the local date of ``met_at`` in the period's zone) is on time. An approved 延期
replaces the clock with one due later, so the case is judged against the new date. Cancelled
clocks (the case returned, reopened, withdrawn) and merged or withdrawn cases are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.stage_clocks import Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling.supervision import Kind
from dispatch.indicators.clocks import local_date, working_hours_between
from dispatch.indicators.figures import (
    Definition,
    Figure,
    Item,
    Measure,
    Subject,
    count,
    mean,
    rate,
)
from dispatch.indicators.periods import Period
from dispatch.indicators.rows import ACCEPTING, CLOSING, AssignmentRow, CaseFile, DeadlineRow


def _define(key: str, name: str, formula: str, measure: Measure) -> Definition:
    return Definition(key, name, formula, measure, Subject.CASE, __name__)


DISPATCHED = _define(
    "cases.dispatched", "交办量", "期内交办（转办、交办、自办）给主办单位的件数", Measure.COUNT
)
SIGN_TIME = _define(
    "cases.sign_time",
    "签收时效",
    "签收时效 = Σ（签收时刻 − 交办时刻，只计工作日的小时数）÷ 期内交办且已签收的交办次数",
    Measure.WORKING_HOURS,
)
ON_TIME_DISPATCH_RATE = _define(
    "cases.on_time_dispatch_rate",
    "按时转办率",
    "按时转办率 = 转办时限到期日在期内、于到期日当日或之前交办的件数 ÷ 转办时限到期日在期内的件数",
    Measure.RATE,
)
RETURN_RATE = _define(
    "cases.return_rate",
    "退回率",
    "退回率 = 期内交办后被主办单位退回的交办次数 ÷ 期内交办次数",
    Measure.RATE,
)
REASSIGNED = _define(
    "cases.reassigned", "改派量", "期内因承办单位退回而重新交办（改派）的件数", Measure.COUNT
)
EXTENDED = _define("cases.extended", "延期量", "期内批准延期的申请数", Measure.COUNT)
CLOSED = _define("cases.closed", "办结量", "期内办结的件数（含即办件）", Measure.COUNT)
CLOSURE_RATE = _define(
    "cases.closure_rate",
    "办结率",
    "办结率 = 期内受理的件中截至统计时已办结的件数 ÷ 期内受理件数（不含已并单、已撤回件）",
    Measure.RATE,
)
ON_TIME_RATE = _define(
    "cases.on_time_rate",
    "按时办结率",
    "按时办结率 = 办理时限到期日在期内、于到期日（含批准延期后的到期日）当日或之前答复的件数 ÷ "
    "办理时限到期日在期内的件数（未到期且未答复的不计）",
    Measure.RATE,
)
OVERDUE = _define(
    "cases.overdue",
    "超期量",
    "办理时限到期日在期内、到期未答复或逾期答复的件数",
    Measure.COUNT,
)
OVERDUE_RATE = _define(
    "cases.overdue_rate",
    "超期率",
    "超期率 = 超期件数 ÷ 办理时限到期日在期内的件数",
    Measure.RATE,
)
OVERDUE_NOW = _define(
    "cases.overdue_now", "当前超期件", "统计时已过办理时限仍未答复的件数", Measure.COUNT
)
REMINDERS = _define(
    "cases.reminders", "催办次数", "期内发出的催办（含人工催办）次数", Measure.COUNT
)
YELLOW_CARDS = _define("cases.yellow_cards", "黄牌数", "期内发出的黄牌督办次数", Measure.COUNT)
RED_CARDS = _define("cases.red_cards", "红牌数", "期内发出的红牌督办次数", Measure.COUNT)
REOPEN_RATE = _define(
    "cases.reopen_rate",
    "重办率",
    "重办率 = 期内答复群众（回访或办结）的件中其后被重办的件数 ÷ 期内答复群众的件数",
    Measure.RATE,
)

DEFINITIONS = (
    DISPATCHED, SIGN_TIME, ON_TIME_DISPATCH_RATE, RETURN_RATE, REASSIGNED, EXTENDED, CLOSED,
    CLOSURE_RATE, ON_TIME_RATE, OVERDUE, OVERDUE_RATE, OVERDUE_NOW, REMINDERS, YELLOW_CARDS,
    RED_CARDS, REOPEN_RATE,
)  # fmt: skip


def _leads(
    files: Sequence[CaseFile], period: Period, unit_id: str | None
) -> list[tuple[CaseFile, AssignmentRow]]:
    """Lead assignments made in the period (to ``unit_id``)."""
    return [
        (file, row)
        for file in files
        for row in file.assignments
        if row.role == "lead"
        and period.contains(row.dispatched_at)
        and (unit_id is None or row.unit_id == unit_id)
    ]


def _key(file: CaseFile, row_id: object) -> Item:
    return (f"{file.id}:{row_id}", file.id)


def dispatched(files: Sequence[CaseFile], period: Period, unit_id: str | None = None) -> Figure:
    return count(DISPATCHED, (file.id for file, _ in _leads(files, period, unit_id)))


def sign_time(
    files: Sequence[CaseFile],
    period: Period,
    as_of: dt.datetime,
    calendar: WorkingCalendar,
    unit_id: str | None = None,
) -> Figure:
    """Working hours from dispatch to signing, for lead assignments made in the period and
    signed by ``as_of``."""
    known: dict[dt.date, bool] = {}
    return mean(
        SIGN_TIME,
        (
            (
                file.id,
                working_hours_between(
                    row.dispatched_at, row.signed_at, calendar, period.zone, known
                ),
            )
            for file, row in _leads(files, period, unit_id)
            if row.signed_at is not None and row.signed_at <= as_of
        ),
    )


def return_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    made = [
        (file, row) for file, row in _leads(files, period, unit_id) if row.dispatched_at <= as_of
    ]
    return rate(
        RETURN_RATE,
        (
            _key(file, row.id)
            for file, row in made
            if row.returned_at is not None and row.returned_at <= as_of
        ),
        (_key(file, row.id) for file, row in made),
    )


def reassigned(files: Sequence[CaseFile], period: Period, unit_id: str | None = None) -> Figure:
    """Lead assignments made in the period (to ``unit_id``) right after the case's previous
    lead unit returned it (改派). A new dispatch after 重办 is not one."""
    found = []
    for file, row in _leads(files, period, unit_id):
        before = [
            other
            for other in file.assignments
            if other.role == "lead" and other.dispatched_at < row.dispatched_at
        ]
        if before:
            last = max(before, key=lambda other: other.dispatched_at)
            if last.returned_at is not None and last.returned_at <= row.dispatched_at:
                found.append(file.id)
    return count(REASSIGNED, found)


def extended(files: Sequence[CaseFile], period: Period, unit_id: str | None = None) -> Figure:
    rows = [
        (file.id, row)
        for file in files
        for row in file.extensions
        if row.status == "approved"
        and period.contains(row.decided_at)
        and (unit_id is None or row.unit_id == unit_id)
    ]
    return count(EXTENDED, (case_id for case_id, _ in rows), times=len(rows))


def closed(files: Sequence[CaseFile], period: Period, unit_id: str | None = None) -> Figure:
    found = []
    for file in files:
        closings = [event for event in file.events_of(CLOSING) if period.contains(event.at)]
        if closings and (unit_id is None or file.lead_unit(closings[-1].at) == unit_id):
            found.append(file.id)
    return count(CLOSED, found)


def accepted_cohort(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> list[CaseFile]:
    """Cases accepted in the period, still to be handled as of ``as_of`` (not merged nor
    withdrawn), of ``unit_id`` as lead unit then."""
    cohort = []
    for file in files:
        first = file.first_of(ACCEPTING)
        if first is None or not period.contains(first.at) or file.left_by(as_of):
            continue
        if unit_id is None or file.lead_unit(as_of) == unit_id:
            cohort.append(file)
    return cohort


def closure_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    cohort = accepted_cohort(files, period, as_of, unit_id)
    return rate(
        CLOSURE_RATE,
        (file.id for file in cohort if file.closed_by(as_of)),
        (file.id for file in cohort),
    )


# -- clocks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """A stage's clocks due in a period, split into on time and late (keys: case:clock)."""

    due: list[Item] = field(default_factory=list)
    on_time: list[Item] = field(default_factory=list)
    late: list[Item] = field(default_factory=list)


def _clock_unit(file: CaseFile, row: DeadlineRow, as_of: dt.datetime) -> str | None:
    return row.unit_id if row.unit_id is not None else file.lead_unit(as_of)


def judge(
    files: Sequence[CaseFile],
    stage: Stage,
    period: Period,
    as_of: dt.datetime,
    unit_id: str | None = None,
) -> Judged:
    """The ``stage`` clocks due in the period that are decided by ``as_of``: met by then, or
    past their due date unmet. One still running and not yet due is left out."""
    judged = Judged()
    today = local_date(as_of, period.zone)
    for file in files:
        if file.left_by(as_of):
            continue
        for row in file.deadlines:
            if row.stage != stage or row.cancelled or not period.covers(row.due_on):
                continue
            if unit_id is not None and _clock_unit(file, row, as_of) != unit_id:
                continue
            met = row.met_at if row.met_at is not None and row.met_at <= as_of else None
            if met is None and row.due_on >= today:
                continue
            key = _key(file, row.id)
            judged.due.append(key)
            if met is not None and local_date(met, period.zone) <= row.due_on:
                judged.on_time.append(key)
            else:
                judged.late.append(key)
    return judged


def on_time_dispatch_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    judged = judge(files, Stage.DISPATCH, period, as_of, unit_id)
    return rate(ON_TIME_DISPATCH_RATE, judged.on_time, judged.due)


def on_time_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    judged = judge(files, Stage.HANDLING, period, as_of, unit_id)
    return rate(ON_TIME_RATE, judged.on_time, judged.due)


def overdue(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    judged = judge(files, Stage.HANDLING, period, as_of, unit_id)
    return count(OVERDUE, (case_id for _, case_id in _pairs(judged.late)), len(judged.late))


def overdue_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    judged = judge(files, Stage.HANDLING, period, as_of, unit_id)
    return rate(OVERDUE_RATE, judged.late, judged.due)


def _pairs(items: list[Item]) -> list[tuple[str, str]]:
    return [(item, item) if isinstance(item, str) else item for item in items]


def overdue_now(
    files: Sequence[CaseFile], as_of: dt.datetime, zone: ZoneInfo, unit_id: str | None = None
) -> Figure:
    """Cases whose handling clock is past its due date and unmet at ``as_of`` (whenever it
    fell due)."""
    today = local_date(as_of, zone)
    found = [
        file.id
        for file in files
        if not file.left_by(as_of)
        for row in file.deadlines
        if row.stage == Stage.HANDLING
        and not row.cancelled
        and row.due_on < today
        and (row.met_at is None or row.met_at > as_of)
        and (unit_id is None or _clock_unit(file, row, as_of) == unit_id)
    ]
    return count(OVERDUE_NOW, found)


# -- supervision and reopening --------------------------------------------------------------


def _supervision(
    files: Sequence[CaseFile],
    kind: Kind,
    definition: Definition,
    period: Period,
    unit_id: str | None,
) -> Figure:
    records = [
        file.id
        for file in files
        for row in file.supervision
        if row.kind == kind
        and period.contains(row.at)
        and (unit_id is None or (row.unit_id or file.lead_unit(row.at)) == unit_id)
    ]
    return count(definition, records, times=len(records))


def reminders(files: Sequence[CaseFile], period: Period, unit_id: str | None = None) -> Figure:
    """催办, the supervision job's and supervisors' alike."""
    return _supervision(files, Kind.REMINDER, REMINDERS, period, unit_id)


def yellow_cards(files: Sequence[CaseFile], period: Period, unit_id: str | None = None) -> Figure:
    return _supervision(files, Kind.YELLOW, YELLOW_CARDS, period, unit_id)


def red_cards(files: Sequence[CaseFile], period: Period, unit_id: str | None = None) -> Figure:
    return _supervision(files, Kind.RED, RED_CARDS, period, unit_id)


ANSWERED = CLOSING | {Action.FEEDBACK}


def reopen_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    """Of the cases whose result reached the citizen in the period (the first 回访 or
    办结 in it), those reopened (重办) after it, by ``as_of``."""
    base, hits = [], []
    for file in files:
        told = [event for event in file.events_of(ANSWERED) if period.contains(event.at)]
        if not told:
            continue
        first = told[0]
        if unit_id is not None and file.lead_unit(first.at) != unit_id:
            continue
        base.append(file.id)
        if any(event.at > first.at for event in file.events_of({Action.REOPEN}, as_of)):
            hits.append(file.id)
    return rate(REOPEN_RATE, hits, base)
