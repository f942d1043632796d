"""Feedback indicators: 回访率, 满意率 with the five-level split of the national 好差评
scale, 按时反馈率. Pure: ``rows.CaseFile`` in, figures out.

A rating is a ``feedback`` row with a level; a case counts once per period, with its latest
rating in it (a case rated 不满意, reopened and rated 满意 in the same month counts as
满意). No rating in the period gives no rate (``None``), not 0 % nor 100 %.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.stage_clocks import Stage
from dispatch.feedback.scale import LEVEL_LABELS, Level
from dispatch.indicators.figures import Definition, Figure, Measure, Subject, rate
from dispatch.indicators.handling import judge
from dispatch.indicators.periods import Period
from dispatch.indicators.rows import CaseFile

# 满意 for the 满意率: the three upper levels of the five.
SATISFIED = frozenset({Level.VERY_SATISFIED, Level.SATISFIED, Level.BASICALLY_SATISFIED})
_LEVELS = frozenset(level.value for level in Level)


def _define(key: str, name: str, formula: str) -> Definition:
    return Definition(key, name, formula, Measure.RATE, Subject.CASE, __name__)


VISIT_RATE = _define(
    "feedback.visit_rate",
    "回访率",
    "回访率 = 期内审核通过待回访的件中截至统计时已回访（告知办理结果）的件数 ÷ 期内审核通过的件数",
)
SATISFACTION_RATE = _define(
    "feedback.satisfaction_rate",
    "满意率",
    "满意率 =（非常满意 + 满意 + 基本满意）÷ 有效评价数；每件按期内最后一次评价计，无评价时不计算",
)
LEVEL_SHARE = {
    level: _define(
        f"feedback.level.{level.value}",
        f"{LEVEL_LABELS[level]}占比",
        f"{LEVEL_LABELS[level]}占比 = 评价为“{LEVEL_LABELS[level]}”的件数 ÷ 有效评价数",
    )
    for level in Level
}
ON_TIME_FEEDBACK_RATE = _define(
    "feedback.on_time_rate",
    "按时反馈率",
    "按时反馈率 = 回访时限到期日在期内、于到期日当日或之前告知群众办理结果的件数 ÷ "
    "回访时限到期日在期内的件数",
)

DEFINITIONS = (VISIT_RATE, SATISFACTION_RATE, *LEVEL_SHARE.values(), ON_TIME_FEEDBACK_RATE)


def visit_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    """Of the cases whose unit reply passed review in the period, those told the result
    (回访) after it, by ``as_of``."""
    base, hits = [], []
    for file in files:
        passed = [e for e in file.events_of({Action.PASS_REVIEW}) if period.contains(e.at)]
        if not passed:
            continue
        first = passed[0]
        if unit_id is not None and file.lead_unit(first.at) != unit_id:
            continue
        base.append(file.id)
        if any(e.at >= first.at for e in file.events_of({Action.FEEDBACK}, as_of)):
            hits.append(file.id)
    return rate(VISIT_RATE, hits, base)


def ratings(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> dict[str, Level]:
    """Each case's latest valid rating in the period (given by ``as_of``), for the cases
    whose lead unit then was ``unit_id``."""
    found = {}
    for file in files:
        given = [
            row
            for row in file.feedback
            if row.satisfaction in _LEVELS and period.contains(row.at) and row.at <= as_of
        ]
        if not given:
            continue
        last = max(given, key=lambda row: row.at)
        if unit_id is None or file.lead_unit(last.at) == unit_id:
            found[file.id] = Level(last.satisfaction)
    return found


def satisfaction_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    rated = ratings(files, period, as_of, unit_id)
    return rate(
        SATISFACTION_RATE,
        (case_id for case_id, level in rated.items() if level in SATISFIED),
        rated,
    )


def level_split(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> dict[Level, Figure]:
    """The share of each of the five levels among the valid ratings."""
    rated = ratings(files, period, as_of, unit_id)
    return {
        level: rate(
            LEVEL_SHARE[level],
            (case_id for case_id, given in rated.items() if given is level),
            rated,
        )
        for level in Level
    }


def on_time_feedback_rate(
    files: Sequence[CaseFile], period: Period, as_of: dt.datetime, unit_id: str | None = None
) -> Figure:
    """The centre's clock for telling the citizen the result (by the case's lead unit when
    broken down by unit)."""
    judged = judge(files, Stage.FEEDBACK, period, as_of, unit_id)
    return rate(ON_TIME_FEEDBACK_RATE, judged.on_time, judged.due)
