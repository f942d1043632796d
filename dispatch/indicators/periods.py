"""Reporting periods: a day, an ISO week (Monday to Sunday), a month, a quarter, a year, or
a custom run of days, as local dates in the configured time zone; and the periods they are
compared with, 环比 (the period just before) and 同比 (the same period a year earlier).

A period is a half-open span of instants ``[start, end)``: from midnight of its first local
day to midnight after its last, in its zone. A moment belongs to exactly one day, week,
month… of the zone, whatever the zone of the moment itself. Pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

_ONE_DAY = dt.timedelta(days=1)
_QUARTER_NAMES = ("一", "二", "三", "四")


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"


PERIOD_KIND_LABELS = {
    PeriodKind.DAY: "日",
    PeriodKind.WEEK: "周",
    PeriodKind.MONTH: "月",
    PeriodKind.QUARTER: "季度",
    PeriodKind.YEAR: "年",
    PeriodKind.CUSTOM: "自定义",
}


@dataclass(frozen=True)
class Period:
    """Local days ``first`` to ``last`` (both included) in ``zone``."""

    kind: PeriodKind
    first: dt.date
    last: dt.date
    zone: ZoneInfo

    # The bounds in UTC, worked out once: the database gives UTC instants, and comparing
    # instants of one zone is the fast path.
    _start: dt.datetime = field(init=False, repr=False, compare=False)
    _end: dt.datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"a period cannot end ({self.last}) before it starts ({self.first})")
        start = dt.datetime.combine(self.first, dt.time(), self.zone)
        end = dt.datetime.combine(self.last + _ONE_DAY, dt.time(), self.zone)
        object.__setattr__(self, "_start", start.astimezone(dt.UTC))
        object.__setattr__(self, "_end", end.astimezone(dt.UTC))

    @property
    def start(self) -> dt.datetime:
        """The first instant of the period (local midnight of ``first``), in UTC."""
        return self._start

    @property
    def end(self) -> dt.datetime:
        """The first instant after the period (local midnight after ``last``), in UTC."""
        return self._end

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def contains(self, moment: dt.datetime | None) -> bool:
        """Whether the (aware) ``moment`` falls in the period; ``None`` never does."""
        return moment is not None and self._start <= moment < self._end

    def covers(self, day: dt.date) -> bool:
        """Whether the local date ``day`` is one of the period's days."""
        return self.first <= day <= self.last

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    @property
    def label(self) -> str:
        """The period as a Chinese heading, e.g. 2025年3月, 2025年第一季度."""
        first = self.first
        match self.kind:
            case PeriodKind.DAY:
                return _day_label(first)
            case PeriodKind.WEEK:
                year, week, _ = first.isocalendar()
                return (
                    f"{year}年第{week}周（{first.month}月{first.day}日至"
                    f"{self.last.month}月{self.last.day}日）"
                )
            case PeriodKind.MONTH:
                return f"{first.year}年{first.month}月"
            case PeriodKind.QUARTER:
                return f"{first.year}年第{_QUARTER_NAMES[(first.month - 1) // 3]}季度"
            case PeriodKind.YEAR:
                return f"{first.year}年"
            case _:
                return f"{_day_label(first)}至{_day_label(self.last)}"


def _day_label(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# -- making periods ------------------------------------------------------------------------


def day(on: dt.date, zone: ZoneInfo) -> Period:
    return Period(PeriodKind.DAY, on, on, zone)


def week(on: dt.date, zone: ZoneInfo) -> Period:
    """The ISO week (Monday to Sunday) holding ``on``."""
    monday = on - dt.timedelta(days=on.weekday())
    return Period(PeriodKind.WEEK, monday, monday + dt.timedelta(days=6), zone)


def month(year: int, number: int, zone: ZoneInfo) -> Period:
    first = dt.date(year, number, 1)
    return Period(PeriodKind.MONTH, first, _month_after(first) - _ONE_DAY, zone)


def quarter(year: int, number: int, zone: ZoneInfo) -> Period:
    if not 1 <= number <= 4:
        raise ValueError(f"a quarter is 1 to 4, got {number}")
    first = dt.date(year, 3 * number - 2, 1)
    last = dt.date(year, 3 * number, 1)
    return Period(PeriodKind.QUARTER, first, _month_after(last) - _ONE_DAY, zone)


def year(number: int, zone: ZoneInfo) -> Period:
    return Period(PeriodKind.YEAR, dt.date(number, 1, 1), dt.date(number, 12, 31), zone)


def custom(first: dt.date, last: dt.date, zone: ZoneInfo) -> Period:
    return Period(PeriodKind.CUSTOM, first, last, zone)


def period_of(kind: PeriodKind, on: dt.date, zone: ZoneInfo) -> Period:
    """The day, week, month, quarter or year holding the local date ``on``."""
    match kind:
        case PeriodKind.DAY:
            return day(on, zone)
        case PeriodKind.WEEK:
            return week(on, zone)
        case PeriodKind.MONTH:
            return month(on.year, on.month, zone)
        case PeriodKind.QUARTER:
            return quarter(on.year, (on.month - 1) // 3 + 1, zone)
        case PeriodKind.YEAR:
            return year(on.year, zone)
        case _:
            raise ValueError("a custom period is made with custom(first, last, zone)")


def period_at(kind: PeriodKind, moment: dt.datetime, zone: ZoneInfo) -> Period:
    """The period of ``kind`` holding the (aware) instant ``moment`` in ``zone``."""
    return period_of(kind, moment.astimezone(zone).date(), zone)


# -- comparisons ---------------------------------------------------------------------------


def previous(period: Period) -> Period:
    """环比: the period of the same kind just before (a custom period: the same number of
    days just before it)."""
    if period.kind is PeriodKind.CUSTOM:
        last = period.first - _ONE_DAY
        return custom(last - dt.timedelta(days=period.days - 1), last, period.zone)
    return period_of(period.kind, period.first - _ONE_DAY, period.zone)


def year_earlier(period: Period) -> Period:
    """同比: the same period a year earlier. A day or custom span moves its dates back one
    year (29 February becomes the 28th); a week is the ISO week of the same number in the
    previous ISO year (week 53 becomes week 52 when that year has none)."""
    zone = period.zone
    match period.kind:
        case PeriodKind.WEEK:
            iso_year, number, _ = period.first.isocalendar()
            weeks = dt.date(iso_year - 1, 12, 28).isocalendar()[1]  # 28 Dec: always the last
            return week(dt.date.fromisocalendar(iso_year - 1, min(number, weeks), 1), zone)
        case PeriodKind.DAY:
            return day(_year_back(period.first), zone)
        case PeriodKind.CUSTOM:
            return custom(_year_back(period.first), _year_back(period.last), zone)
        case _:
            return period_of(period.kind, _year_back(period.first), zone)


def _year_back(on: dt.date) -> dt.date:
    if on.month == 2 and on.day == 29:
        return dt.date(on.year - 1, 2, 28)
    return on.replace(year=on.year - 1)


def _month_after(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
