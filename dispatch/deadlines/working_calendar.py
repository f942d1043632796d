"""Working days on China's official calendar, with 调休 (make-up working days).

Sources, per year:

1. the schedule file (``<data_dir>/calendar/holidays.toml``), for years it declares — a year in
   the file replaces the package's data for that year entirely;
2. the ``chinesecalendar`` package (State Council schedules, 2004–2026 in version 1.11);
3. otherwise no official schedule is known: Monday–Friday count as working days and every
   result that depended on such a day is marked provisional, naming the year.

Schedule file format (TOML, one table per year; dates as TOML dates or ``"YYYY-MM-DD"``)::

    [2027]
    source = "国务院办公厅关于2027年部分节假日安排的通知"   # optional
    holidays = [
      { name = "元旦", date = 2027-01-01 },
      { name = "春节", from = 2027-02-06, to = 2027-02-13 },
    ]
    working_days = [                                     # 调休 补班, Saturdays/Sundays only
      { name = "春节", date = 2027-02-14 },
    ]

Every date must lie in the year of its table (a holiday period crossing New Year is listed in
both years), a date may be a holiday or a working day but not both, and a year must list at
least one holiday. A file that breaks a rule is refused at load with the file and entry named.

Counting: "n working days after start" counts from the first working day *after* start, so the
result is the n-th working day strictly after start. ``n = 0`` means start itself when it is a
working day, else the next working day.

Pure apart from :func:`load_schedule_file` (reads the file) and a logged warning, once per
calendar and year, the first time a year without a schedule is used.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path

import chinese_calendar

log = logging.getLogger(__name__)

PACKAGE_SOURCE = "chinesecalendar package"
_ONE_DAY = dt.timedelta(days=1)
_ENTRY_KEYS = frozenset({"name", "date", "from", "to"})
_YEAR_KEYS = frozenset({"source", "holidays", "working_days"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The package names holidays in English; the schedules (and this product) use Chinese.
_CHINESE_NAMES = {holiday.value: holiday.chinese for holiday in chinese_calendar.Holiday}


class CalendarFileError(ValueError):
    """The schedule file cannot be used; the message names the file and the entry."""


class DayKind(StrEnum):
    WORKDAY = "workday"  # an ordinary Monday–Friday
    WEEKEND = "weekend"  # an ordinary Saturday or Sunday
    HOLIDAY = "holiday"  # a public holiday (including weekend days inside a holiday period)
    ADJUSTED_WORKDAY = "adjusted_workday"  # 调休 补班: a Saturday or Sunday worked


@dataclass(frozen=True)
class DayInfo:
    date: dt.date
    kind: DayKind
    name: str | None = None  # the holiday (元旦, 春节 …) a holiday or 补班 day belongs to
    official: bool = True  # False: the year has no schedule, the answer is by weekday only

    @property
    def working(self) -> bool:
        return self.kind in (DayKind.WORKDAY, DayKind.ADJUSTED_WORKDAY)


@dataclass(frozen=True)
class Deadline:
    """A computed date; ``provisional`` when it crossed years without an official schedule."""

    date: dt.date
    unknown_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.unknown_years)

    def as_dict(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "provisional": self.provisional,
            "unknown_years": list(self.unknown_years),
        }


@dataclass(frozen=True)
class WorkingDayCount:
    """How many working days lie in a span; ``provisional`` as for :class:`Deadline`."""

    days: int
    unknown_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.unknown_years)


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: holidays and 调休 working days, each with its name."""

    year: int
    holidays: Mapping[dt.date, str]
    working_days: Mapping[dt.date, str]
    source: str = ""


@cache
def package_covers(year: int) -> bool:
    """Whether the installed ``chinesecalendar`` has the schedule for ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _package_day(day: dt.date) -> DayInfo:
    is_holiday, english = chinese_calendar.get_holiday_detail(day)
    name = _CHINESE_NAMES.get(english, english) if english else None
    weekend = day.weekday() >= 5
    if not is_holiday:
        kind = DayKind.ADJUSTED_WORKDAY if weekend else DayKind.WORKDAY
        return DayInfo(day, kind, name if weekend else None)
    if name is None and weekend:
        return DayInfo(day, DayKind.WEEKEND)
    return DayInfo(day, DayKind.HOLIDAY, name)


def _schedule_day(schedule: YearSchedule, day: dt.date) -> DayInfo:
    if day in schedule.working_days:
        return DayInfo(day, DayKind.ADJUSTED_WORKDAY, schedule.working_days[day])
    if day in schedule.holidays:
        return DayInfo(day, DayKind.HOLIDAY, schedule.holidays[day])
    return DayInfo(day, DayKind.WEEKEND if day.weekday() >= 5 else DayKind.WORKDAY)


def _check_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"expected a date, got {value!r}")
    return value


@dataclass
class WorkingCalendar:
    """Answers which days are working days; build one per process and share it.

    ``schedules`` (from the file) win over the package for their years; ``use_package=False``
    ignores the package (for tests). ``warn_unknown_years`` logs a WARNING the first time this
    calendar falls back to weekdays for a year.
    """

    schedules: Mapping[int, YearSchedule] = field(default_factory=dict)
    use_package: bool = True
    warn_unknown_years: bool = True
    _warned: set[int] = field(default_factory=set, init=False, repr=False, compare=False)

    def has_schedule(self, year: int) -> bool:
        return year in self.schedules or (self.use_package and package_covers(year))

    def schedule_source(self, year: int) -> str | None:
        """Where ``year``'s schedule comes from, or ``None`` when it is unknown."""
        if year in self.schedules:
            return self.schedules[year].source or "schedule file"
        if self.use_package and package_covers(year):
            return PACKAGE_SOURCE
        return None

    def day_info(self, day: dt.date) -> DayInfo:
        day = _check_date(day)
        schedule = self.schedules.get(day.year)
        if schedule is not None:
            return _schedule_day(schedule, day)
        if self.use_package and package_covers(day.year):
            return _package_day(day)
        if self.warn_unknown_years and day.year not in self._warned:
            self._warned.add(day.year)
            log.warning(
                "no official holiday schedule for %d: counting Monday-Friday as "
                "working days; deadlines in %d are provisional",
                day.year,
                day.year,
            )
        kind = DayKind.WEEKEND if day.weekday() >= 5 else DayKind.WORKDAY
        return DayInfo(day, kind, official=False)

    def is_working_day(self, day: dt.date) -> bool:
        return self.day_info(day).working

    def add_working_days(self, start: dt.date, n: int) -> Deadline:
        """The n-th working day after ``start`` (``n = 0``: start if working, else the next)."""
        start = _check_date(start)
        if n < 0:
            raise ValueError(f"working days must not be negative, got {n}")
        unknown: set[int] = set()
        day = start
        if n == 0 and self._note(self.day_info(day), unknown).working:
            return Deadline(day, _years(unknown))
        counted = 0
        while counted < max(n, 1):
            day += _ONE_DAY
            if self._note(self.day_info(day), unknown).working:
                counted += 1
        return Deadline(day, _years(unknown))

    def working_days_before(self, end: dt.date, n: int) -> Deadline:
        """The n-th working day before ``end`` (``n = 0``: end if working, else the one before)."""
        end = _check_date(end)
        if n < 0:
            raise ValueError(f"working days must not be negative, got {n}")
        unknown: set[int] = set()
        day = end
        if n == 0 and self._note(self.day_info(day), unknown).working:
            return Deadline(day, _years(unknown))
        counted = 0
        while counted < max(n, 1):
            day -= _ONE_DAY
            if self._note(self.day_info(day), unknown).working:
                counted += 1
        return Deadline(day, _years(unknown))

    def next_working_day(self, day: dt.date) -> Deadline:
        """The first working day strictly after ``day``."""
        return self.add_working_days(day, 1)

    def working_days_between(self, a: dt.date, b: dt.date) -> WorkingDayCount:
        """Working days after ``a`` up to and including ``b`` (0 when ``b <= a``)."""
        a, b = _check_date(a), _check_date(b)
        unknown: set[int] = set()
        days = 0
        day = a + _ONE_DAY
        while day <= b:
            if self._note(self.day_info(day), unknown).working:
                days += 1
            day += _ONE_DAY
        return WorkingDayCount(days, _years(unknown))

    @staticmethod
    def add_calendar_days(start: dt.date, n: int) -> Deadline:
        """``start`` plus n calendar days (the 信访 clock); never provisional."""
        start = _check_date(start)
        if n < 0:
            raise ValueError(f"calendar days must not be negative, got {n}")
        return Deadline(start + dt.timedelta(days=n))

    @staticmethod
    def _note(info: DayInfo, unknown: set[int]) -> DayInfo:
        if not info.official:
            unknown.add(info.date.year)
        return info


def _years(unknown: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(unknown))


# --- the schedule file -------------------------------------------------------------------


def load_calendar(path: Path, *, warn_unknown_years: bool = True) -> WorkingCalendar:
    """The calendar with ``path``'s schedules over the package's; a missing file adds none."""
    schedules = load_schedule_file(path) if path.exists() else {}
    return WorkingCalendar(schedules, warn_unknown_years=warn_unknown_years)


def load_schedule_file(path: Path) -> dict[int, YearSchedule]:
    """Read and check a schedule file; raise :class:`CalendarFileError` naming what is wrong."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarFileError(f"{path}: cannot read the holiday schedule: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CalendarFileError(f"{path}: not valid TOML: {exc}") from exc
    return parse_schedules(document, str(path))


def parse_schedules(document: Mapping[str, object], origin: str) -> dict[int, YearSchedule]:
    """Check a parsed schedule document (see the module doc); ``origin`` names it in errors."""
    schedules: dict[int, YearSchedule] = {}
    for key, table in document.items():
        if not (key.isascii() and key.isdigit() and len(key) == 4):
            raise CalendarFileError(
                f"{origin}: [{key}]: tables must be named by a four-digit year, e.g. [2027]"
            )
        year = int(key)
        schedules[year] = _parse_year(year, table, f"{origin}: [{key}]", origin)
    return schedules


def _parse_year(year: int, table: object, where: str, origin: str) -> YearSchedule:
    if not isinstance(table, dict):
        raise CalendarFileError(f"{where}: must be a table with holidays and working_days")
    unknown = set(table) - _YEAR_KEYS
    if unknown:
        raise CalendarFileError(
            f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_YEAR_KEYS)}"
        )
    source = table.get("source", origin)
    if not isinstance(source, str):
        raise CalendarFileError(f"{where}: source must be a string")
    holidays = _parse_entries(year, table.get("holidays", []), f"{where} holidays")
    working = _parse_entries(year, table.get("working_days", []), f"{where} working_days")
    if not holidays:
        raise CalendarFileError(f"{where}: lists no holidays")
    both = sorted(set(holidays) & set(working))
    if both:
        day = both[0]
        raise CalendarFileError(
            f"{where}: {day} is listed both as a holiday "
            f"({holidays[day]}) and as a working day ({working[day]})"
        )
    for day, name in sorted(working.items()):
        if day.weekday() < 5:
            raise CalendarFileError(
                f"{where} working_days: {day} ({name}) is a "
                f"{day:%A}; 调休 working days are Saturdays or Sundays"
            )
    return YearSchedule(year, holidays, working, source)


def _parse_entries(year: int, entries: object, where: str) -> dict[dt.date, str]:
    if not isinstance(entries, list):
        raise CalendarFileError(
            f"{where}: must be a list of {{ name, date }} or {{ name, from, to }} entries"
        )
    days: dict[dt.date, str] = {}
    for index, entry in enumerate(entries):
        here = f"{where}[{index}]"
        name, dates = _parse_entry(entry, here)
        for day in dates:
            if day.year != year:
                raise CalendarFileError(f"{here} ({name}): {day} is not in {year}")
            if day in days:
                raise CalendarFileError(f"{here} ({name}): {day} is already listed ({days[day]})")
            days[day] = name
    return days


def _parse_entry(entry: object, where: str) -> tuple[str, list[dt.date]]:
    if not isinstance(entry, dict):
        raise CalendarFileError(
            f'{where}: must be a table like {{ name = "元旦", date = 2027-01-01 }}'
        )
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise CalendarFileError(
            f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS)}"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CalendarFileError(f'{where}: needs a name, e.g. name = "春节"')
    if "date" in entry:
        if "from" in entry or "to" in entry:
            raise CalendarFileError(f"{where} ({name}): give either date or from/to, not both")
        return name, [_parse_date(entry["date"], f"{where} ({name}) date")]
    if "from" not in entry or "to" not in entry:
        raise CalendarFileError(f"{where} ({name}): needs date, or both from and to")
    first = _parse_date(entry["from"], f"{where} ({name}) from")
    last = _parse_date(entry["to"], f"{where} ({name}) to")
    if last < first:
        raise CalendarFileError(f"{where} ({name}): to {last} is before from {first}")
    return name, [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise CalendarFileError(f"{where}: {value} has a time; give a date like 2027-01-01")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarFileError(f"{where}: {value!r} is not a date like 2027-01-01")
