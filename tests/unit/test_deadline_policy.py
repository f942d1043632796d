from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from core.settings import Settings
from dispatch.deadlines.policy import (
    HOTLINE,
    PROFILES,
    XINFANG,
    Card,
    DayUnit,
    Period,
    UnknownProfileError,
    calendar_days,
    profile_by_name,
    working,
)
from dispatch.deadlines.working_calendar import WorkingCalendar
from hotline.settings_check import SettingsError, checked

D = dt.date
pytestmark = pytest.mark.usefixtures("calendar_data_until_2026")


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


def test_hotline_handling_ordinary_and_complex(cal: WorkingCalendar) -> None:
    assert HOTLINE.handling_due(cal, D(2026, 9, 30)).date == D(2026, 10, 10)
    # Complex: 10-08, 10-09, 10-10 (调休), 10-12 … 10-15.
    assert HOTLINE.handling_due(cal, D(2026, 9, 30), complex=True).date == D(2026, 10, 15)
    # An ordinary week: accepted Monday, due Thursday.
    assert HOTLINE.handling_due(cal, D(2026, 3, 2)).date == D(2026, 3, 5)


def test_hotline_dispatch_within_one_working_day(cal: WorkingCalendar) -> None:
    due = HOTLINE.dispatch_due(cal, D(2026, 4, 30))  # Thursday before 劳动节
    assert due is not None and due.date == D(2026, 5, 6)
    friday = HOTLINE.dispatch_due(cal, D(2026, 3, 6))
    assert friday is not None and friday.date == D(2026, 3, 9)


def test_hotline_return_allowed_within_two_working_days_of_dispatch(cal: WorkingCalendar) -> None:
    until = HOTLINE.return_allowed_until(cal, D(2026, 2, 13))
    assert until is not None and until.date == D(2026, 2, 24)  # Sat 02-14, then after 春节
    assert cal.working_days_between(D(2026, 2, 13), until.date).days == 2


def test_hotline_feedback_within_one_working_day_of_the_reply(cal: WorkingCalendar) -> None:
    due = HOTLINE.feedback_due(cal, D(2026, 10, 9))  # Friday; Saturday 10-10 is worked
    assert due is not None and due.date == D(2026, 10, 10)


def test_hotline_reminder_one_working_day_before_the_due_date(cal: WorkingCalendar) -> None:
    reminder = HOTLINE.reminder_on(cal, D(2026, 10, 8))
    assert reminder is not None and reminder.date == D(2026, 9, 30)
    monday = HOTLINE.reminder_on(cal, D(2026, 3, 9))
    assert monday is not None and monday.date == D(2026, 3, 6)


def test_hotline_cards(cal: WorkingCalendar) -> None:
    due = D(2026, 3, 4)  # Wednesday
    assert HOTLINE.yellow_card_on(due).date == D(2026, 3, 5)
    red = HOTLINE.red_card_on(cal, due)
    assert red is not None and red.date == D(2026, 3, 6)
    assert HOTLINE.card_on(cal, due, due) is Card.NONE
    assert HOTLINE.card_on(cal, due, D(2026, 3, 5)) is Card.YELLOW
    assert HOTLINE.card_on(cal, due, D(2026, 3, 6)) is Card.RED


def test_hotline_red_card_skips_holidays(cal: WorkingCalendar) -> None:
    due = D(2026, 9, 30)
    assert HOTLINE.yellow_card_on(due).date == D(2026, 10, 1)
    red = HOTLINE.red_card_on(cal, due)
    # 10-08 is the working day in breach; the red card comes on 10-09.
    assert red is not None and red.date == D(2026, 10, 9)
    assert HOTLINE.card_on(cal, due, D(2026, 10, 8)) is Card.YELLOW


def test_hotline_has_no_xinfang_stages(cal: WorkingCalendar) -> None:
    assert HOTLINE.acceptance_notice_due(cal, D(2026, 3, 2)) is None
    assert HOTLINE.extension_limit(cal, D(2026, 3, 2)) is None


def test_xinfang_counts_calendar_days(cal: WorkingCalendar) -> None:
    received = D(2026, 9, 30)
    notice = XINFANG.acceptance_notice_due(cal, received)
    assert notice is not None and notice.date == D(2026, 10, 15)
    assert XINFANG.handling_due(cal, received).date == D(2026, 11, 29)
    assert XINFANG.handling_due(cal, received, complex=True).date == D(2026, 11, 29)
    limit = XINFANG.extension_limit(cal, D(2026, 11, 29))
    assert limit is not None and limit.date == D(2026, 12, 29)
    # Calendar days never depend on a schedule: not provisional even into 2027.
    assert not XINFANG.handling_due(cal, D(2026, 12, 1)).provisional


def test_xinfang_sets_no_hotline_stages(cal: WorkingCalendar) -> None:
    assert XINFANG.dispatch_due(cal, D(2026, 3, 2)) is None
    assert XINFANG.return_allowed_until(cal, D(2026, 3, 2)) is None
    assert XINFANG.feedback_due(cal, D(2026, 3, 2)) is None
    assert XINFANG.reminder_on(cal, D(2026, 3, 2)) is None
    assert XINFANG.red_card_on(cal, D(2026, 3, 2)) is None
    assert XINFANG.card_on(cal, D(2026, 3, 2), D(2026, 6, 1)) is Card.YELLOW


def test_each_stage_may_have_its_own_unit(cal: WorkingCalendar) -> None:
    office = dataclasses.replace(
        HOTLINE,
        name="office",
        ordinary=working(5),
        complex=working(10),
        feedback=calendar_days(3),
        red_card_after=calendar_days(2),
    )
    assert office.handling_due(cal, D(2026, 3, 2)).date == D(2026, 3, 9)
    feedback = office.feedback_due(cal, D(2026, 3, 6))
    assert feedback is not None and feedback.date == D(2026, 3, 9)
    red = office.red_card_on(cal, D(2026, 3, 6))
    assert red is not None and red.date == D(2026, 3, 9)
    assert Period(2, DayUnit.CALENDAR).before(D(2026, 3, 9), cal).date == D(2026, 3, 7)
    assert str(working(1)) == "1 working day"
    with pytest.raises(ValueError, match="negative"):
        Period(-1)


def test_provisional_flags_pass_through(cal: WorkingCalendar) -> None:
    due = HOTLINE.handling_due(cal, D(2026, 12, 30), complex=True)
    assert due.provisional and due.unknown_years == (2027,)


def test_profile_by_name() -> None:
    assert profile_by_name("hotline") is HOTLINE
    assert profile_by_name("xinfang") is XINFANG
    assert set(PROFILES) == {"hotline", "xinfang"}
    with pytest.raises(
        UnknownProfileError,
        match="unknown deadline profile 'nope'; known profiles: hotline, xinfang",
    ):
        profile_by_name("nope")


def test_the_settings_check_validates_the_profile(tmp_path: Path) -> None:
    settings = checked(Settings(data_dir=tmp_path))
    assert settings.deadline_profile == "hotline"
    assert settings.calendar_file == tmp_path / "calendar" / "holidays.toml"
    assert checked(Settings(deadline_profile="xinfang")).deadline_profile == "xinfang"
    with pytest.raises(
        SettingsError,
        match=r"^deadline_profile: unknown deadline profile "
        r"'weekly'",
    ):
        checked(Settings(deadline_profile="weekly"))
