from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from dispatch.deadlines.working_calendar import (
    CalendarFileError,
    DayKind,
    WorkingCalendar,
    load_calendar,
    load_schedule_file,
)

D = dt.date
pytestmark = pytest.mark.usefixtures("calendar_data_until_2026")

# A made-up 2027 schedule: 元旦 on Friday 1 January, a 春节 week, and Saturday 13 February as
# a 调休 working day.
SCHEDULE_2027 = """
[2027]
source = "test schedule"
holidays = [
  { name = "元旦", date = 2027-01-01 },
  { name = "春节", from = 2027-02-06, to = "2027-02-12" },
]
working_days = [
  { name = "春节", date = 2027-02-13 },
]
"""


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar()


@pytest.fixture
def schedule_file(tmp_path: Path) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(SCHEDULE_2027, encoding="utf-8")
    return path


def test_three_working_days_after_national_day_eve_end_on_the_adjusted_saturday(
    calendar: WorkingCalendar,
) -> None:
    # 10-01..10-07 are holidays; 10-08 and 10-09 are working days; 10-10 is a 调休 Saturday.
    deadline = calendar.add_working_days(D(2026, 9, 30), 3)
    assert deadline.date == D(2026, 10, 10)
    assert deadline.date.weekday() == 5
    assert not deadline.provisional
    assert deadline.unknown_years == ()


def test_three_working_days_before_spring_festival_count_the_adjusted_saturday(
    calendar: WorkingCalendar,
) -> None:
    # Saturday 02-14 is worked; 02-15..02-23 are the 春节 holiday; then 02-24, 02-25.
    assert calendar.add_working_days(D(2026, 2, 13), 3).date == D(2026, 2, 25)


def test_a_weekday_holiday_is_skipped(calendar: WorkingCalendar) -> None:
    labour_day = calendar.day_info(D(2026, 5, 5))  # a Tuesday
    assert labour_day.kind is DayKind.HOLIDAY and labour_day.name == "劳动节"
    assert not calendar.is_working_day(D(2026, 5, 5))
    # Thursday 04-30: the next working day is Wednesday 05-06, not Friday 05-01 or 05-05.
    assert calendar.next_working_day(D(2026, 4, 30)).date == D(2026, 5, 6)


def test_an_adjusted_saturday_counts(calendar: WorkingCalendar) -> None:
    saturday = calendar.day_info(D(2026, 2, 14))
    assert saturday.kind is DayKind.ADJUSTED_WORKDAY and saturday.working
    assert saturday.name == "春节"
    assert calendar.next_working_day(D(2026, 2, 13)).date == D(2026, 2, 14)
    assert not calendar.is_working_day(D(2026, 10, 11))  # an ordinary Sunday


def test_zero_days_is_the_start_when_working_else_the_next_working_day(
    calendar: WorkingCalendar,
) -> None:
    assert calendar.add_working_days(D(2026, 9, 30), 0).date == D(2026, 9, 30)
    assert calendar.add_working_days(D(2026, 10, 1), 0).date == D(2026, 10, 8)


def test_negative_days_are_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        calendar.add_working_days(D(2026, 9, 30), -1)
    with pytest.raises(ValueError, match="negative"):
        calendar.add_calendar_days(D(2026, 9, 30), -1)


def test_a_datetime_is_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(TypeError):
        calendar.add_working_days(dt.datetime(2026, 9, 30, 12), 1)


def test_into_2027_without_a_schedule_is_provisional_and_counts_weekends_only(
    calendar: WorkingCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    assert not calendar.has_schedule(2027)
    with caplog.at_level(logging.WARNING, logger="dispatch.deadlines.working_calendar"):
        # Tue 2026-12-29 + 5: 12-30, 12-31, Fri 01-01 (no schedule: a working day), 01-04, 01-05.
        deadline = calendar.add_working_days(D(2026, 12, 29), 5)
        calendar.add_working_days(D(2027, 3, 1), 10)
    assert deadline.date == D(2027, 1, 5)
    assert deadline.provisional
    assert deadline.unknown_years == (2027,)
    assert deadline.as_dict() == {
        "date": "2027-01-05",
        "provisional": True,
        "unknown_years": [2027],
    }
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2027" in warnings[0].getMessage()


def test_into_2027_with_a_schedule_file_follows_the_file(schedule_file: Path) -> None:
    calendar = load_calendar(schedule_file)
    assert calendar.has_schedule(2027)
    assert calendar.schedule_source(2027) == "test schedule"
    # 元旦 on Friday 01-01 is now a holiday: 12-30, 12-31, 01-04, 01-05, 01-06.
    deadline = calendar.add_working_days(D(2026, 12, 29), 5)
    assert deadline.date == D(2027, 1, 6)
    assert not deadline.provisional and deadline.unknown_years == ()
    # Fri 02-05, then the holiday week, then the 调休 Saturday 02-13 is the first working day.
    assert calendar.add_working_days(D(2027, 2, 5), 1).date == D(2027, 2, 13)
    assert calendar.add_working_days(D(2027, 2, 5), 2).date == D(2027, 2, 15)
    assert calendar.day_info(D(2027, 2, 13)).name == "春节"


def test_a_file_year_replaces_the_package(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text('[2026]\nholidays = [{ name = "测试", date = 2026-09-30 }]\n', encoding="utf-8")
    calendar = load_calendar(path)
    assert not calendar.is_working_day(D(2026, 9, 30))
    assert calendar.is_working_day(D(2026, 10, 1))  # the package's 国庆节 no longer applies
    assert calendar.is_working_day(D(2025, 10, 1)) is False  # other years still the package's


def test_a_missing_file_adds_no_schedule(tmp_path: Path) -> None:
    calendar = load_calendar(tmp_path / "absent.toml")
    assert calendar.schedules == {}
    assert calendar.has_schedule(2026) and not calendar.has_schedule(2027)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[2027]\nholidays = [{ name = "元旦", date = 2026-12-31 }]\n',
            r"\[2027\] holidays\[0\] "
            r"\(元旦\): 2026-12-31 is not in 2027",
        ),
        (
            '[2027]\nholidays = [{ name = "元旦", date = 2027-01-02 }]\n'
            'working_days = [{ name = "补班", date = 2027-01-02 }]\n',
            "2027-01-02 is listed both as a holiday",
        ),
        (
            '[2027]\nholidays = [{ name = "元旦", date = 2027-01-01 }]\n'
            'working_days = [{ name = "补班", date = 2027-01-04 }]\n',
            "2027-01-04 .* is a Monday; 调休 working days are Saturdays or Sundays",
        ),
        (
            '[2027]\nholidays = [{ name = "春节", from = 2027-02-10, to = 2027-02-06 }]\n',
            "to 2027-02-06 is before from 2027-02-10",
        ),
        ('[2027]\nholidays = [{ name = "元旦", date = "1 Jan 2027" }]\n', "is not a date"),
        ('[2027]\nholidays = [{ name = "元旦", date = "20270101" }]\n', "is not a date"),
        ('[2027]\nholidays = [{ name = "元旦", date = 2027-01-01T08:00:00 }]\n', "has a time"),
        ("[2027]\nholidays = [{ date = 2027-01-01 }]\n", "needs a name"),
        ('[2027]\nholidays = [{ name = "元旦" }]\n', "needs date, or both from and to"),
        ('[2027]\nholidays = [{ name = "元旦", day = 2027-01-01 }]\n', r"unknown keys \['day'\]"),
        (
            '[2027]\nholiday = [{ name = "元旦", date = 2027-01-01 }]\n',
            r"unknown keys \['holiday'\]",
        ),
        ("[2027]\nworking_days = []\n", "lists no holidays"),
        ("[year2027]\nholidays = []\n", "four-digit year"),
        (
            '[2027]\nholidays = [{ name = "元旦", date = 2027-01-01 }, '
            '{ name = "春节", from = 2026-12-31, to = 2027-01-01 }]\n',
            "holidays\\[1\\]",
        ),
        ("[2027\nholidays = []\n", "not valid TOML"),
    ],
)
def test_a_broken_file_is_refused_at_load_naming_file_and_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarFileError, match=message) as raised:
        load_schedule_file(path)
    assert str(raised.value).startswith(str(path))


def test_duplicate_dates_within_a_list_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text(
        '[2027]\nholidays = [{ name = "元旦", date = 2027-01-01 }, '
        '{ name = "元旦", date = 2027-01-01 }]\n',
        encoding="utf-8",
    )
    with pytest.raises(CalendarFileError, match=r"holidays\[1\] .*already listed"):
        load_calendar(path)


def test_calendar_days(calendar: WorkingCalendar) -> None:
    deadline = calendar.add_calendar_days(D(2026, 9, 30), 60)
    assert deadline.date == D(2026, 11, 29)
    assert not deadline.provisional
    assert calendar.add_calendar_days(D(2026, 12, 1), 60).date == D(2027, 1, 30)
    assert not calendar.add_calendar_days(D(2026, 12, 1), 60).provisional


def test_working_days_between(calendar: WorkingCalendar) -> None:
    # After Wed 09-30 up to Sat 10-10: 10-08, 10-09, 10-10.
    assert calendar.working_days_between(D(2026, 9, 30), D(2026, 10, 10)).days == 3
    assert calendar.working_days_between(D(2026, 9, 30), D(2026, 10, 7)).days == 0
    assert calendar.working_days_between(D(2026, 10, 9), D(2026, 10, 9)).days == 0
    assert calendar.working_days_between(D(2026, 10, 9), D(2026, 10, 1)).days == 0
    # A Friday to the next Monday: one working day.
    assert calendar.working_days_between(D(2026, 3, 6), D(2026, 3, 9)).days == 1
    span = calendar.working_days_between(D(2026, 12, 30), D(2027, 1, 4))
    assert span.days == 3 and span.unknown_years == (2027,) and span.provisional


def test_working_days_before(calendar: WorkingCalendar) -> None:
    # The working day before Thu 10-08 is Wed 09-30, across the National Day holiday.
    assert calendar.working_days_before(D(2026, 10, 8), 1).date == D(2026, 9, 30)
    assert calendar.working_days_before(D(2026, 10, 12), 1).date == D(2026, 10, 10)
    assert calendar.working_days_before(D(2026, 10, 3), 0).date == D(2026, 9, 30)
