"""The reports' reader on a real database (SQLite and PostgreSQL, through the migrations):
cases, calls and callbacks made by the real domain functions (registration and its
decisions, dispatch, return and 改派, signing, extension, reply, review, feedback, reopening,
closing, merging, withdrawal, 催办 and the supervision job; calls from their AMI events, the
callback list) come back as the rows the indicators expect, a month's figures computed from
``load`` equal the hand count, and every period's figures computed from its own window equal
those computed from a window holding everything.

The story runs in August to November 2026 (the official calendar is known for 2026): dates
are fixed, and nothing depends on today's date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases.handling_models import Extension, Unit
from dispatch.cases.lifecycle import Action
from dispatch.cases.models import Case, CaseEvent
from dispatch.cases.registration import CaseType, Channel, Decision, Registration
from dispatch.deadlines.policy import HOTLINE, DayUnit
from dispatch.deadlines.stage_clocks import Rules, Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.feedback import visits
from dispatch.feedback.scale import Level
from dispatch.handling import steps, supervision
from dispatch.handling.steps import DispatchOrder, Finding, Mode, ReplyIn
from dispatch.indicators import (
    breakdowns,
    calls,
    feedback,
    handling,
    intake,
    periods,
    petitions,
    red_flag,
)
from dispatch.indicators.periods import Period
from dispatch.intake import call_queue, case_store
from dispatch.reports import overview, reader
from dispatch.routing import units
from ivr import call_state, call_store
from ivr import events as ev
from ivr.models import CallbackRequest

ZONE = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar()
RULES = Rules(CALENDAR, HOTLINE, ZONE)
NUMBER_FORMAT = "TS{date:%Y%m%d}{seq:04d}"
OCTOBER = periods.month(2026, 10, ZONE)


def local(month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=ZONE)


def midnight(month: int, day: int) -> dt.datetime:
    return local(month, day, 0)


# -- the story ---------------------------------------------------------------------------


@dataclass
class World:
    units: dict[str, str] = field(default_factory=dict)  # short name -> id
    cases: dict[str, str] = field(default_factory=dict)  # letter -> case id
    calls: dict[str, str] = field(default_factory=dict)  # name -> call id
    issued: list[tuple[dt.datetime, supervision.Issued]] = field(default_factory=list)


def act(
    sessions: sessionmaker[Session], case_id: str, step: Callable[[Session, Case], object]
) -> None:
    """One step in its own transaction, as a request to the API runs it."""
    with transaction(sessions) as session:
        case = session.get(Case, case_id)
        assert case is not None
        step(session, case)


class Story:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.world = World()

    # units and cases

    def make_units(self) -> None:
        with transaction(self.sessions) as session:
            for short, name, kind in [
                ("centre", "热线中心", "centre"),
                ("housing", "市住建局", "department"),
                ("environment", "市生态环境局", "department"),
                ("community", "幸福里社区", "office"),
                ("window", "政务服务中心社保窗口", "window"),
            ]:
                self.world.units[short] = units.create_unit(session, name, kind, local(8, 1)).id

    def register(
        self,
        letter: str,
        at: dt.datetime,
        phone: str,
        decision: Decision = Decision.ACCEPT,
        case_type: CaseType = CaseType.COMPLAINT,
        channel: Channel = Channel.PHONE,
    ) -> str:
        form = Registration(
            received_at=at,
            channel=channel,
            case_type=case_type,
            complainant_name="张三",
            complainant_phone=phone,
            complainant_address="",
            complainant_org="",
            anonymous=False,
            confidential=False,
            identity_consent=False,
            subject_unit="",
            subject_window="",
            subject_person="",
            title=f"诉求{letter}",
            content="小区门口夜间施工噪音扰民，影响休息。",
            request="请核实处理",
            verified_with_caller=True,
            transcript_text="",
            decision=decision,
            decision_reason="不属于热线受理范围" if decision is Decision.REJECT else "",
            refer_to="人民法院" if decision is Decision.REJECT else "",
            reply_text="已当场答复办理流程" if decision is Decision.ON_SPOT else "",
            knowledge_entry_id="",
        )
        with transaction(self.sessions) as session:
            case = case_store.register(session, form, "op1", at, NUMBER_FORMAT, ZONE, rules=RULES)
            self.world.cases[letter] = case.id
            return case.id

    def dispatch(self, letter: str, unit: str, at: dt.datetime, window: str = "") -> None:
        order = DispatchOrder(
            self.world.units[unit],
            Mode.TRANSFER,
            instructions="请核实并答复",
            category="城乡建设",
            complained_unit_id=self.world.units[window] if window else "",
        )
        self.step(letter, lambda s, c: steps.dispatch(s, c, order, "sup1", at, RULES))

    def sign(self, letter: str, unit: str, at: dt.datetime) -> None:
        unit_id = self.world.units[unit]
        self.step(letter, lambda s, c: steps.sign(s, c, unit_id, "zj1", at))
        later = at + dt.timedelta(minutes=10)
        self.step(letter, lambda s, c: steps.start_work(s, c, unit_id, "zj1", later))

    def reply(self, letter: str, unit: str, at: dt.datetime, finding: Finding) -> None:
        answer = ReplyIn("经核实情况如下", finding, "已责令整改", "")
        unit_id = self.world.units[unit]
        self.step(letter, lambda s, c: steps.reply(s, c, unit_id, answer, "zj1", at, RULES))
        passed = at + dt.timedelta(hours=1)
        self.step(letter, lambda s, c: steps.review(s, c, True, "", "sup1", passed))

    def feedback(self, letter: str, at: dt.datetime, level: Level) -> None:
        self.step(
            letter,
            lambda s, c: visits.give_feedback(
                s, c, visits.Method.PHONE, at, "已电话告知", level, "op1", at
            ),
        )

    def step(self, letter: str, step: Callable[[Session, Case], object]) -> None:
        act(self.sessions, self.world.cases[letter], step)

    def supervise(self, at: dt.datetime) -> None:
        with transaction(self.sessions) as session:
            self.world.issued += [(at, issued) for issued in supervision.run(session, RULES, at)]

    # calls

    def call(
        self,
        name: str,
        number: str,
        start: dt.datetime,
        answer_after: float | None = None,
        message: bool = False,
    ) -> str:
        """A call that joins the queue 5 s after it starts, then is answered ``answer_after``
        seconds later, goes to the message, or is abandoned after a minute."""
        uid = f"{name}.{start.timestamp():.0f}"
        second = dt.timedelta(seconds=1)
        queued = start + 5 * second
        happened: list[ev.CallEvent] = [
            ev.CallStarted(uid, start, uid, "PJSIP/trunk-00000001", number, "", "12345"),
            ev.NoticeFinished(uid, start + 4 * second),
            ev.CallQueued(uid, queued, "hotline"),
        ]
        if answer_after is not None:
            answered = queued + answer_after * second
            happened += [
                ev.OperatorAnswered(uid, answered, "1001"),
                ev.CallHungUp(uid, answered + 180 * second, 16, "Normal Clearing"),
            ]
        elif message:
            happened += [
                ev.MessageStarted(uid, queued + 60 * second, "timeout"),
                ev.CallHungUp(uid, queued + 120 * second, 16, "Normal Clearing"),
            ]
        else:
            happened += [
                ev.CallerAbandoned(uid, queued + 60 * second),
                ev.CallHungUp(uid, queued + 61 * second, 16, "Normal Clearing"),
            ]
        with transaction(self.sessions) as session:
            call = call_store.save_state(session, call_state.replay(uid, happened))
            self.world.calls[name] = call.id
            return call.id

    def call_back(self, name: str, at: dt.datetime, outcome: call_queue.CallbackOutcome) -> None:
        with transaction(self.sessions) as session:
            request = session.scalar(
                select(CallbackRequest).where(CallbackRequest.call_id == self.world.calls[name])
            )
            assert request is not None
            call_queue.record_attempt(session, request.id, outcome.value, "", "op1", at)


def tell(story: Story) -> World:
    s = story
    s.make_units()
    # H: August, done in August. I: August, never answered (overdue since).
    s.register("H", local(8, 20), "13900000007")
    s.dispatch("H", "housing", local(8, 20, 11))
    s.sign("H", "housing", local(8, 20, 14))
    s.reply("H", "housing", local(8, 21), Finding.TRUE)
    s.feedback("H", local(8, 24), Level.SATISFIED)
    s.register("I", local(8, 25), "13900000010")
    s.dispatch("I", "housing", local(8, 25, 11))
    s.sign("I", "housing", local(8, 25, 14))
    # A: accepted in September, closed in October.
    s.register("A", local(9, 30), "13900000001")
    s.dispatch("A", "housing", local(9, 30, 15))
    s.sign("A", "housing", local(10, 8, 9))
    s.reply("A", "housing", local(10, 9, 16), Finding.TRUE)
    s.feedback("A", local(10, 10, 9), Level.SATISFIED)
    # C: 不予受理; D: 即办.
    s.register("C", local(10, 5), "13900000003", Decision.REJECT)
    s.register("D", local(10, 15), "13900000004", Decision.ON_SPOT, CaseType.CONSULTATION)
    # K: a complaint about the window, found true, rated 不满意, closed with a reason.
    s.register("K", local(10, 8), "13900000009")
    s.dispatch("K", "housing", local(10, 8, 11), window="window")
    s.sign("K", "housing", local(10, 8, 14))
    s.reply("K", "housing", local(10, 9), Finding.TRUE)
    s.feedback("K", local(10, 10), Level.DISSATISFIED)
    s.step("K", lambda ss, c: steps.close(ss, c, "sup1", local(10, 12), "诉求已依法答复"))
    # B: returned by the first unit, 改派, extended, rated 不满意, reopened, then 满意.
    s.register("B", local(10, 12, 9), "13900000002")
    s.dispatch("B", "housing", local(10, 12, 10))
    housing = s.world.units["housing"]
    s.step(
        "B",
        lambda ss, c: steps.unit_return(
            ss, c, housing, "不属于本单位职责", "zj1", local(10, 13, 9), RULES
        ),
    )
    s.dispatch("B", "environment", local(10, 13, 10))
    s.sign("B", "environment", local(10, 13, 11))
    environment = s.world.units["environment"]
    s.step(
        "B",
        lambda ss, c: steps.request_extension(
            ss, c, environment, 2, "需现场监测", "zj2", local(10, 14, 9), RULES
        ),
    )

    def approve(ss: Session, c: Case) -> None:
        pending = ss.scalars(select(Extension).where(Extension.case_id == c.id)).one()
        steps.decide_extension(ss, c, pending, True, "", "sup1", local(10, 14, 15))

    s.step("B", approve)
    # E: the same citizen again: merged into B.
    s.register("E", local(10, 16), "13900000002")

    def merge(ss: Session, c: Case) -> None:
        into = ss.get(Case, s.world.cases["B"])
        assert into is not None
        case_store.merge(ss, c, into, "同一诉求重复来电", "op1", local(10, 16, 11))

    s.step("E", merge)
    s.reply("B", "environment", local(10, 19, 16), Finding.PARTLY_TRUE)
    s.feedback("B", local(10, 20, 9), Level.DISSATISFIED)
    s.step("B", lambda ss, c: steps.reopen(ss, c, "群众不满意", "sup1", local(10, 21, 9), RULES))
    s.dispatch("B", "environment", local(10, 21, 10))
    s.sign("B", "environment", local(10, 21, 11))
    s.reply("B", "environment", local(10, 26, 16), Finding.TRUE)
    s.feedback("B", local(10, 27, 9), Level.SATISFIED)
    # F: withdrawn. G: a complaint about the window, chased, carded, never answered.
    s.register("F", local(10, 19), "13900000005")
    s.step("F", lambda ss, c: steps.withdraw(ss, c, "诉求人撤回", "op1", local(10, 20)))
    s.register("G", local(10, 19), "13900000006")
    s.dispatch("G", "community", local(10, 19, 11), window="window")
    s.sign("G", "community", local(10, 19, 14))
    s.step("G", lambda ss, c: supervision.remind(ss, c, "请加快办理", "sup1", local(10, 21)))
    s.supervise(local(10, 23, 9))
    s.supervise(local(10, 27, 9))
    # J: accepted in October, answered in November. L: A's citizen again, in November.
    s.register("J", local(10, 29), "13900000008")
    s.dispatch("J", "housing", local(10, 29, 11))
    s.sign("J", "housing", local(10, 30, 9))
    s.reply("J", "housing", local(11, 3), Finding.TRUE)
    s.feedback("J", local(11, 4), Level.VERY_SATISFIED)
    s.register("L", local(11, 10), "13900000001", case_type=CaseType.CONSULTATION)
    # Calls: 13700000001 calls twice in three days; 13700000003 on 28 September and
    # 2 October (a repeat only seen with the week before the window).
    s.call("c1", "13700000001", local(10, 10, 9), answer_after=10)
    s.call("c2", "13700000002", local(10, 10, 10))
    s.call_back("c2", local(10, 10, 10, 30), call_queue.CallbackOutcome.NO_ANSWER)
    s.call_back("c2", local(10, 10, 11), call_queue.CallbackOutcome.REACHED)
    s.call("c3", "13700000001", local(10, 12, 9), answer_after=40)
    s.call("c4", "13700000003", local(9, 28, 9), answer_after=5)
    s.call("c5", "13700000003", local(10, 2, 9), answer_after=10)
    s.call("c6", "13700000004", local(10, 15, 9), message=True)
    s.call("c7", "13700000005", local(9, 15, 9), answer_after=5)
    s.call("c8", "13700000001", local(11, 2, 9), answer_after=5)
    # Started in September's last seconds, queued in October: in October's worst 24 hours.
    s.call("c9", "13700000006", local(9, 30, 23, 59, 58), answer_after=60)
    return s.world


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    return tell(Story(sessions))


def load(
    sessions: sessionmaker[Session], period: Period, as_of: dt.datetime | None = None
) -> reader.Data:
    with sessions() as session:
        return reader.load(session, period.start, period.end, as_of)


# -- rows --------------------------------------------------------------------------------


def test_a_month_holds_its_cases_whole_its_calls_with_the_week_before_and_its_callbacks(
    sessions: sessionmaker[Session], world: World
) -> None:
    data = load(sessions, OCTOBER)
    letters = {case_id: letter for letter, case_id in world.cases.items()}
    # H ended in August; L came in November; I, overdue since August, was carded in October.
    assert sorted(letters[f.id] for f in data.files) == list("ABCDEFGIJK")
    files = {letters[f.id]: f for f in data.files}
    with sessions() as session:
        for letter, file in files.items():
            stored = session.execute(
                select(CaseEvent.action, CaseEvent.at)
                .where(CaseEvent.case_id == world.cases[letter])
                .order_by(CaseEvent.id)
            ).all()
            assert [(e.action, e.at) for e in file.events] == [tuple(row) for row in stored]
        case = session.get(Case, world.cases["B"])
        assert case is not None
        number = case.number
    # The whole history, November's included (J's reply and feedback).
    assert [e.action for e in files["J"].events][-4:] == [
        Action.PASS_REVIEW,
        Action.FEEDBACK,
        Action.SATISFACTION,
        Action.CLOSE,
    ]
    b = files["B"]
    u = world.units
    assert b.case.number == number and b.case.status == "closed"
    assert b.case.received_at == local(10, 12, 9)
    assert [
        (a.unit_id, a.role, a.dispatched_at, a.returned_at is not None) for a in b.assignments
    ] == [
        (u["housing"], "lead", local(10, 12, 10), True),
        (u["environment"], "lead", local(10, 13, 10), False),
        (u["environment"], "lead", local(10, 21, 10), False),
    ]
    assert b.assignments[0].returned_at == local(10, 13, 9)
    assert b.lead_unit() == u["environment"]
    [extension] = b.extensions
    assert (extension.status, extension.days, extension.decided_at, extension.unit_id) == (
        "approved",
        2,
        local(10, 14, 15),
        u["environment"],
    )
    assert any(d.id == extension.deadline_id for d in b.deadlines)
    assert [(r.finding, r.review) for r in b.replies] == [
        ("partly_true", "passed"),
        ("true", "passed"),
    ]
    assert [(f.at, f.method, f.satisfaction) for f in b.feedback] == [
        (local(10, 20, 9), "phone", "dissatisfied"),
        (local(10, 27, 9), "phone", "satisfied"),
    ]
    assert {d.stage for d in b.deadlines} >= {Stage.DISPATCH, Stage.HANDLING, Stage.FEEDBACK}
    assert files["E"].case.merged_into_id == world.cases["B"] and files["E"].left_by()
    assert files["K"].case.complained_unit_id == u["window"]
    assert files["D"].first_of({Action.ANSWER_ON_SPOT}) is not None
    g = files["G"]
    assert (g.supervision[0].kind, g.supervision[0].issued_by, g.supervision[0].at) == (
        "reminder",
        "sup1",
        local(10, 21),
    )
    carded = sorted((r.kind, r.at) for r in g.supervision if not r.issued_by)
    issued_g = sorted(
        (i.kind.value, at) for at, i in world.issued if i.case_number == g.case.number
    )
    assert carded == issued_g and ("yellow", local(10, 23, 9)) in carded
    # Calls: October's and the week before it (c4 on 28 September, c9), not c7 nor
    # November's; the week before as number and start alone, unless queued in October.
    names = {call_id: name for name, call_id in world.calls.items()}
    assert sorted(names[c.id] for c in data.calls) == ["c1", "c2", "c3", "c4", "c5", "c6", "c9"]
    c4, c9 = (next(c for c in data.calls if names[c.id] == n) for n in ("c4", "c9"))
    assert (c4.caller_number, c4.started_at, c4.answered_at) == (
        "13700000003",
        local(9, 28, 9),
        None,
    )
    assert c9.queued_at == local(10, 1, 0, 0, 3) and c9.answered_at is not None
    c1 = next(c for c in data.calls if names[c.id] == "c1")
    assert (c1.caller_number, c1.started_at, c1.queued_at, c1.answered_at, c1.operator) == (
        "13700000001",
        local(10, 10, 9),
        local(10, 10, 9, 0, 5),
        local(10, 10, 9, 0, 15),
        "1001",
    )
    assert c1.outcome == "answered" and c1.ended_at == local(10, 10, 9, 3, 15)
    # Every instant in UTC, as core.db gives them (one tzinfo: quick comparisons).
    instants = [c1.started_at, c1.answered_at, b.case.received_at, b.events[0].at]
    assert all(moment is not None and moment.tzinfo is dt.UTC for moment in instants)
    [callback] = data.callbacks
    assert callback.call_id == world.calls["c2"] and callback.status == "done"
    assert callback.created_at == local(10, 10, 10, 1, 6)
    assert [(a.at, a.outcome) for a in callback.attempts] == [
        (local(10, 10, 10, 30), "no_answer"),
        (local(10, 10, 11), "reached"),
    ]
    # Every unit and user by name.
    assert data.units[u["window"]] == "政务服务中心社保窗口"
    assert data.windows_of_kind("window") == (u["window"],)
    assert data.unit_kinds[u["centre"]] == "centre"
    assert data.as_of == OCTOBER.end


def test_october_s_figures_from_its_window_are_the_hand_count(
    sessions: sessionmaker[Session], world: World
) -> None:
    data = load(sessions, OCTOBER)
    as_of = OCTOBER.end
    files, m = data.files, OCTOBER
    c, k, u = world.calls, world.cases, world.units

    def ids(*letters: str) -> tuple[str, ...]:
        return tuple(sorted(k[letter] for letter in letters))

    def call_ids(*names: str) -> tuple[str, ...]:
        return tuple(sorted(c[name] for name in names))

    # Calls.
    assert calls.volume(data.calls, m).ids == call_ids("c1", "c2", "c3", "c5", "c6")
    answered = calls.answer_rate(data.calls, m)
    assert (answered.numerator, answered.denominator) == (3, 5)
    quick = calls.answer_15s_rate(data.calls, m)
    assert quick.ids == call_ids("c1", "c5") and quick.denominator == 5
    assert calls.abandon_rate(data.calls, m).ids == call_ids("c2")
    assert calls.messages(data.calls, m).ids == call_ids("c6")
    assert calls.repeat_rate(data.calls, m).ids == call_ids("c3", "c5")
    done = calls.callback_done_rate(data.callbacks, m, as_of)
    assert (done.ids, done.denominator) == (call_ids("c2"), 1)
    first_try = local(10, 10, 10, 30) - local(10, 10, 10, 1, 6)  # from the hang-up
    assert calls.callback_delay(data.callbacks, m, as_of).value == first_try.total_seconds()
    # Intake.
    assert intake.registered(files, m).ids == ids(*"BCDEFGJK")
    assert intake.accepted(files, m).ids == ids(*"BDEFGJK")
    assert intake.rejected(files, m).ids == ids("C")
    assert intake.rejection_rate(files, m).value == 1 / 8
    assert intake.on_spot_rate(files, m).value == 1 / 7
    assert intake.merged(files, m).ids == ids("E")
    assert intake.withdrawn(files, m).ids == ids("F")
    # Handling.
    assert handling.dispatched(files, m).ids == ids(*"BGJK")
    returns = handling.return_rate(files, m, as_of)
    assert (returns.numerator, returns.denominator) == (1, 6)
    assert handling.reassigned(files, m).ids == ids("B")
    assert handling.extended(files, m).value == 1
    assert handling.closed(files, m).ids == ids(*"ABDK")
    closure = handling.closure_rate(files, m, as_of)
    assert (closure.ids, closure.base_ids) == (ids(*"BDK"), ids(*"BDGJK"))
    late = handling.judge(files, Stage.HANDLING, m, as_of)
    assert k["G"] in {item[1] for item in late.late if isinstance(item, tuple)}
    assert k["A"] in {item[1] for item in late.on_time if isinstance(item, tuple)}
    assert handling.overdue_now(files, as_of, ZONE).ids == ids("G", "I")
    in_october = [i for at, i in world.issued if m.contains(at)]
    for kind, compute in [
        (supervision.Kind.YELLOW, handling.yellow_cards),
        (supervision.Kind.RED, handling.red_cards),
    ]:
        assert compute(files, m).numerator == sum(i.kind is kind for i in in_october)
    assert handling.yellow_cards(files, m).numerator >= 2  # G's and I's
    reminders = 1 + sum(i.kind is supervision.Kind.REMINDER for i in in_october)
    assert handling.reminders(files, m).value == reminders
    reopened = handling.reopen_rate(files, m, as_of)
    assert (reopened.ids, reopened.base_ids) == (ids("B"), ids(*"ABDK"))
    # Feedback.
    visited = feedback.visit_rate(files, m, as_of)
    assert (visited.ids, visited.base_ids) == (ids(*"ABK"), ids(*"ABK"))
    satisfied = feedback.satisfaction_rate(files, m, as_of)
    assert (satisfied.ids, satisfied.base_ids) == (ids("A", "B"), ids(*"ABK"))
    assert feedback.level_split(files, m, as_of)[Level.DISSATISFIED].ids == ids("K")
    # Per unit: B's return counts for housing, its closing for the environment bureau.
    housing = handling.return_rate(files, m, as_of, u["housing"])
    assert (housing.numerator, housing.denominator) == (1, 3)  # B, K; J
    assert handling.closed(files, m, u["environment"]).ids == ids("B")
    # 信访 profile: no one came back by the end of October; A's citizen did in November.
    repeat = petitions.repeat_petition_rate(files, m, as_of)
    assert (repeat.ids, repeat.base_ids) == ((), ids(*"ABDK"))
    days = petitions.average_handling_time(files, m, CALENDAR, DayUnit.CALENDAR)
    assert days.ids == ids("A", "B", "K")
    # 红旗窗口: K found true counts, G not reviewed yet is pending.
    [standing] = red_flag.standings(files, 2026, ZONE, data.windows_of_kind("window"), as_of)
    assert (standing.substantiated, standing.pending) == (ids("K"), ids("G"))
    assert standing.eligible


def test_as_of_later_than_the_window_brings_the_cases_that_came_after(
    sessions: sessionmaker[Session], world: World
) -> None:
    later = local(11, 30)
    data = load(sessions, OCTOBER, later)
    assert data.as_of == later
    assert world.cases["L"] in {f.id for f in data.files}
    repeat = petitions.repeat_petition_rate(data.files, OCTOBER, later)
    assert repeat.ids == (world.cases["A"],)
    closure = handling.closure_rate(data.files, OCTOBER, later)
    assert world.cases["J"] in closure.ids


# -- every period from its own window --------------------------------------------------


def every_figure(data: reader.Data, period: Period, as_of: dt.datetime) -> dict[str, object]:
    """Every figure of the reports (``overview.LINES``) for the period as of ``as_of``, per
    lead unit too, what is overdue then, and 红旗窗口 for a year."""
    basis = overview.Basis(as_of, CALENDAR, DayUnit.WORKING)
    found: dict[str, object] = {
        key: overview.compute(key, data, period, basis) for key in overview.LINES
    }
    for unit in sorted(data.units):
        for key in overview.LINES:
            found[f"{key}@{unit}"] = overview.compute(
                key, data, period, basis, breakdowns.Dimension.LEAD_UNIT, unit
            )
        found[f"overdue_now@{unit}"] = handling.overdue_now(data.files, as_of, ZONE, unit)
    found["overdue_now"] = handling.overdue_now(data.files, as_of, ZONE)
    if period.kind is periods.PeriodKind.YEAR:
        found["red_flag"] = red_flag.standings(
            data.files, period.first.year, ZONE, data.windows_of_kind("window"), as_of
        )
    return found


def test_every_period_s_figures_from_its_own_window_equal_those_from_all_the_rows(
    sessions: sessionmaker[Session], world: World
) -> None:
    everything = load(sessions, periods.year(2026, ZONE), local(12, 31))
    assert {f.id for f in everything.files} == set(world.cases.values())
    chosen = [
        periods.year(2026, ZONE),
        periods.quarter(2026, 4, ZONE),
        OCTOBER,
        periods.month(2026, 9, ZONE),
        *(periods.week(dt.date(2026, 10, day), ZONE) for day in (5, 12, 19, 26)),
        *(periods.day(dt.date(2026, 10, day), ZONE) for day in range(1, 32, 2)),
        periods.day(dt.date(2026, 9, 15), ZONE),  # I is overdue and nothing happens
        periods.custom(dt.date(2026, 10, 10), dt.date(2026, 10, 20), ZONE),
    ]
    for period in chosen:
        for as_of in (period.end, period.end + dt.timedelta(days=12)):
            own = load(sessions, period, as_of)
            assert every_figure(own, period, as_of) == every_figure(everything, period, as_of), (
                period.label,
                as_of,
            )
        middle = period.start + (period.end - period.start) / 2
        own = load(sessions, period, period.end)
        assert handling.overdue_now(own.files, middle, ZONE) == handling.overdue_now(
            everything.files, middle, ZONE
        ), period.label
    # The September day: only I, overdue since the end of August.
    quiet = load(sessions, periods.day(dt.date(2026, 9, 15), ZONE))
    assert [f.id for f in quiet.files] == [world.cases["I"]]
    assert handling.overdue_now(quiet.files, local(9, 15, 12), ZONE).ids == (world.cases["I"],)


def test_several_windows_at_once_hold_each_window_s_rows(
    sessions: sessionmaker[Session], world: World
) -> None:
    september, october = periods.month(2026, 9, ZONE), OCTOBER
    with sessions() as session:
        both = reader.load_many(
            session, [(september.start, september.end), (october.start, october.end)]
        )
        apart = [reader.load(session, p.start, p.end) for p in (september, october)]
        with pytest.raises(ValueError, match="aware"):
            reader.load(session, dt.datetime(2026, 10, 1), october.end)
        with pytest.raises(ValueError, match="before it starts"):
            reader.load(session, october.end, october.start)
    assert {f.id for f in both.files} == {f.id for d in apart for f in d.files}
    assert {c.id for c in both.calls} == {c.id for d in apart for c in d.calls}
    assert world.calls["c7"] in {c.id for c in both.calls}
    for period, data in zip((september, october), apart, strict=True):
        assert every_figure(both, period, period.end) == every_figure(data, period, period.end)
    with sessions() as session:
        names = {row[0]: row[1] for row in session.execute(select(Unit.id, Unit.name))}
    assert both.units == names


# -- the cache -------------------------------------------------------------------------------


def test_the_cache_gives_a_repeat_view_from_memory_and_any_write_at_once(
    sessions: sessionmaker[Session], world: World
) -> None:
    cache = reader.Cache()
    story = Story(sessions)
    story.world = world

    def view(as_of: dt.datetime | None = None) -> reader.Data:
        with sessions() as session:
            return cache.load(session, OCTOBER.start, OCTOBER.end, as_of)

    first = view()
    assert (cache.hits, cache.misses) == (0, 1)
    made: list[str] = []

    def build() -> str:
        made.append("x")
        return "report"

    def report(data: reader.Data) -> str:
        return cache.remember(("report", data.version), build)

    again = view(local(10, 20))  # an earlier as_of reads the same rows
    assert (cache.hits, cache.misses) == (1, 1)
    assert again.files is first.files and again.as_of == local(10, 20)
    assert view().as_of == OCTOBER.end and cache.hits == 2
    assert again.version == first.version != ()
    hits = cache.hits
    assert report(first) == report(again) == "report" and made == ["x"]

    # A step on a case (G finally answered): read again, with the new history entry.
    story.reply("G", "community", local(10, 28), Finding.UNTRUE)
    after = view()
    assert cache.misses == 2 and after.version != first.version
    report(after)
    assert made == ["x", "x"]
    cache.hits = hits  # the counts below are of windows
    g = next(f for f in after.files if f.id == world.cases["G"])
    assert g.events[-1].action == Action.PASS_REVIEW
    assert handling.overdue_now(after.files, OCTOBER.end, ZONE).ids == (world.cases["I"],)
    view()
    assert cache.hits == 3

    # A call still up is answered: its row changes in place, and shows at once.
    uid = "up.1"
    started = local(10, 30, 9)
    with transaction(sessions) as session:
        call_store.save_state(
            session,
            call_state.replay(
                uid,
                [
                    ev.CallStarted(uid, started, uid, "PJSIP/trunk-1", "13700000009", "", "1"),
                    ev.NoticeFinished(uid, started + dt.timedelta(seconds=4)),
                    ev.CallQueued(uid, started + dt.timedelta(seconds=5), "hotline"),
                ],
            ),
        )
    queued = view()
    assert cache.misses == 3
    [up] = [c for c in queued.calls if c.caller_number == "13700000009"]
    assert up.answered_at is None and up.outcome is None
    with transaction(sessions) as session:
        state = call_state.replay(
            uid,
            [
                ev.CallStarted(uid, started, uid, "PJSIP/trunk-1", "13700000009", "", "1"),
                ev.NoticeFinished(uid, started + dt.timedelta(seconds=4)),
                ev.CallQueued(uid, started + dt.timedelta(seconds=5), "hotline"),
                ev.OperatorAnswered(uid, started + dt.timedelta(seconds=9), "1002"),
            ],
        )
        call_store.save_state(session, state)
    answered = view()
    assert cache.misses == 4
    [up] = [c for c in answered.calls if c.caller_number == "13700000009"]
    assert up.answered_at == started + dt.timedelta(seconds=9) and up.operator == "1002"
    # Another window is kept beside the first; as_of past the end is another read.
    with sessions() as session:
        september = periods.month(2026, 9, ZONE)
        cache.load(session, september.start, september.end)
        cache.load(session, OCTOBER.start, OCTOBER.end, local(11, 30))
    assert cache.misses == 6
    view()
    assert cache.hits == 4
    # Past the window's end (read above as of 30 November 10:00), a later moment of the
    # same UTC day is served from memory (as of then); an earlier one is read again.
    with sessions() as session:
        at_ten = cache.load(session, OCTOBER.start, OCTOBER.end, local(11, 30, 10))
        at_eight_pm = cache.load(session, OCTOBER.start, OCTOBER.end, local(11, 30, 20))
        assert (cache.hits, cache.misses) == (6, 6)
        assert at_eight_pm.files is at_ten.files and at_eight_pm.as_of == local(11, 30, 20)
        cache.load(session, OCTOBER.start, OCTOBER.end, local(11, 30, 9))
        assert (cache.hits, cache.misses) == (6, 7)
