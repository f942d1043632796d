"""The 信访 profile's indicators (seed 002: 处理时间, 办结率, 满意度, 再信访率): 再信访率 and
the average handling time, in calendar days (the 信访工作条例's clock) or working days.
办结率 and 满意率 are the same as the hotline's (``handling``, ``feedback``). Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.indicators.clocks import days_between, local_date
from dispatch.indicators.figures import Definition, Figure, Measure, Subject, mean, rate
from dispatch.indicators.periods import Period
from dispatch.indicators.rows import CLOSING, CaseEventRow, CaseFile


def _define(key: str, name: str, formula: str, measure: Measure) -> Definition:
    return Definition(key, name, formula, measure, Subject.CASE, __name__)


REPEAT_PETITION_RATE = _define(
    "petitions.repeat_rate",
    "再信访率",
    "再信访率 = 期内办结的件中，信访人（同一联系电话，同一类别）办结后再次信访的件数 ÷ "
    "期内办结且留有联系电话的件数（匿名件不计）",
    Measure.RATE,
)
HANDLING_DAYS = _define(
    "petitions.handling_days",
    "平均办理用时",
    "平均办理用时 = Σ（办结日期 − 受理日期，自然日）÷ 期内办结件数（不含即办件）",
    Measure.DAYS,
)
HANDLING_WORKING_DAYS = _define(
    "petitions.handling_working_days",
    "平均办理用时",
    "平均办理用时 = Σ（受理日期至办结日期之间的工作日数）÷ 期内办结件数（不含即办件）",
    Measure.WORKING_DAYS,
)

DEFINITIONS = (REPEAT_PETITION_RATE, HANDLING_DAYS, HANDLING_WORKING_DAYS)


def _first_closing(file: CaseFile, period: Period) -> CaseEventRow | None:
    for event in file.events_of(CLOSING):
        if period.contains(event.at):
            return event
    return None


def repeat_petition_rate(
    files: Sequence[CaseFile],
    period: Period,
    as_of: dt.datetime,
    unit_id: str | None = None,
    same_category: bool = True,
) -> Figure:
    """Of the cases closed in the period whose petitioner left a phone (and was not
    anonymous), those whose petitioner came again after the closing, by ``as_of``: a later
    case from the same phone (and, with ``same_category``, not of another category; a case
    with no category yet matches any). The rows must include the later cases."""
    by_phone: dict[str, list[CaseFile]] = {}
    for file in files:
        if file.case.complainant_phone:
            by_phone.setdefault(file.case.complainant_phone, []).append(file)
    base, hits = [], []
    for file in files:
        case = file.case
        if not case.complainant_phone or case.anonymous:
            continue
        closing = _first_closing(file, period)
        if closing is None:
            continue
        if unit_id is not None and file.lead_unit(closing.at) != unit_id:
            continue
        base.append(file.id)
        for other in by_phone[case.complainant_phone]:
            later = other.case
            if other.id == file.id or not closing.at < later.received_at <= as_of:
                continue
            if same_category and case.category and later.category not in ("", case.category):
                continue
            hits.append(file.id)
            break
    return rate(REPEAT_PETITION_RATE, hits, base)


def average_handling_time(
    files: Sequence[CaseFile],
    period: Period,
    calendar: WorkingCalendar,
    day_unit: DayUnit = DayUnit.CALENDAR,
    unit_id: str | None = None,
) -> Figure:
    """From the (first) acceptance to the closing in the period, in days: calendar days
    for 信访 (the default), or working days. Cases answered on the spot are left out."""
    samples = []
    for file in files:
        closing = _first_closing(file, period)
        accepted = file.first_of({Action.ACCEPT})
        if closing is None or closing.action != Action.CLOSE or accepted is None:
            continue
        if unit_id is not None and file.lead_unit(closing.at) != unit_id:
            continue
        first = local_date(accepted.at, period.zone)
        last = local_date(closing.at, period.zone)
        samples.append((file.id, float(days_between(first, last, day_unit, calendar))))
    definition = HANDLING_DAYS if day_unit is DayUnit.CALENDAR else HANDLING_WORKING_DAYS
    return mean(definition, samples)
