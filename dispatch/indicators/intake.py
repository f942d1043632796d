"""Intake indicators: 登记量, 受理量, 不予受理 (count and rate), 即办 (直接办结率), 并单量,
撤回量. Each act counts in the period it happened in (its history entry's time): a case
registered on 31 March and accepted on 1 April is registered in March and accepted in April.
Pure: ``rows.CaseFile`` in, figures out."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from dispatch.cases.lifecycle import Action
from dispatch.indicators.figures import Definition, Figure, Measure, Subject, count, rate
from dispatch.indicators.periods import Period
from dispatch.indicators.rows import ACCEPTING, CaseFile


def _define(key: str, name: str, formula: str, measure: Measure) -> Definition:
    return Definition(key, name, formula, measure, Subject.CASE, __name__)


REGISTERED = _define(
    "cases.registered", "登记量", "期内登记的诉求件数（按受理日期/时间）", Measure.COUNT
)
ACCEPTED = _define(
    "cases.accepted", "受理量", "期内受理的件数（含即办件），不含不予受理、待受理件", Measure.COUNT
)
REJECTED = _define("cases.rejected", "不予受理量", "期内决定不予受理的件数", Measure.COUNT)
REJECTION_RATE = _define(
    "cases.rejection_rate",
    "不予受理率",
    "不予受理率 = 期内不予受理件数 ÷（期内受理件数 + 期内不予受理件数）",
    Measure.RATE,
)
ON_SPOT_RATE = _define(
    "cases.on_spot_rate",
    "直接办结率",
    "直接办结率（即办率）= 期内当场答复办结的即办件数 ÷ 期内受理件数",
    Measure.RATE,
)
MERGED = _define("cases.merged", "并单量", "期内并入其他案件的重复诉求件数（并单）", Measure.COUNT)
WITHDRAWN = _define("cases.withdrawn", "撤回量", "期内诉求人撤回的件数", Measure.COUNT)

DEFINITIONS = (REGISTERED, ACCEPTED, REJECTED, REJECTION_RATE, ON_SPOT_RATE, MERGED, WITHDRAWN)


def acted_in(files: Sequence[CaseFile], actions: Collection[str], period: Period) -> list[str]:
    """The cases whose first entry of ``actions`` falls in the period."""
    found = []
    for file in files:
        first = file.first_of(actions)
        if first is not None and period.contains(first.at):
            found.append(file.id)
    return found


def registered(files: Sequence[CaseFile], period: Period) -> Figure:
    return count(REGISTERED, (f.id for f in files if period.contains(f.case.received_at)))


def accepted(files: Sequence[CaseFile], period: Period) -> Figure:
    return count(ACCEPTED, acted_in(files, ACCEPTING, period))


def rejected(files: Sequence[CaseFile], period: Period) -> Figure:
    return count(REJECTED, acted_in(files, {Action.REJECT}, period))


def rejection_rate(files: Sequence[CaseFile], period: Period) -> Figure:
    refused = acted_in(files, {Action.REJECT}, period)
    decided = acted_in(files, ACCEPTING, period) + refused
    return rate(REJECTION_RATE, refused, decided)


def on_spot_rate(files: Sequence[CaseFile], period: Period) -> Figure:
    return rate(
        ON_SPOT_RATE,
        acted_in(files, {Action.ANSWER_ON_SPOT}, period),
        acted_in(files, ACCEPTING, period),
    )


def merged(files: Sequence[CaseFile], period: Period) -> Figure:
    """Cases merged into another in the period (not the cases they joined)."""
    found = []
    for file in files:
        left = file.leaving()
        if left is not None and left.action == Action.MERGE and period.contains(left.at):
            found.append(file.id)
    return count(MERGED, found)


def withdrawn(files: Sequence[CaseFile], period: Period) -> Figure:
    return count(WITHDRAWN, acted_in(files, {Action.WITHDRAW}, period))
