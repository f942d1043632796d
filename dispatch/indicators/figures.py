"""What every indicator gives back: a :class:`Figure` — the value, what it was computed
from (numerator, denominator), the ids of the cases or calls behind each, and its
:class:`Definition` (name and formula in Chinese, for the page's footnote). Comparisons with
another period (同比, 环比) are :class:`Change`. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from dispatch.indicators.periods import Period, previous, year_earlier


class Measure(StrEnum):
    """What a figure's value is."""

    COUNT = "count"  # 件 / 个 / 次
    RATE = "rate"  # a fraction, 0 to 1 (shown as a percentage)
    SECONDS = "seconds"  # a mean duration
    WORKING_HOURS = "working_hours"  # a mean duration counting working days' hours only
    DAYS = "days"  # a mean number of calendar days
    WORKING_DAYS = "working_days"  # a mean number of working days


class Subject(StrEnum):
    """What the ids of a figure name, so a page can link to them."""

    CASE = "case"
    CALL = "call"


@dataclass(frozen=True)
class Definition:
    key: str
    name: str  # Chinese, as on the page
    formula: str  # Chinese, for the footnote
    measure: Measure
    subject: Subject
    module: str  # where it is computed (for the reader of the code and the README)


@dataclass(frozen=True)
class Figure:
    """One indicator over one period (and one unit, channel… when broken down).

    - a count: ``value`` is the count, ``numerator`` too, ``denominator`` is ``None``;
    - a rate: ``value = numerator / denominator``, ``None`` when nothing is in the
      denominator (no ratings is not 0 % nor 100 %);
    - a mean: ``numerator`` is the total (seconds, hours, days), ``denominator`` how many
      items; ``None`` with none.

    ``ids`` are the items behind the numerator, ``base_ids`` those behind the denominator
    (empty for a count); both sorted and without repeats.
    """

    definition: Definition
    value: float | None
    numerator: float
    denominator: int | None
    ids: tuple[str, ...]
    base_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def text(self) -> str:
        """The value as the console shows it: 95.2%, 12, 37.5秒, 1.3个工作日, or — when
        there is none."""
        value = self.value
        if value is None:
            return "—"
        match self.definition.measure:
            case Measure.RATE:
                return f"{value * 100:.1f}%"
            case Measure.COUNT:
                return f"{value:.0f}"
            case Measure.SECONDS:
                return f"{value:.1f}秒"
            case Measure.WORKING_HOURS:
                return f"{value:.1f}工作小时"
            case Measure.DAYS:
                return f"{value:.1f}天"
            case _:
                return f"{value:.1f}个工作日"


def _ids(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(ids)))


def count(definition: Definition, ids: Iterable[str], times: int | None = None) -> Figure:
    """A count of distinct items, or of ``times`` events about them (several per item)."""
    items = _ids(ids)
    number = len(items) if times is None else times
    return Figure(definition, float(number), float(number), None, items)


Item = str | tuple[str, str]
"""What a rate counts: an id, or ``(key, id)`` when several items share one id (two clocks
of one case): the key is counted, the id linked."""


def _keyed(items: Iterable[Item]) -> dict[str, str]:
    """key -> id for each item."""
    keyed: dict[str, str] = {}
    for item in items:
        key, link = (item, item) if isinstance(item, str) else item
        keyed[key] = link
    return keyed


def rate(definition: Definition, hits: Iterable[Item], base: Iterable[Item]) -> Figure:
    """``hits`` over ``base``, each counted once; every hit must be in the base."""
    counted, everything = _keyed(hits), _keyed(base)
    missing = set(counted) - set(everything)
    if missing:
        raise ValueError(f"{definition.key}: counted items not in the base: {sorted(missing)}")
    value = len(counted) / len(everything) if everything else None
    return Figure(
        definition,
        value,
        float(len(counted)),
        len(everything),
        _ids(counted.values()),
        _ids(everything.values()),
    )


def mean(definition: Definition, samples: Iterable[tuple[str, float]]) -> Figure:
    """The mean of one sample per item (``(id, amount)``); ``None`` with none."""
    pairs = list(samples)
    total = sum(amount for _, amount in pairs)
    value = total / len(pairs) if pairs else None
    return Figure(definition, value, total, len(pairs), _ids(item for item, _ in pairs))


# -- 同比 and 环比 ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A figure against the same figure for an earlier period.

    ``delta``: current minus earlier value (for a rate, in fractions: 0.05 is 5 个百分点);
    ``growth``: the relative change ``delta / earlier`` for counts and means (增长率), ``None``
    for a rate, or when either value is missing or the earlier one is 0.
    """

    current: Figure
    earlier: Figure

    @property
    def delta(self) -> float | None:
        if self.current.value is None or self.earlier.value is None:
            return None
        return self.current.value - self.earlier.value

    @property
    def growth(self) -> float | None:
        delta = self.delta
        if (
            delta is None
            or self.current.definition.measure is Measure.RATE
            or not self.earlier.value
        ):
            return None
        return delta / self.earlier.value


@dataclass(frozen=True)
class Trend:
    """A period's figure with 环比 (against the period before) and 同比 (a year earlier)."""

    period: Period
    figure: Figure
    month_on_month: Change  # 环比 (whatever the period's kind)
    year_on_year: Change  # 同比


def trend(compute: Callable[[Period], Figure], period: Period) -> Trend:
    """Compute a figure for ``period``, the period before it and the same period a year
    earlier. ``compute`` must be given rows covering all three."""
    figure = compute(period)
    return Trend(
        period,
        figure,
        Change(figure, compute(previous(period))),
        Change(figure, compute(year_earlier(period))),
    )
