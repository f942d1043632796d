"""Deadline policy profiles (限时办结) as data: which clock each stage runs on, and how long.

Every stage has its own clock, started by its own event (acceptance, dispatch, the unit's reply,
the handling due date) and counted in working days (the official calendar, 调休 included) or
calendar days. All dates are local China dates. Pure: the calendar is passed in.

Cards, for a case still open: the yellow card applies from the first day after the due date
(the breach); the red card when it is still open after a further ``red_card_after`` — with one
working day, from the second working day after the due date.

A stage a profile does not set (e.g. 转办 for 信访) gives ``None``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from dispatch.deadlines.working_calendar import Deadline, WorkingCalendar


class DayUnit(StrEnum):
    WORKING = "working"
    CALENDAR = "calendar"


class Card(StrEnum):
    NONE = "none"
    YELLOW = "yellow"  # 黄牌: past the due date
    RED = "red"  # 红牌: still open a further period after the breach


class UnknownProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    days: int
    unit: DayUnit = DayUnit.WORKING

    def __post_init__(self) -> None:
        if self.days < 0:
            raise ValueError(f"a period cannot be negative: {self.days}")

    def after(self, start: dt.date, calendar: WorkingCalendar) -> Deadline:
        if self.unit is DayUnit.CALENDAR:
            return calendar.add_calendar_days(start, self.days)
        return calendar.add_working_days(start, self.days)

    def before(self, end: dt.date, calendar: WorkingCalendar) -> Deadline:
        if self.unit is DayUnit.CALENDAR:
            return Deadline(end - dt.timedelta(days=self.days))
        return calendar.working_days_before(end, self.days)

    def __str__(self) -> str:
        return f"{self.days} {self.unit} day{'s' if self.days != 1 else ''}"


def working(days: int) -> Period:
    return Period(days, DayUnit.WORKING)


def calendar_days(days: int) -> Period:
    return Period(days, DayUnit.CALENDAR)


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    ordinary: Period  # handling, from acceptance
    complex: Period
    dispatch: Period | None = None  # 转办 to the unit, from acceptance
    return_window: Period | None = None  # 退回 by the unit, from dispatch
    feedback: Period | None = None  # telling the citizen, from the unit's reply
    reminder_before: Period | None = None  # 催办, before the handling due date
    red_card_after: Period | None = None  # 红牌, after the breach
    acceptance_notice: Period | None = None  # written notice of acceptance, from receipt
    extension_max: Period | None = None  # 延期 at most, added to the due date

    def handling_due(
        self, calendar: WorkingCalendar, accepted_on: dt.date, complex: bool = False
    ) -> Deadline:
        return (self.complex if complex else self.ordinary).after(accepted_on, calendar)

    def dispatch_due(self, calendar: WorkingCalendar, accepted_on: dt.date) -> Deadline | None:
        return _after(self.dispatch, accepted_on, calendar)

    def return_allowed_until(
        self, calendar: WorkingCalendar, dispatched_on: dt.date
    ) -> Deadline | None:
        return _after(self.return_window, dispatched_on, calendar)

    def feedback_due(self, calendar: WorkingCalendar, replied_on: dt.date) -> Deadline | None:
        return _after(self.feedback, replied_on, calendar)

    def acceptance_notice_due(
        self, calendar: WorkingCalendar, received_on: dt.date
    ) -> Deadline | None:
        return _after(self.acceptance_notice, received_on, calendar)

    def extension_limit(self, calendar: WorkingCalendar, due: dt.date) -> Deadline | None:
        """The latest date an extension may move the due date to."""
        return _after(self.extension_max, due, calendar)

    def reminder_on(
        self, calendar: WorkingCalendar, due: dt.date, held_since: dt.date | None = None
    ) -> Deadline | None:
        """The day to send the 催办 reminder for a clock due on ``due``: ``reminder_before``
        ahead of it, and only if that day comes after ``held_since``, the day the clock
        reached whoever must meet it. A reminder on the day a duty arrives tells its holder
        nothing they were not just told: a one-working-day clock (转办, the feedback) gets
        none, and neither does a case dispatched on or after its reminder day; their breach
        still gets the yellow card."""
        if self.reminder_before is None:
            return None
        reminder = self.reminder_before.before(due, calendar)
        if held_since is not None and reminder.date <= held_since:
            return None
        return reminder

    @staticmethod
    def yellow_card_on(due: dt.date) -> Deadline:
        """The first day of the breach: the day after the due date."""
        return Deadline(due + dt.timedelta(days=1))

    def red_card_on(self, calendar: WorkingCalendar, due: dt.date) -> Deadline | None:
        """The day from which a case still open gets the red card."""
        period = self.red_card_after
        if period is None:
            return None
        if period.unit is DayUnit.CALENDAR:
            return calendar.add_calendar_days(due, period.days + 1)
        return calendar.add_working_days(due, period.days + 1)

    def card_on(self, calendar: WorkingCalendar, due: dt.date, today: dt.date) -> Card:
        """The card a case due on ``due`` and still open on ``today`` carries."""
        if today <= due:
            return Card.NONE
        red = self.red_card_on(calendar, due)
        return Card.RED if red is not None and today >= red.date else Card.YELLOW


def _after(period: Period | None, start: dt.date, calendar: WorkingCalendar) -> Deadline | None:
    return None if period is None else period.after(start, calendar)


HOTLINE = Profile(
    name="hotline",
    title="12345 hotline (seed 003): 3/7 working days",
    ordinary=working(3),
    complex=working(7),
    dispatch=working(1),
    return_window=working(2),
    feedback=working(1),
    reminder_before=working(1),
    red_card_after=working(1),
)

XINFANG = Profile(
    name="xinfang",
    title="信访工作条例 (2022): notice 15 days, handling 60 days, extension 30 days",
    ordinary=calendar_days(60),
    complex=calendar_days(60),
    acceptance_notice=calendar_days(15),
    extension_max=calendar_days(30),
)

PROFILES: dict[str, Profile] = {profile.name: profile for profile in (HOTLINE, XINFANG)}


def profile_by_name(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfileError(
            f"unknown deadline profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}"
        ) from None
