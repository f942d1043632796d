"""A report page's period as its URL gives it, and back.

``period`` is day | week | month | quarter | year | custom (default: month); ``on`` is any
local date inside the period (default: today in the configured zone); a custom period gives
``from`` and ``to`` (local dates, both included, at most :data:`MAX_DAYS` days). The same
parameters name the period in every report link (the drill-down's too), so a link shows the
same figures again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from dispatch.indicators import periods
from dispatch.indicators.periods import PERIOD_KIND_LABELS, Period, PeriodKind

MAX_DAYS = 731
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
KIND_LABELS = {kind.value: label for kind, label in PERIOD_KIND_LABELS.items()}


class BadPeriod(ValueError):
    """A period parameter that cannot be read: ``en`` for the API, ``zh`` for the page."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


def _date(params: Mapping[str, str], name: str, label: str) -> dt.date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadPeriod(
            f"{name} must be a date (YYYY-MM-DD)", f"{label}不是有效的日期（年-月-日）。"
        ) from None
    if not EARLIEST <= value <= LATEST:
        raise BadPeriod(f"{name} is out of range", f"{label}超出可查询的范围。")
    return value


def parse(params: Mapping[str, str], today: dt.date, zone: ZoneInfo) -> Period:
    """The period the parameters name (see the module's docstring)."""
    raw = params.get("period", "").strip() or PeriodKind.MONTH.value
    try:
        kind = PeriodKind(raw)
    except ValueError:
        raise BadPeriod(
            "period must be day, week, month, quarter, year or custom",
            "统计周期只能是日、周、月、季度、年或自定义。",
        ) from None
    if kind is PeriodKind.CUSTOM:
        first = _date(params, "from", "开始日期")
        last = _date(params, "to", "结束日期")
        if first is None or last is None:
            raise BadPeriod(
                "a custom period needs from and to", "自定义统计期须填写开始日期和结束日期。"
            )
        if last < first:
            raise BadPeriod("to is before from", "结束日期不能早于开始日期。")
        if (last - first).days + 1 > MAX_DAYS:
            raise BadPeriod(
                f"a custom period is at most {MAX_DAYS} days",
                f"自定义统计期最长 {MAX_DAYS} 天。",
            )
        return periods.custom(first, last, zone)
    on = _date(params, "on", "日期") or today
    return periods.period_of(kind, on, zone)


def query(period: Period) -> dict[str, str]:
    """The parameters naming ``period`` (for links)."""
    if period.kind is PeriodKind.CUSTOM:
        return {"period": "custom", "from": period.first.isoformat(), "to": period.last.isoformat()}
    return {"period": period.kind.value, "on": period.first.isoformat()}


def following(period: Period) -> Period:
    """The period after ``period`` (a custom one: the same number of days)."""
    if period.kind is PeriodKind.CUSTOM:
        first = period.last + dt.timedelta(days=1)
        return periods.custom(first, first + dt.timedelta(days=period.days - 1), period.zone)
    return periods.period_of(period.kind, period.last + dt.timedelta(days=1), period.zone)


def as_of_text(moment: dt.datetime) -> str:
    """An instant for a URL: UTC, whole seconds (``2026-12-03T06:40:12Z``)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_as_of(raw: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadPeriod("as_of must be an ISO 8601 instant", "统计时点格式不正确。") from None
    if value.tzinfo is None:
        raise BadPeriod("as_of needs a time zone", "统计时点须带时区。")
    if not EARLIEST <= value.astimezone(dt.UTC).date() <= LATEST:
        raise BadPeriod("as_of is out of range", "统计时点超出可查询的范围。")
    return value.astimezone(dt.UTC)


def whole_seconds(moment: dt.datetime) -> dt.datetime:
    """``moment`` without its fraction of a second (what a link's ``as_of`` can carry)."""
    return moment.replace(microsecond=0)
