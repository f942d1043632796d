"""Handling indicators on hand-built cases with known answers: clocks computed by the
hotline profile over the 2025 National Day holiday and its 调休 Saturdays (28 September and
11 October are worked; 1-8 October are not), cases spanning periods, merged and withdrawn
cases, returns and re-assignments, supervision, reopening."""

from __future__ import annotations

import datetime as dt

import pytest

from dispatch.cases.lifecycle import Action
from dispatch.deadlines.policy import HOTLINE
from dispatch.deadlines.stage_clocks import Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.indicators import handling, periods
from dispatch.indicators.rows import (
    AssignmentRow,
    CaseFile,
    DeadlineRow,
    ExtensionRow,
    SupervisionRow,
)
from tests.unit.test_indicators_support import BEIJING, at, case_file, ev, ids

A = Action
D = dt.date
CAL = WorkingCalendar(warn_unknown_years=False)
OCTOBER = periods.month(2025, 10, BEIJING)
SEPTEMBER = periods.month(2025, 9, BEIJING)


def lead(
    row_id: str,
    unit: str,
    dispatched: dt.datetime,
    signed: dt.datetime | None = None,
    returned: dt.datetime | None = None,
) -> AssignmentRow:
    return AssignmentRow(
        id=row_id,
        unit_id=unit,
        role="lead",
        mode="transfer",
        dispatched_at=dispatched,
        signed_at=signed,
        returned_at=returned,
        active=returned is None,
    )


_next_clock = iter(range(1, 1000))


def clock(
    stage: Stage,
    started: dt.date,
    due: dt.date,
    unit: str | None = None,
    met: dt.datetime | None = None,
    cancelled: bool = False,
) -> DeadlineRow:
    return DeadlineRow(
        id=next(_next_clock),
        stage=stage.value,
        started_on=started,
        due_on=due,
        unit_id=unit,
        met_at=met,
        cancelled=cancelled,
    )


def handling_case(
    case_id: str,
    accepted: dt.datetime,
    unit: str,
    met: dt.datetime | None,
    deadlines: list[DeadlineRow] | None = None,
) -> CaseFile:
    """Accepted, dispatched to ``unit`` half an hour later, with the hotline profile's
    handling clock (3 working days from acceptance), met at ``met``."""
    accepted_on = accepted.astimezone(BEIJING).date()
    due = HOTLINE.handling_due(CAL, accepted_on).date
    return case_file(
        case_id,
        accepted,
        [ev(A.ACCEPT, accepted)],
        assignments=[lead(f"{case_id}-a", unit, accepted + dt.timedelta(minutes=30))],
        deadlines=deadlines or [clock(Stage.HANDLING, accepted_on, due, unit, met)],
    )


def test_the_hotline_clocks_over_national_day() -> None:
    """The due dates the cases below are built with (dispatch.deadlines' own answers)."""
    assert HOTLINE.handling_due(CAL, D(2025, 9, 29)).date == D(2025, 10, 10)
    assert HOTLINE.handling_due(CAL, D(2025, 9, 30)).date == D(2025, 10, 11)  # a 调休 Saturday
    assert HOTLINE.handling_due(CAL, D(2025, 10, 28)).date == D(2025, 10, 31)
    assert HOTLINE.handling_due(CAL, D(2025, 10, 29)).date == D(2025, 11, 3)


EXTENDED_CLOCKS = [
    clock(Stage.HANDLING, D(2025, 9, 30), D(2025, 10, 11), "U2", cancelled=True),
    clock(Stage.HANDLING, D(2025, 9, 30), D(2025, 10, 17), "U2", at(2025, 10, 16, 15)),
]
CLOCKED = [
    handling_case("h1", at(2025, 9, 29, 9), "U1", at(2025, 10, 10, 22)),  # on its due day
    # Due 11 October; replied at 00:30 on the 12th in Beijing (still the 11th in UTC): late.
    handling_case("h2", at(2025, 9, 30, 10), "U1", at(2025, 10, 12, 0, 30)),
    handling_case("h3", at(2025, 9, 30, 10), "U2", None),  # never replied
    # 延期 approved: the first clock (due 11 October) was replaced by one due the 17th.
    handling_case("h4", at(2025, 9, 30, 10), "U2", None, deadlines=EXTENDED_CLOCKS),
    handling_case("h6", at(2025, 10, 28, 10), "U1", None),  # due 31 October
    handling_case("h7", at(2025, 10, 29, 10), "U2", at(2025, 10, 30, 10)),  # due 3 November
    # Withdrawn on 8 October: its clock was cancelled.
    case_file(
        "h8",
        at(2025, 9, 30, 10),
        [ev(A.ACCEPT, at(2025, 9, 30, 10)), ev(A.WITHDRAW, at(2025, 10, 8))],
        deadlines=[clock(Stage.HANDLING, D(2025, 9, 30), D(2025, 10, 11), "U1", cancelled=True)],
    ),
]


@pytest.mark.parametrize(
    ("as_of", "unit", "on_time", "due"),
    [
        # h6 falls due on 31 October: not yet decided at noon that day.
        (at(2025, 10, 31, 12), None, ids("h1", "h4"), ids("h1", "h2", "h3", "h4")),
        (at(2025, 11, 3, 9), None, ids("h1", "h4"), ids("h1", "h2", "h3", "h4", "h6")),
        # On 15 October h4 (due the 17th, met the 16th) is still running: left out.
        (at(2025, 10, 15, 12), None, ids("h1"), ids("h1", "h2", "h3")),
        (at(2025, 11, 3, 9), "U1", ids("h1"), ids("h1", "h2", "h6")),
        (at(2025, 11, 3, 9), "U2", ids("h4"), ids("h3", "h4")),
    ],
)
def test_on_time_closure_against_the_due_dates_in_the_period(
    as_of: dt.datetime, unit: str | None, on_time: tuple[str, ...], due: tuple[str, ...]
) -> None:
    figure = handling.on_time_rate(CLOCKED, OCTOBER, as_of, unit)
    assert (figure.ids, figure.base_ids) == (on_time, due)
    assert figure.value == pytest.approx(len(on_time) / len(due))
    late = handling.overdue(CLOCKED, OCTOBER, as_of, unit)
    assert late.ids == tuple(sorted(set(due) - set(on_time)))
    overdue_rate = handling.overdue_rate(CLOCKED, OCTOBER, as_of, unit)
    assert overdue_rate.value == pytest.approx(1 - len(on_time) / len(due))


def test_november_has_the_case_due_in_november_though_replied_in_october() -> None:
    november = periods.month(2025, 11, BEIJING)
    assert handling.on_time_rate(CLOCKED, november, at(2025, 11, 30)).ids == ids("h7")
    assert handling.on_time_rate(CLOCKED, SEPTEMBER, at(2025, 11, 30)).value is None


def test_overdue_now() -> None:
    assert handling.overdue_now(CLOCKED, at(2025, 10, 20), BEIJING).ids == ids("h3")
    assert handling.overdue_now(CLOCKED, at(2025, 11, 3), BEIJING).ids == ids("h3", "h6")
    assert handling.overdue_now(CLOCKED, at(2025, 11, 3), BEIJING, "U2").ids == ids("h3")


def test_the_dispatch_clock_with_a_tiao_xiu_saturday() -> None:
    # Accepted on 30 September: due the next working day, 9 October. Accepted on Friday
    # 10 October: due Saturday 11 October, a 调休 working day, so Monday is late.
    assert HOTLINE.dispatch_due(CAL, D(2025, 10, 10)).date == D(2025, 10, 11)  # type: ignore[union-attr]
    rows = [
        case_file(
            "d1",
            at(2025, 9, 30),
            deadlines=[
                clock(Stage.DISPATCH, D(2025, 9, 30), D(2025, 10, 9), met=at(2025, 10, 9, 16))
            ],
        ),
        case_file(
            "d2",
            at(2025, 9, 30),
            deadlines=[
                clock(Stage.DISPATCH, D(2025, 9, 30), D(2025, 10, 9), met=at(2025, 10, 10, 9))
            ],
        ),
        case_file(
            "d3",
            at(2025, 10, 10),
            deadlines=[
                clock(Stage.DISPATCH, D(2025, 10, 10), D(2025, 10, 11), met=at(2025, 10, 13, 9))
            ],
        ),
    ]
    figure = handling.on_time_dispatch_rate(rows, OCTOBER, at(2025, 10, 31))
    assert (figure.ids, figure.base_ids) == (ids("d1"), ids("d1", "d2", "d3"))


def test_sign_time_counts_hours_on_working_days_only() -> None:
    rows = [
        # Monday 09:30 to 11:30: 2 hours.
        case_file(
            "s1",
            at(2025, 9, 29),
            assignments=[lead("s1a", "U1", at(2025, 9, 29, 9, 30), at(2025, 9, 29, 11, 30))],
        ),
        # Tuesday 30 September 17:00 to Thursday 9 October 09:00 over the holiday: 7 + 9.
        case_file(
            "s2",
            at(2025, 9, 30),
            assignments=[lead("s2a", "U1", at(2025, 9, 30, 17), at(2025, 10, 9, 9))],
        ),
        # Friday 10 October 18:00 to Monday 08:00, Saturday worked (调休): 6 + 24 + 8.
        case_file(
            "s3",
            at(2025, 10, 10),
            assignments=[lead("s3a", "U2", at(2025, 10, 10, 18), at(2025, 10, 13, 8))],
        ),
        case_file(
            "s4", at(2025, 10, 10), assignments=[lead("s4a", "U2", at(2025, 10, 10, 18))]
        ),  # unsigned
    ]
    span = periods.custom(D(2025, 9, 29), D(2025, 10, 13), BEIJING)
    figure = handling.sign_time(rows, span, at(2025, 10, 31), CAL)
    assert figure.numerator == pytest.approx(2 + 16 + 38)
    assert figure.denominator == 3
    assert figure.value == pytest.approx(56 / 3)
    assert handling.sign_time(rows, span, at(2025, 10, 31), CAL, "U2").value == pytest.approx(38)
    assert handling.sign_time(rows, span, at(2025, 10, 12), CAL, "U2").value is None
    assert handling.dispatched(rows, OCTOBER).ids == ids("s3", "s4")


RETURNS = [
    # r1: U1 sends it back; the centre re-routes it to U2 (改派).
    case_file(
        "r1",
        at(2025, 10, 13),
        assignments=[
            lead("r1a", "U1", at(2025, 10, 13, 10), returned=at(2025, 10, 14, 10)),
            lead("r1b", "U2", at(2025, 10, 15, 10)),
        ],
    ),
    # r2: reopened (重办) and sent to U1 again: no return, no 改派.
    case_file(
        "r2",
        at(2025, 10, 13),
        assignments=[
            lead("r2a", "U1", at(2025, 10, 13, 10)),
            lead("r2b", "U1", at(2025, 10, 20, 10)),
        ],
    ),
]


@pytest.mark.parametrize(
    ("unit", "returned", "made", "reassigned"),
    [(None, 1, 4, ids("r1")), ("U1", 1, 3, ()), ("U2", 0, 1, ids("r1"))],
)
def test_returns_and_reassignment(
    unit: str | None, returned: int, made: int, reassigned: tuple[str, ...]
) -> None:
    figure = handling.return_rate(RETURNS, OCTOBER, at(2025, 10, 31), unit)
    assert (figure.numerator, figure.denominator) == (returned, made)
    assert handling.reassigned(RETURNS, OCTOBER, unit).ids == reassigned


def test_extensions_approved_in_the_period() -> None:
    def extension(
        row_id: str, status: str, decided: dt.datetime | None, unit: str = "U2"
    ) -> ExtensionRow:
        return ExtensionRow(
            id=row_id,
            deadline_id=1,
            unit_id=unit,
            requested_at=at(2025, 9, 26),
            days=5,
            old_due_on=D(2025, 10, 11),
            new_due_on=D(2025, 10, 17),
            status=status,
            decided_at=decided,
        )

    rows = [
        case_file("e1", at(2025, 9, 26), extensions=[extension("x1", "approved", at(2025, 10, 9))]),
        case_file("e2", at(2025, 9, 26), extensions=[extension("x2", "refused", at(2025, 10, 9))]),
        case_file("e3", at(2025, 9, 26), extensions=[extension("x3", "pending", None)]),
        case_file("e4", at(2025, 9, 26), extensions=[extension("x4", "approved", at(2025, 9, 28))]),
    ]
    assert handling.extended(rows, OCTOBER).ids == ids("e1")
    assert handling.extended(rows, OCTOBER, "U1").value == 0


SPANNING = [
    case_file(
        "c1",
        at(2025, 9, 29),
        [ev(A.ACCEPT, at(2025, 9, 29)), ev(A.CLOSE, at(2025, 10, 14))],
        assignments=[lead("c1a", "U1", at(2025, 9, 29, 10))],
    ),
    case_file(
        "c3",
        at(2025, 9, 29),
        [
            ev(A.ACCEPT, at(2025, 9, 29)),
            ev(A.CLOSE, at(2025, 10, 14)),
            ev(A.REOPEN, at(2025, 10, 20)),
        ],
        assignments=[lead("c3a", "U2", at(2025, 9, 29, 10))],
    ),
    case_file("c4", at(2025, 9, 29), [ev(A.ACCEPT, at(2025, 9, 29)), ev(A.MERGE, at(2025, 9, 30))]),
    case_file(
        "c5", at(2025, 9, 29), [ev(A.ACCEPT, at(2025, 9, 29)), ev(A.WITHDRAW, at(2025, 10, 5))]
    ),
    case_file("c6", at(2025, 9, 29), [ev(A.ANSWER_ON_SPOT, at(2025, 9, 29))]),
]


@pytest.mark.parametrize(
    ("as_of", "unit", "closed", "cohort"),
    [
        # At the end of September: c4 merged already, c5 not yet withdrawn.
        (at(2025, 9, 30, 23, 59), None, ids("c6"), ids("c1", "c3", "c5", "c6")),
        # At the end of October: c1 closed, c3 closed and reopened, c5 withdrawn.
        (at(2025, 10, 31, 23, 59), None, ids("c1", "c6"), ids("c1", "c3", "c6")),
        (at(2025, 10, 31, 23, 59), "U1", ids("c1"), ids("c1")),
    ],
)
def test_closure_rate_follows_the_cases_accepted_in_the_period(
    as_of: dt.datetime, unit: str | None, closed: tuple[str, ...], cohort: tuple[str, ...]
) -> None:
    figure = handling.closure_rate(SPANNING, SEPTEMBER, as_of, unit)
    assert (figure.ids, figure.base_ids) == (closed, cohort)


def test_closed_counts_in_the_period_of_the_closing() -> None:
    assert handling.closed(SPANNING, SEPTEMBER).ids == ids("c6")
    assert handling.closed(SPANNING, OCTOBER).ids == ids("c1", "c3")
    assert handling.closed(SPANNING, OCTOBER, "U2").ids == ids("c3")


def test_reopen_rate() -> None:
    reopened = handling.reopen_rate(SPANNING, OCTOBER, at(2025, 10, 31))
    assert (reopened.ids, reopened.base_ids) == (ids("c3"), ids("c1", "c3"))
    assert handling.reopen_rate(SPANNING, OCTOBER, at(2025, 10, 15)).value == 0


def test_reminders_and_cards() -> None:
    def record(
        row_id: int, kind: str, when: dt.datetime, unit: str, by: str = ""
    ) -> SupervisionRow:
        return SupervisionRow(
            id=row_id,
            deadline_id=1,
            kind=kind,
            due_on=D(2025, 10, 10),
            at=when,
            unit_id=unit,
            issued_by=by,
        )

    rows = [
        case_file(
            "v1",
            at(2025, 9, 29),
            supervision=[
                record(1, "reminder", at(2025, 10, 9), "U1"),
                record(2, "reminder", at(2025, 10, 9, 15), "U1", by="督查员"),  # by hand
            ],
        ),
        case_file(
            "v2",
            at(2025, 9, 29),
            supervision=[
                record(3, "yellow", at(2025, 10, 11), "U2"),
                record(4, "red", at(2025, 10, 13), "U2"),
                record(5, "yellow", at(2025, 9, 30), "U2"),  # September's
            ],
        ),
    ]
    assert (handling.reminders(rows, OCTOBER).value, handling.reminders(rows, OCTOBER).ids) == (
        2,
        ids("v1"),
    )
    assert handling.yellow_cards(rows, OCTOBER).value == 1
    assert handling.red_cards(rows, OCTOBER).value == 1
    assert handling.yellow_cards(rows, SEPTEMBER).value == 1
    assert handling.reminders(rows, OCTOBER, "U2").value == 0
    assert handling.red_cards(rows, OCTOBER, "U2").ids == ids("v2")
