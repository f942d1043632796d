"""Elapsed time as the indicators count it: whole local days, working days on the official
calendar (调休 included, from ``dispatch.deadlines``), and hours on working days only. Pure:
the calendar and the zone are passed in."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.working_calendar import WorkingCalendar

_ONE_DAY = dt.timedelta(days=1)


def local_date(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def working_hours_between(
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkingCalendar,
    zone: ZoneInfo,
    known: dict[dt.date, bool] | None = None,
) -> float:
    """Hours from ``start`` to ``end`` that fall on working days (whole 24-hour local days;
    weekends and holidays do not count, a 调休 Saturday does). 0 when ``end <= start``.
    ``known`` keeps the days already looked up, for a caller measuring many spans."""
    if end <= start:
        return 0.0
    known = {} if known is None else known
    total = dt.timedelta()
    day = local_date(start, zone)
    last = local_date(end, zone)
    while day <= last:
        if day not in known:
            known[day] = calendar.is_working_day(day)
        if known[day]:
            midnight = dt.datetime.combine(day, dt.time(), zone)
            overlap = min(end, midnight + _ONE_DAY) - max(start, midnight)
            if overlap > dt.timedelta():
                total += overlap
        day += _ONE_DAY
    return total.total_seconds() / 3600


def days_between(first: dt.date, last: dt.date, unit: DayUnit, calendar: WorkingCalendar) -> int:
    """Days after ``first`` up to and including ``last``: calendar days, or working days
    (the deadlines' own count). 0 when ``last <= first``."""
    if unit is DayUnit.CALENDAR:
        return max((last - first).days, 0)
    return calendar.working_days_between(first, last).days
