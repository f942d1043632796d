"""When the supervision job reminds (催办), on SQLite and PostgreSQL, on the real 2026
calendar with the HOTLINE profile: a reminder comes when it means something — on the
reminder day (1 working day before the due date), and only if that day comes after the day
the clock reached whoever must meet it. Accepting a case (its 转办 clock is one working
day) or replying (the feedback clock, one working day) is not followed by a reminder within
minutes, and neither is a case dispatched on its reminder day; a three-day handling clock
still gets its reminder, and every breach its yellow card.

Tuesday 2026-11-24: accepted; 转办 due Wednesday 11-25; handling due Friday 11-27, its
reminder day Thursday 11-26."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases.handling_models import CaseDeadline, SupervisionRecord
from dispatch.cases.models import Case
from dispatch.deadlines.policy import HOTLINE
from dispatch.deadlines.stage_clocks import Rules
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling import steps, supervision
from dispatch.handling.steps import DispatchOrder, Finding, Mode, ReplyIn
from dispatch.routing import units
from tests.integration.test_case_handling import new_case

ZONE = ZoneInfo("Asia/Shanghai")
RULES = Rules(WorkingCalendar(), HOTLINE, ZONE)


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=ZONE)


def run_job(sessions: sessionmaker[Session], now: dt.datetime) -> list[tuple[str, str]]:
    with transaction(sessions) as session:
        return [(i.stage, i.kind.value) for i in supervision.run(session, RULES, now)]


def notices(sessions: sessionmaker[Session], case_id: str) -> list[tuple[str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(CaseDeadline.stage, SupervisionRecord.kind)
            .join(CaseDeadline, CaseDeadline.id == SupervisionRecord.deadline_id)
            .where(SupervisionRecord.case_id == case_id)
            .order_by(SupervisionRecord.id)
        )
        return [(stage, kind) for stage, kind in rows]


def on_case(
    sessions: sessionmaker[Session], case_id: str, step: Callable[[Session, Case], object]
) -> None:
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        assert case is not None
        step(session, case)


def housing_unit(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as session:
        return units.create_unit(session, "市住建局", "department", local(9, 1)).id


def dispatch(sessions: sessionmaker[Session], case_id: str, unit: str, at: dt.datetime) -> None:
    order = DispatchOrder(unit, Mode.TRANSFER, category="城乡建设")
    on_case(sessions, case_id, lambda s, c: steps.dispatch(s, c, order, "sup1", at, RULES))


def test_no_reminder_within_minutes_of_accepting_or_replying(
    sessions: sessionmaker[Session],
) -> None:
    unit = housing_unit(sessions)
    case_id = new_case(sessions, local(11, 24))
    # The job runs every few minutes: nothing for the one-day 转办 clock just started.
    assert run_job(sessions, local(11, 24, 10, 5)) == []
    dispatch(sessions, case_id, unit, local(11, 24, 14))
    assert run_job(sessions, local(11, 24, 14, 5)) == []
    assert run_job(sessions, local(11, 25, 9)) == []
    # The handling clock's reminder day: the unit has had the case since Tuesday.
    assert run_job(sessions, local(11, 26, 9)) == [("handling", "reminder")]

    answer = ReplyIn("经核实属实", Finding.TRUE, "已责令整改")
    on_case(sessions, case_id, lambda s, c: steps.sign(s, c, unit, "zj1", local(11, 26, 10)))
    on_case(
        sessions,
        case_id,
        lambda s, c: steps.reply(s, c, unit, answer, "zj1", local(11, 26, 11), RULES),
    )
    # The centre's one-day feedback clock: no reminder the day it starts, a card if missed.
    assert run_job(sessions, local(11, 26, 11, 5)) == []
    assert run_job(sessions, local(11, 27, 9)) == []
    assert run_job(sessions, local(11, 28, 9)) == [("feedback", "yellow")]
    assert notices(sessions, case_id) == [("handling", "reminder"), ("feedback", "yellow")]


def test_a_case_dispatched_on_its_reminder_day_is_not_reminded_at_once(
    sessions: sessionmaker[Session],
) -> None:
    unit = housing_unit(sessions)
    case_id = new_case(sessions, local(11, 24))
    # Dispatched late, on Thursday, the handling clock's reminder day (it runs from the
    # acceptance): the unit has just received it, a reminder would tell it nothing.
    assert run_job(sessions, local(11, 26, 9)) == [("dispatch", "yellow")]
    dispatch(sessions, case_id, unit, local(11, 26, 10))
    assert run_job(sessions, local(11, 26, 10, 5)) == []
    assert run_job(sessions, local(11, 27, 9)) == []
    # Not done by its due date: the breach still gets its yellow card.
    assert run_job(sessions, local(11, 28, 9)) == [("handling", "yellow")]
    assert notices(sessions, case_id) == [("dispatch", "yellow"), ("handling", "yellow")]


def test_the_job_runs_on_and_on_without_writing_a_notice_twice(
    sessions: sessionmaker[Session],
) -> None:
    """The API runs the job every few minutes: on PostgreSQL its insert is soon a prepared
    statement (psycopg prepares after five runs), and must still find its unique index."""
    case_id = new_case(sessions, local(11, 24))
    for minute in range(12):
        issued = run_job(sessions, local(11, 26, 9, minute))
        assert issued == ([("dispatch", "yellow")] if minute == 0 else [])
    assert notices(sessions, case_id) == [("dispatch", "yellow")]
