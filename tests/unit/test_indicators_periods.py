"""Periods in the configured zone, 环比 and 同比, and the figures' arithmetic: tables of
known answers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from dispatch.indicators import catalogue, periods
from dispatch.indicators.figures import (
    Change,
    Definition,
    Figure,
    Measure,
    Subject,
    count,
    mean,
    rate,
    trend,
)
from dispatch.indicators.periods import Period, PeriodKind
from tests.unit.test_indicators_support import BEIJING

D = dt.date
K = PeriodKind


@pytest.mark.parametrize(
    ("kind", "on", "first", "last", "label"),
    [
        (K.DAY, D(2025, 3, 5), D(2025, 3, 5), D(2025, 3, 5), "2025年3月5日"),
        # ISO week: Wednesday 1 January 2025 is in week 1, from Monday 30 December 2024.
        (K.WEEK, D(2025, 1, 1), D(2024, 12, 30), D(2025, 1, 5), "2025年第1周（12月30日至1月5日）"),
        (K.WEEK, D(2025, 3, 9), D(2025, 3, 3), D(2025, 3, 9), "2025年第10周（3月3日至3月9日）"),
        (K.MONTH, D(2024, 2, 10), D(2024, 2, 1), D(2024, 2, 29), "2024年2月"),
        (K.MONTH, D(2025, 12, 31), D(2025, 12, 1), D(2025, 12, 31), "2025年12月"),
        (K.QUARTER, D(2025, 11, 15), D(2025, 10, 1), D(2025, 12, 31), "2025年第四季度"),
        (K.QUARTER, D(2025, 2, 1), D(2025, 1, 1), D(2025, 3, 31), "2025年第一季度"),
        (K.YEAR, D(2025, 6, 30), D(2025, 1, 1), D(2025, 12, 31), "2025年"),
    ],
)
def test_the_period_holding_a_day(
    kind: PeriodKind, on: dt.date, first: dt.date, last: dt.date, label: str
) -> None:
    period = periods.period_of(kind, on, BEIJING)
    assert (period.kind, period.first, period.last, period.label) == (kind, first, last, label)


def test_a_custom_period_and_its_label() -> None:
    period = periods.custom(D(2025, 3, 1), D(2025, 3, 10), BEIJING)
    assert period.days == 10
    assert period.label == "2025年3月1日至2025年3月10日"
    with pytest.raises(ValueError):
        periods.custom(D(2025, 3, 10), D(2025, 3, 1), BEIJING)
    with pytest.raises(ValueError):
        periods.period_of(K.CUSTOM, D(2025, 3, 1), BEIJING)
    with pytest.raises(ValueError):
        periods.quarter(2025, 5, BEIJING)


def test_a_period_runs_from_local_midnight_to_local_midnight() -> None:
    march = periods.month(2025, 3, BEIJING)
    utc = dt.UTC
    assert march.start == dt.datetime(2025, 2, 28, 16, 0, tzinfo=utc)
    assert march.end == dt.datetime(2025, 3, 31, 16, 0, tzinfo=utc)
    # 31 March 23:59:59 in Beijing is March; one second later is April, though both are
    # 31 March in UTC.
    assert march.contains(dt.datetime(2025, 3, 31, 15, 59, 59, tzinfo=utc))
    assert not march.contains(dt.datetime(2025, 3, 31, 16, 0, 0, tzinfo=utc))
    assert march.contains(dt.datetime(2025, 2, 28, 16, 0, 0, tzinfo=utc))
    assert not march.contains(dt.datetime(2025, 2, 28, 15, 59, 59, tzinfo=utc))
    assert not march.contains(None)
    assert periods.period_at(K.MONTH, dt.datetime(2025, 3, 31, 16, tzinfo=utc), BEIJING) == (
        periods.month(2025, 4, BEIJING)
    )


@pytest.mark.parametrize(
    ("period", "before"),
    [
        (periods.day(D(2024, 3, 1), BEIJING), (D(2024, 2, 29), D(2024, 2, 29))),
        (periods.week(D(2025, 1, 1), BEIJING), (D(2024, 12, 23), D(2024, 12, 29))),
        (periods.month(2025, 1, BEIJING), (D(2024, 12, 1), D(2024, 12, 31))),
        (periods.month(2025, 3, BEIJING), (D(2025, 2, 1), D(2025, 2, 28))),
        (periods.quarter(2025, 1, BEIJING), (D(2024, 10, 1), D(2024, 12, 31))),
        (periods.year(2025, BEIJING), (D(2024, 1, 1), D(2024, 12, 31))),
        # A custom span: as many days, just before.
        (periods.custom(D(2025, 3, 1), D(2025, 3, 10), BEIJING), (D(2025, 2, 19), D(2025, 2, 28))),
    ],
)
def test_month_on_month_is_the_period_just_before(
    period: Period, before: tuple[dt.date, dt.date]
) -> None:
    earlier = periods.previous(period)
    assert (earlier.first, earlier.last) == before
    assert earlier.kind is period.kind


@pytest.mark.parametrize(
    ("period", "year_before"),
    [
        (periods.day(D(2024, 2, 29), BEIJING), (D(2023, 2, 28), D(2023, 2, 28))),
        (periods.month(2024, 2, BEIJING), (D(2023, 2, 1), D(2023, 2, 28))),
        (periods.quarter(2025, 4, BEIJING), (D(2024, 10, 1), D(2024, 12, 31))),
        (periods.year(2025, BEIJING), (D(2024, 1, 1), D(2024, 12, 31))),
        # Week 10 of 2025 against week 10 of 2024.
        (periods.week(D(2025, 3, 5), BEIJING), (D(2024, 3, 4), D(2024, 3, 10))),
        # 2020 has an ISO week 53; 2019 has not: its week 52.
        (periods.week(D(2020, 12, 31), BEIJING), (D(2019, 12, 23), D(2019, 12, 29))),
        (
            periods.custom(D(2024, 2, 20), D(2024, 2, 29), BEIJING),
            (D(2023, 2, 20), D(2023, 2, 28)),
        ),
    ],
)
def test_year_on_year_is_the_same_period_a_year_earlier(
    period: Period, year_before: tuple[dt.date, dt.date]
) -> None:
    earlier = periods.year_earlier(period)
    assert (earlier.first, earlier.last) == year_before


COUNTED = Definition("test.count", "件数", "件数", Measure.COUNT, Subject.CASE, __name__)
RATED = Definition("test.rate", "比率", "比率 = 甲 ÷ 乙", Measure.RATE, Subject.CASE, __name__)
MEANT = Definition("test.mean", "平均", "平均", Measure.SECONDS, Subject.CALL, __name__)


def test_counts_rates_and_means() -> None:
    counted = count(COUNTED, ["b", "a", "b"])
    assert (counted.value, counted.ids, counted.denominator) == (2, ("a", "b"), None)
    assert count(COUNTED, ["a"], times=3).value == 3

    rated = rate(RATED, ["a"], ["a", "b", "c"])
    assert (rated.numerator, rated.denominator, rated.base_ids) == (1, 3, ("a", "b", "c"))
    assert rated.value == pytest.approx(1 / 3)
    assert rated.text == "33.3%"
    # Two items of one case are counted twice and linked once.
    keyed = rate(RATED, [("x:1", "x")], [("x:1", "x"), ("x:2", "x")])
    assert (keyed.numerator, keyed.denominator, keyed.ids, keyed.base_ids) == (1, 2, ("x",), ("x",))

    nothing = rate(RATED, [], [])
    assert (nothing.value, nothing.text, nothing.denominator) == (None, "—", 0)
    with pytest.raises(ValueError, match="not in the base"):
        rate(RATED, ["z"], ["a"])

    averaged = mean(MEANT, [("a", 10.0), ("b", 25.0)])
    assert (averaged.value, averaged.numerator, averaged.denominator) == (17.5, 35.0, 2)
    assert averaged.text == "17.5秒"
    assert mean(MEANT, []).value is None


def _figure(definition: Definition, value: float | None) -> Figure:
    return Figure(definition, value, value or 0.0, None, ())


@pytest.mark.parametrize(
    ("definition", "now", "then", "delta", "growth"),
    [
        (COUNTED, 120.0, 100.0, 20.0, 0.2),
        (COUNTED, 80.0, 100.0, -20.0, -0.2),
        (COUNTED, 5.0, 0.0, 5.0, None),  # growth from nothing is not a number
        (RATED, 0.95, 0.90, 0.05, None),  # a rate moves by points, no growth rate
        (RATED, None, 0.90, None, None),
        (MEANT, 30.0, 40.0, -10.0, -0.25),
    ],
)
def test_changes_against_an_earlier_period(
    definition: Definition,
    now: float | None,
    then: float | None,
    delta: float | None,
    growth: float | None,
) -> None:
    change = Change(_figure(definition, now), _figure(definition, then))
    assert change.delta == (pytest.approx(delta) if delta is not None else None)
    assert change.growth == (pytest.approx(growth) if growth is not None else None)


def test_a_trend_computes_the_period_the_one_before_and_a_year_earlier() -> None:
    asked: list[Period] = []

    def compute(period: Period) -> Figure:
        asked.append(period)
        return count(COUNTED, [str(i) for i in range(period.first.month + period.first.year % 10)])

    march = periods.month(2025, 3, BEIJING)
    result = trend(compute, march)
    assert [(p.first, p.last) for p in asked] == [
        (D(2025, 3, 1), D(2025, 3, 31)),
        (D(2025, 2, 1), D(2025, 2, 28)),
        (D(2024, 3, 1), D(2024, 3, 31)),
    ]
    assert result.figure.value == 8
    assert result.month_on_month.delta == 1  # 8 against 7
    assert result.year_on_year.delta == 1  # 8 against 7 (2024: 3 + 4)
    assert result.year_on_year.growth == pytest.approx(1 / 7)


def test_every_definition_is_named_with_its_formula_once() -> None:
    keys = [definition.key for definition in catalogue.ALL]
    assert len(keys) == len(set(keys))
    for definition in catalogue.ALL:
        assert definition.name and definition.formula
        assert any("\u4e00" <= char <= "\u9fff" for char in definition.formula)
        assert definition.module.startswith("dispatch.indicators.")
    assert catalogue.definition("cases.on_time_rate").name == "按时办结率"
    with pytest.raises(KeyError):
        catalogue.definition("cases.nothing")
    assert dataclasses.is_dataclass(catalogue.ALL[0])
