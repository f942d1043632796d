"""The supervision job (督办) on a real database, SQLite and PostgreSQL, with the wall clock
frozen far away from the ``now`` each run is given (so nothing may read the wall clock).

Expectations come from the real 2026 calendar and the HOTLINE profile: a case accepted on
Tuesday 2026-11-24 is due Friday 11-27 (3 working days: Wed 25, Thu 26, Fri 27; no holiday
in that week). The reminder (催办) comes 1 working day before: Thursday 11-26. The yellow
card from the first day after the due date: Saturday 11-28. The red card when still open
after one more working day: ``red_card_on`` is the 2nd working day after the due date,
skipping the weekend: Monday 11-30 is the first, so Tuesday 12-01."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases.handling_models import CaseDeadline, SupervisionRecord
from dispatch.cases.models import Case, CaseEvent
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.policy import HOTLINE, Card
from dispatch.deadlines.stage_clocks import Rules, Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.feedback import visits
from dispatch.feedback.scale import Level
from dispatch.handling import steps, supervision
from dispatch.handling.steps import DispatchOrder, Finding, Mode, ReplyIn
from dispatch.handling.supervision import Kind
from dispatch.routing import units
from tests.integration.test_case_handling import new_case

ZONE = ZoneInfo("Asia/Shanghai")
RULES = Rules(WorkingCalendar(), HOTLINE, ZONE)
# Where the wall clock is frozen during every run: years away from any ``now`` below.
WALL_CLOCK = dt.datetime(2031, 6, 15, 3, 0, tzinfo=dt.UTC)
DUE = dt.date(2026, 11, 27)


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=ZONE)


def test_the_expected_dates_follow_from_the_calendar() -> None:
    calendar = RULES.calendar
    assert HOTLINE.handling_due(calendar, dt.date(2026, 11, 24)).date == DUE
    reminder = HOTLINE.reminder_on(calendar, DUE)
    red = HOTLINE.red_card_on(calendar, DUE)
    assert reminder is not None and reminder.date == dt.date(2026, 11, 26)
    assert HOTLINE.yellow_card_on(DUE).date == dt.date(2026, 11, 28)
    assert red is not None and red.date == dt.date(2026, 12, 1)
    assert not calendar.is_working_day(dt.date(2026, 11, 28))
    assert not calendar.is_working_day(dt.date(2026, 11, 29))


def run_job(sessions: sessionmaker[Session], now: dt.datetime) -> list[supervision.Issued]:
    """One run of the job as the API's scheduler does it, the wall clock frozen elsewhere."""
    with time_machine.travel(WALL_CLOCK, tick=False), transaction(sessions) as session:
        assert dt.datetime.now(dt.UTC) == WALL_CLOCK
        return supervision.run(session, RULES, now)


def overdue(sessions: sessionmaker[Session], now: dt.datetime) -> list[supervision.Overdue]:
    with time_machine.travel(WALL_CLOCK, tick=False), sessions() as session:
        return supervision.overdue(session, RULES, now)


def kinds(issued: list[supervision.Issued]) -> list[tuple[str, str, Kind]]:
    return [(item.case_number, item.stage, item.kind) for item in issued]


def records(sessions: sessionmaker[Session], case_id: str) -> list[tuple[str, str, dt.date]]:
    """(stage, kind, due date) of every notice of the case, in the order written."""
    with sessions() as session:
        rows = session.scalars(
            select(SupervisionRecord)
            .where(SupervisionRecord.case_id == case_id)
            .order_by(SupervisionRecord.id)
        )
        return [(_stage(session, row), row.kind, row.due_on) for row in rows]


def _stage(session: Session, row: SupervisionRecord) -> str:
    deadline = session.get(CaseDeadline, row.deadline_id)
    assert deadline is not None
    return deadline.stage


def card_events(sessions: sessionmaker[Session], case_id: str) -> list[tuple[str, str, str]]:
    """(action, from, to) of the supervision entries in the case's history."""
    with sessions() as session:
        return [
            (e.action, e.from_status, e.to_status)
            for e in session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case_id, CaseEvent.actor == "system:supervision")
                .order_by(CaseEvent.id)
            )
        ]


class Dispatched:
    """A case accepted on Tuesday 11-24 and sent to 市住建局 that afternoon."""

    def __init__(self, sessions: sessionmaker[Session], unit_id: str) -> None:
        self.sessions, self.unit_id = sessions, unit_id
        self.id = new_case(sessions, local(11, 24))
        with transaction(sessions) as session:
            case = session.get(Case, self.id)
            assert case is not None
            steps.dispatch(
                session,
                case,
                DispatchOrder(unit_id, Mode.TRANSFER, category="城乡建设"),
                "sup1",
                local(11, 24, 14),
                RULES,
            )
            self.number = case.number
            clock = stage_clocks.active(session, self.id, Stage.HANDLING)
            assert clock is not None and clock.due_on == DUE
            self.handling_clock = clock.id


@pytest.fixture
def housing(sessions: sessionmaker[Session]) -> str:
    with transaction(sessions) as session:
        return units.create_unit(session, "市住建局", "department", local(9, 1)).id


@pytest.fixture
def case(sessions: sessionmaker[Session], housing: str) -> Iterator[Dispatched]:
    yield Dispatched(sessions, housing)


def test_reminder_yellow_and_red_each_once_on_their_days(
    sessions: sessionmaker[Session], case: Dispatched
) -> None:
    handling_notice = (case.number, "handling")
    # Wednesday 23:59 in Shanghai (15:59 UTC): the day before the reminder day, nothing.
    assert run_job(sessions, local(11, 25, 23, 59)) == []
    assert run_job(sessions, local(11, 24, 16)) == []
    # Thursday 00:30 in Shanghai is still Wednesday in UTC: the local date counts.
    assert kinds(run_job(sessions, local(11, 26, 0, 30))) == [(*handling_notice, Kind.REMINDER)]
    assert run_job(sessions, local(11, 26, 17)) == []  # twice the same day: nothing more
    assert run_job(sessions, local(11, 27, 10)) == []  # the due date itself
    assert overdue(sessions, local(11, 27, 23, 59)) == []

    assert kinds(run_job(sessions, local(11, 28, 9))) == [(*handling_notice, Kind.YELLOW)]
    assert run_job(sessions, local(11, 28, 18)) == []
    assert run_job(sessions, local(11, 30, 9)) == []  # Monday: still within the yellow day
    [late] = overdue(sessions, local(11, 30, 9))
    assert (late.case.id, late.deadline.id, late.unit, late.card, late.days_late) == (
        case.id,
        case.handling_clock,
        "市住建局",
        Card.YELLOW,
        3,
    )

    assert kinds(run_job(sessions, local(12, 1, 9))) == [(*handling_notice, Kind.RED)]
    assert run_job(sessions, local(12, 1, 17)) == []
    assert run_job(sessions, local(12, 2, 9)) == []
    [late] = overdue(sessions, local(12, 1, 9))
    assert (late.card, late.days_late) == (Card.RED, 4)

    assert records(sessions, case.id) == [
        ("handling", "reminder", DUE),
        ("handling", "yellow", DUE),
        ("handling", "red", DUE),
    ]
    assert card_events(sessions, case.id) == [
        ("remind", "dispatched", "dispatched"),
        ("yellow_card", "dispatched", "dispatched"),
        ("red_card", "dispatched", "dispatched"),
    ]
    with sessions() as session:
        messages = [r.message for r in supervision.records(session, case.id)]
        assert {r.unit_id for r in supervision.records(session, case.id)} == {case.unit_id}
    assert f"【催办】案件{case.number}的办理时限为2026年11月27日，请市住建局抓紧办理。" in messages
    assert (
        f"【黄牌督办】案件{case.number}已超过办理时限（2026年11月27日），"
        "请市住建局于1个工作日内整改办结。"
    ) in messages
    assert (
        f"【红牌督办】案件{case.number}超期（2026年11月27日）且黄牌后仍未整改，"
        "对市住建局予以通报，请立即办结并书面说明情况。"
    ) in messages


def test_after_downtime_the_first_run_catches_up_yellow_and_red_without_a_reminder(
    sessions: sessionmaker[Session], case: Dispatched, housing: str
) -> None:
    later = Dispatched(sessions, housing)
    # The job did not run for a week; on the red-card day both cards come at once.
    issued = run_job(sessions, local(12, 1, 8))
    assert sorted(kinds(issued)) == sorted(
        [
            (case.number, "handling", Kind.YELLOW),
            (case.number, "handling", Kind.RED),
            (later.number, "handling", Kind.YELLOW),
            (later.number, "handling", Kind.RED),
        ]
    )
    assert run_job(sessions, local(12, 1, 9)) == []
    for one in (case, later):
        assert records(sessions, one.id) == [("handling", "yellow", DUE), ("handling", "red", DUE)]
        assert [action for action, _, _ in card_events(sessions, one.id)] == [
            "yellow_card",
            "red_card",
        ]


def test_after_shorter_downtime_the_yellow_card_alone(
    sessions: sessionmaker[Session], case: Dispatched
) -> None:
    assert kinds(run_job(sessions, local(11, 30, 12))) == [(case.number, "handling", Kind.YELLOW)]
    assert kinds(run_job(sessions, local(12, 1, 12))) == [(case.number, "handling", Kind.RED)]


def test_a_replied_case_gets_nothing_further_for_its_handling(
    sessions: sessionmaker[Session], case: Dispatched
) -> None:
    assert kinds(run_job(sessions, local(11, 26, 9))) == [(case.number, "handling", Kind.REMINDER)]
    with transaction(sessions) as session:
        row = session.get(Case, case.id)
        assert row is not None
        steps.sign(session, row, case.unit_id, "zj1", local(11, 26, 10))
        steps.reply(
            session,
            row,
            case.unit_id,
            ReplyIn("经核实属实", Finding.TRUE, "已责令整改"),
            "zj1",
            local(11, 26, 15),
            RULES,
        )
    # Now the centre owes the citizen the feedback, due 1 working day after the reply
    # (Friday 11-27): that clock is chased, addressed to the centre, not the unit.
    issued = run_job(sessions, local(11, 28, 9))
    assert kinds(issued) == [(case.number, "feedback", Kind.YELLOW)]
    assert issued[0].unit == ""
    [late] = overdue(sessions, local(11, 28, 9))
    assert (late.deadline.stage, late.unit, late.card) == ("feedback", "热线中心", Card.YELLOW)
    with transaction(sessions) as session:
        row = session.get(Case, case.id)
        assert row is not None
        steps.review(session, row, True, "", "sup1", local(11, 28, 10))
        visits.give_feedback(
            session,
            row,
            visits.Method.PHONE,
            local(11, 28, 11),
            "已电话告知",
            Level.SATISFIED,
            "op1",
            local(11, 28, 11),
        )
        assert row.status == "closed"

    assert run_job(sessions, local(12, 1, 9)) == []
    assert run_job(sessions, local(12, 20, 9)) == []
    assert overdue(sessions, local(12, 20, 9)) == []
    assert records(sessions, case.id) == [
        ("handling", "reminder", DUE),
        ("feedback", "yellow", DUE),
    ]


def race(sessions: sessionmaker[Session], now: dt.datetime) -> list[list[supervision.Issued]]:
    """Two runs of the job started together, each in its own session and transaction."""
    barrier = threading.Barrier(2)
    results: list[list[supervision.Issued]] = []
    failures: list[BaseException] = []

    def job() -> None:
        barrier.wait(timeout=30)
        try:
            with transaction(sessions) as session:
                results.append(supervision.run(session, RULES, now))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures
    assert len(results) == 2
    return results


def test_two_jobs_at_once_write_each_notice_once(
    sessions: sessionmaker[Session], case: Dispatched, housing: str
) -> None:
    other = Dispatched(sessions, housing)
    expected = {
        local(11, 26, 9): {(c.number, "handling", Kind.REMINDER) for c in (case, other)},
        local(12, 1, 9): {
            (c.number, "handling", kind) for c in (case, other) for kind in (Kind.YELLOW, Kind.RED)
        },
    }
    with time_machine.travel(WALL_CLOCK, tick=False):
        for now, notices in expected.items():
            both = [notice for issued in race(sessions, now) for notice in kinds(issued)]
            # Between them the two runs issued every notice, and none twice.
            assert sorted(both) == sorted(notices), both

    for one in (case, other):
        assert records(sessions, one.id) == [
            ("handling", "reminder", DUE),
            ("handling", "yellow", DUE),
            ("handling", "red", DUE),
        ]
        assert [action for action, _, _ in card_events(sessions, one.id)] == [
            "remind",
            "yellow_card",
            "red_card",
        ]
