"""Feedback and 信访 indicators with known answers: no ratings, the five levels, the latest
rating of a case, the feedback clock over a 调休 Saturday, 再信访率, handling time."""

from __future__ import annotations

import datetime as dt

import pytest

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.policy import HOTLINE, DayUnit
from dispatch.deadlines.stage_clocks import Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.feedback.scale import Level
from dispatch.indicators import feedback, periods, petitions
from dispatch.indicators.rows import AssignmentRow, CaseFile, DeadlineRow, FeedbackRow
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev, ids

A = Action
D = dt.date
CAL = WorkingCalendar(warn_unknown_years=False)
OCTOBER = periods.month(2025, 10, BEIJING)
AS_OF = at(2025, 11, 15)


def rated(case_id: str, unit: str, *given: tuple[dt.datetime, str]) -> CaseFile:
    return case_file(
        case_id,
        at(2025, 9, 25),
        assignments=[AssignmentRow(f"{case_id}a", unit, "lead", "transfer", at(2025, 9, 25, 10))],
        feedback=[
            FeedbackRow(number, when, "auto_call", level)
            for number, (when, level) in enumerate(given)
        ],
    )


RATED = [
    rated("f1", "U1", (at(2025, 10, 3), "very_satisfied")),
    rated("f2", "U1", (at(2025, 10, 4), "satisfied")),
    rated("f3", "U2", (at(2025, 10, 5), "basically_satisfied")),
    rated("f4", "U2", (at(2025, 10, 6), "dissatisfied")),
    rated("f5", "U2", (at(2025, 10, 7), "very_dissatisfied")),
    # Dissatisfied, reopened, then satisfied: the latest rating in the month counts.
    rated("f6", "U1", (at(2025, 10, 8), "dissatisfied"), (at(2025, 10, 20), "satisfied")),
    # Told the result but gave no rating; an unknown value: neither is a valid rating.
    rated("f7", "U1", (at(2025, 10, 9), ""), (at(2025, 10, 10), "so-so")),
    rated("f8", "U1", (at(2025, 9, 30), "dissatisfied")),  # September's
]


@pytest.mark.parametrize(
    ("unit", "satisfied", "valid"),
    [
        (None, ids("f1", "f2", "f3", "f6"), ids("f1", "f2", "f3", "f4", "f5", "f6")),
        ("U1", ids("f1", "f2", "f6"), ids("f1", "f2", "f6")),
        ("U2", ids("f3"), ids("f3", "f4", "f5")),
    ],
)
def test_satisfaction_rate(
    unit: str | None, satisfied: tuple[str, ...], valid: tuple[str, ...]
) -> None:
    figure = feedback.satisfaction_rate(RATED, OCTOBER, AS_OF, unit)
    assert (figure.ids, figure.base_ids) == (satisfied, valid)
    assert figure.value == pytest.approx(len(satisfied) / len(valid))


def test_no_ratings_is_no_rate_not_zero_nor_a_hundred() -> None:
    november = periods.month(2025, 11, BEIJING)
    figure = feedback.satisfaction_rate(RATED, november, at(2025, 12, 1))
    assert (figure.value, figure.denominator, figure.text) == (None, 0, "—")
    only_unrated = [RATED[6]]
    assert feedback.satisfaction_rate(only_unrated, OCTOBER, AS_OF).value is None
    assert all(f.value is None for f in feedback.level_split(only_unrated, OCTOBER, AS_OF).values())


def test_a_rating_after_as_of_is_not_yet_known() -> None:
    # On 10 October f6 was still dissatisfied.
    figure = feedback.satisfaction_rate(RATED, OCTOBER, at(2025, 10, 10))
    assert figure.ids == ids("f1", "f2", "f3")
    assert figure.base_ids == ids("f1", "f2", "f3", "f4", "f5", "f6")


def test_the_five_level_split() -> None:
    split = feedback.level_split(RATED, OCTOBER, AS_OF)
    assert list(split) == list(Level)
    assert {level: split[level].numerator for level in Level} == {
        Level.VERY_SATISFIED: 1,
        Level.SATISFIED: 2,
        Level.BASICALLY_SATISFIED: 1,
        Level.DISSATISFIED: 1,
        Level.VERY_DISSATISFIED: 1,
    }
    assert sum(figure.value or 0 for figure in split.values()) == pytest.approx(1)
    assert split[Level.SATISFIED].ids == ids("f2", "f6")
    assert split[Level.SATISFIED].definition.name == "满意占比"


def test_visit_rate_follows_the_cases_reviewed_in_the_period() -> None:
    rows = [
        case_file(
            "p1",
            at(2025, 10, 1),
            [ev(A.PASS_REVIEW, at(2025, 10, 9)), ev(A.FEEDBACK, at(2025, 10, 10))],
        ),
        case_file(
            "p2",
            at(2025, 10, 1),
            [ev(A.PASS_REVIEW, at(2025, 10, 30)), ev(A.FEEDBACK, at(2025, 11, 3))],
        ),
        case_file("p3", at(2025, 10, 1), [ev(A.PASS_REVIEW, at(2025, 10, 30))]),
        case_file(
            "p4",
            at(2025, 9, 1),
            [ev(A.PASS_REVIEW, at(2025, 9, 30)), ev(A.FEEDBACK, at(2025, 10, 9))],
        ),
    ]
    at_month_end = feedback.visit_rate(rows, OCTOBER, at(2025, 10, 31, 23))
    assert (at_month_end.ids, at_month_end.base_ids) == (ids("p1"), ids("p1", "p2", "p3"))
    later = feedback.visit_rate(rows, OCTOBER, AS_OF)
    assert later.ids == ids("p1", "p2")


def test_on_time_feedback_over_a_tiao_xiu_saturday() -> None:
    # Replied on Friday 10 October: the citizen is to be told by Saturday the 11th, a 调休
    # working day; telling them on Monday is late.
    assert HOTLINE.feedback_due(CAL, D(2025, 10, 10)).date == D(2025, 10, 11)  # type: ignore[union-attr]

    def told(case_id: str, met: dt.datetime | None) -> CaseFile:
        clock = DeadlineRow(1, Stage.FEEDBACK.value, D(2025, 10, 10), D(2025, 10, 11), met_at=met)
        return case_file(case_id, at(2025, 10, 1), deadlines=[clock])

    rows = [told("t1", at(2025, 10, 11, 16)), told("t2", at(2025, 10, 13, 9)), told("t3", None)]
    figure = feedback.on_time_feedback_rate(rows, OCTOBER, AS_OF)
    assert (figure.ids, figure.base_ids) == (ids("t1"), ids("t1", "t2", "t3"))


# -- 信访 ------------------------------------------------------------------------------------


def petition(
    case_id: str,
    received: dt.datetime,
    phone: str,
    category: str,
    closed: dt.datetime | None = None,
    anonymous: bool = False,
) -> CaseFile:
    events = [ev(A.ACCEPT, received)]
    if closed is not None:
        events.append(ev(A.CLOSE, closed))
    return case_file(
        case_id, received, events, complainant_phone=phone, category=category, anonymous=anonymous
    )


PETITIONS = [
    # Closed in October; the petitioner came back in November about the same matter.
    petition("x1", at(2025, 9, 29), "13800000001", "住房", at(2025, 10, 10)),
    petition("x1b", at(2025, 11, 5), "13800000001", "住房"),
    # Closed; came back about something else.
    petition("x2", at(2025, 9, 29), "13800000002", "住房", at(2025, 10, 10)),
    petition("x2b", at(2025, 11, 6), "13800000002", "交通"),
    # Closed; came back before the closing (a chase, not a new petition), and not after.
    petition("x3", at(2025, 9, 29), "13800000003", "住房", at(2025, 10, 20)),
    petition("x3b", at(2025, 10, 15), "13800000003", "住房"),
    # Closed; came back with a case not yet categorised.
    petition("x4", at(2025, 9, 29), "13800000004", "住房", at(2025, 10, 10)),
    petition("x4b", at(2025, 12, 1), "13800000004", ""),
    # Anonymous: who came back cannot be told.
    petition("x5", at(2025, 9, 29), "13800000005", "住房", at(2025, 10, 10), anonymous=True),
    petition("x5b", at(2025, 11, 1), "13800000005", "住房"),
]


@pytest.mark.parametrize(
    ("as_of", "same_category", "again"),
    [
        (at(2025, 12, 31), True, ids("x1", "x4")),
        (at(2025, 12, 31), False, ids("x1", "x2", "x4")),
        (at(2025, 11, 5, 12), True, ids("x1")),  # x4b had not come yet
    ],
)
def test_repeat_petition_rate(
    as_of: dt.datetime, same_category: bool, again: tuple[str, ...]
) -> None:
    figure = petitions.repeat_petition_rate(PETITIONS, OCTOBER, as_of, same_category=same_category)
    assert (figure.ids, figure.base_ids) == (again, ids("x1", "x2", "x3", "x4"))


def test_average_handling_time_in_calendar_or_working_days() -> None:
    rows = [
        # Accepted 29 September, closed 10 October: 11 days; 3 working days (30 September,
        # 9 and 10 October) over the National Day holiday.
        petition("y1", at(2025, 9, 29), "", "", at(2025, 10, 10)),
        # Accepted Friday 10 October, closed Monday 13th: 3 days; 2 working days (the 11th
        # is a 调休 Saturday).
        petition("y2", at(2025, 10, 10), "", "", at(2025, 10, 13)),
        case_file("y3", at(2025, 10, 10), [ev(A.ANSWER_ON_SPOT, at(2025, 10, 10))]),  # 即办
    ]
    calendar_days = petitions.average_handling_time(rows, OCTOBER, CAL)
    assert (calendar_days.value, calendar_days.ids) == (7.0, ids("y1", "y2"))
    assert calendar_days.text == "7.0天"
    working = petitions.average_handling_time(rows, OCTOBER, CAL, DayUnit.WORKING)
    assert working.value == 2.5
    assert working.text == "2.5个工作日"
