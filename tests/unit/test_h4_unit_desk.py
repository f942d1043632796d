"""The unit desk's pure rules: the time left on a case in working (or calendar) days, and the
history a unit may read of a case (nothing before it reached the unit but the registration
and acceptance, nothing about other units, notes only where they are the unit's to read)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from dispatch.deadlines.policy import DayUnit
from dispatch.deadlines.working_calendar import WorkingCalendar, YearSchedule
from dispatch.handling.unit_desk import HistoryEntry, Seat, time_left, unit_history

D = dt.date
# A made-up year: Monday 5 October 2037 is a holiday, Saturday 10 October a 调休 working day.
CALENDAR = WorkingCalendar(
    schedules={
        2037: YearSchedule(
            2037,
            holidays={D(2037, 10, 5): "国庆节"},
            working_days={D(2037, 10, 10): "国庆节"},
        )
    },
    use_package=False,
    warn_unknown_years=False,
)
THURSDAY = D(2037, 10, 1)


def test_days_left_are_working_days_after_today_up_to_the_due_date() -> None:
    # Fri 2, (Sat, Sun), (Mon 5 holiday), Tue 6: two working days after Thursday.
    left = time_left(CALENDAR, DayUnit.WORKING, THURSDAY, D(2037, 10, 6))
    assert (left.days, left.overdue, left.label, left.level) == (
        2,
        False,
        "剩余2个工作日",
        "due-soon",
    )
    # The 调休 Saturday counts: Fri 9 and Sat 10 after Thursday 8.
    assert time_left(CALENDAR, DayUnit.WORKING, D(2037, 10, 8), D(2037, 10, 10)).days == 2
    far = time_left(CALENDAR, DayUnit.WORKING, THURSDAY, D(2037, 10, 16))
    assert (far.days, far.level) == (11, "ok")  # the 调休 Saturday 10 among them


def test_due_today_and_overdue() -> None:
    today = time_left(CALENDAR, DayUnit.WORKING, THURSDAY, THURSDAY)
    assert (today.days, today.overdue, today.label, today.level) == (
        0,
        False,
        "今日到期",
        "due-soon",
    )
    # Due Friday 2, today Wednesday 7: Tue 6 and Wed 7 are the working days past it.
    late = time_left(CALENDAR, DayUnit.WORKING, D(2037, 10, 7), D(2037, 10, 2))
    assert (late.days, late.overdue, late.label, late.level) == (
        2,
        True,
        "已超期2个工作日",
        "overdue",
    )
    # Due Friday, today Monday the holiday: past due, though no working day has passed yet.
    holiday = time_left(CALENDAR, DayUnit.WORKING, D(2037, 10, 5), D(2037, 10, 2))
    assert (holiday.days, holiday.overdue, holiday.label) == (0, True, "已超期")


def test_a_calendar_day_profile_counts_calendar_days() -> None:
    left = time_left(CALENDAR, DayUnit.CALENDAR, THURSDAY, D(2037, 10, 6))
    assert (left.days, left.label) == (5, "剩余5天")
    late = time_left(CALENDAR, DayUnit.CALENDAR, D(2037, 10, 7), D(2037, 10, 2))
    assert late.label == "已超期5天"


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    actor: str
    action: str
    note: str = ""


def at(hour: int, day: int = 1) -> dt.datetime:
    return dt.datetime(2037, 10, day, hour, tzinfo=dt.UTC)


SINCE = at(12, 2)  # the unit's assignment
# A case first sent to another unit, which returned it, then to ours (with an assisting unit).
EVENTS = [
    Event(at(1), "op1", "register", "王先生来电，电话13800138000"),
    Event(at(2), "op1", "accept", "受理"),
    Event(at(3), "op1", "dispatch", "转办：主办 市住建局；请核查"),
    Event(at(4), "zj1", "unit_return", "市住建局 退回：不属于本单位职责"),
    Event(at(5), "sup1", "approve", "领导同意"),
    Event(at(6), "system:supervision", "remind", "市住建局 办理时限将至"),
    Event(SINCE, "op1", "dispatch", "转办：主办 市生态环境局，协办 市水务局；请现场核查"),
    Event(at(13, 2), "h_env", "sign", "市生态环境局 签收"),
    Event(at(14, 2), "h_env", "start"),
    Event(at(15, 2), "op1", "attach", "现场照片.jpg"),
    Event(at(16, 2), "h_env", "attach", "办理回复附件：监测报告.pdf"),
    Event(at(17, 2), "h_env", "reply", "办理结果：属实"),
    Event(at(9, 3), "sup1", "return_reply", "核查不充分，请补充监测数据"),
    Event(at(10, 3), "system:supervision", "remind", "市生态环境局 办理时限将至"),
    Event(at(11, 3), "op1", "merge_in", "并入 TS0002"),  # an action this view does not know
]


def seat(lead: bool = True, evidence: bool = True) -> Seat:
    return Seat(
        since=SINCE,
        lead=lead,
        instructions="请现场核查",
        evidence_shown=evidence,
        own_people=frozenset({"h_env"} if lead else {"h_water"}),
    )


def test_the_lead_unit_reads_its_own_part_and_nothing_about_other_units() -> None:
    shown = unit_history(EVENTS, seat())
    assert [(e.action, e.actor, e.note) for e in shown] == [
        ("register", "热线中心", ""),
        ("accept", "热线中心", ""),
        ("dispatch", "热线中心", "交本单位主办：请现场核查"),
        ("sign", "h_env", ""),
        ("start", "h_env", ""),
        ("attach", "热线中心", "现场照片.jpg"),
        ("attach", "h_env", "办理回复附件：监测报告.pdf"),
        ("reply", "h_env", "办理结果：属实"),
        ("return_reply", "热线中心", "核查不充分，请补充监测数据"),
        ("remind", "热线中心", "市生态环境局 办理时限将至"),
    ]
    text = " ".join(f"{e.actor} {e.note}" for e in shown)
    for other in ("市住建局", "市水务局", "zj1", "13800138000", "王先生", "领导同意", "TS0002"):
        assert other not in text


def test_an_assisting_unit_reads_no_notes_about_the_lead_units_deadline() -> None:
    shown = {e.action: e for e in unit_history(EVENTS, seat(lead=False))}
    assert shown["dispatch"].note == "交本单位协办：请现场核查"
    assert shown["sign"].actor == "主办单位" and shown["sign"].note == ""
    assert shown["remind"].note == ""
    assert shown["return_reply"].note == "核查不充分，请补充监测数据"


def test_evidence_added_by_the_centre_is_not_listed_where_evidence_is_withheld() -> None:
    shown = unit_history(EVENTS, seat(evidence=False))
    attached = [e for e in shown if e.action == "attach"]
    assert attached == [HistoryEntry(at(16, 2), "attach", "h_env", "办理回复附件：监测报告.pdf")]


@pytest.mark.parametrize("lead", [True, False])
def test_only_the_first_dispatch_since_the_assignment_is_shown(lead: bool) -> None:
    again = [*EVENTS, Event(at(12, 3), "op1", "dispatch", "改派：主办 市水务局")]
    dispatches = [e for e in unit_history(again, seat(lead=lead)) if e.action == "dispatch"]
    assert len(dispatches) == 1 and "市水务局" not in dispatches[0].note


@pytest.mark.parametrize("lead", [True, False])
def test_every_unit_on_the_case_reads_a_merge_into_it_and_a_correction(lead: bool) -> None:
    # A repeat call merged into the case at the unit, and a corrected registration: the unit
    # handling it must know (the page masks the notes' personal details).
    later = [
        *EVENTS,
        Event(at(12, 3), "op2", "merge", "TS0009（催办噪声）并入本案：同一诉求再次来电"),
        Event(at(13, 3), "op1", "correct", "更正发生地点；原因：来电人补充"),
    ]
    shown = {e.action: e for e in unit_history(later, seat(lead=lead))}
    assert shown["merge"].note == "TS0009（催办噪声）并入本案：同一诉求再次来电"
    assert shown["merge"].actor == "热线中心"
    assert shown["correct"].note == "更正发生地点；原因：来电人补充"
    # Before the unit's assignment neither is shown.
    earlier = [Event(at(7), "op2", "merge", "TS0001 并入本案"), *EVENTS]
    assert "merge" not in {e.action for e in unit_history(earlier, seat(lead=lead))}
