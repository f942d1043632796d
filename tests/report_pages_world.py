"""A month of the hotline made by the real domain functions (registration and its decisions,
dispatch, return and 改派, signing, reply and review, feedback, closing; calls from their
AMI events), for the report pages' integration and browser tests. The month is given (a
fixed one, or last month relative to now): every moment is a day and hour inside it.

What the month holds (the figures the tests expect):

- A, B: 住建局, replied the next day, rated 满意 and 非常满意 (closed);
- C: 城管局, signed, never answered (超期);
- D: 不予受理; E: 即办 (a consultation answered on the spot);
- F: sent to 城管局, returned, 改派 to 住建局, replied, rated 满意;
- G: 城管局, replied, rated 不满意, closed by the supervisor with a reason;
- calls: two answered (8 s and 30 s in the queue), one abandoned, one left a message.

So 受理量 6 (``ACCEPTED``: E counts, answered on the spot), 办结量 5, 满意率 3 of 4.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import User
from core.db import transaction
from dispatch.cases.models import Case
from dispatch.cases.registration import CaseType, Channel, Decision, Registration
from dispatch.deadlines.policy import HOTLINE
from dispatch.deadlines.stage_clocks import Rules
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.feedback import visits
from dispatch.feedback.scale import Level
from dispatch.handling import steps
from dispatch.handling.steps import DispatchOrder, Finding, Mode, ReplyIn
from dispatch.indicators.periods import Period
from dispatch.intake import case_store
from dispatch.routing import units
from ivr import call_state, call_store
from ivr import events as ev
from tests.builders import add_user

ZONE = ZoneInfo("Asia/Shanghai")
RULES = Rules(WorkingCalendar(warn_unknown_years=False), HOTLINE, ZONE)
NUMBER_FORMAT = "RP{date:%Y%m%d}{seq:04d}"
ACCEPTED = ("A", "B", "C", "E", "F", "G")  # 受理量 (E answered on the spot)
CLOSED = ("A", "B", "E", "F", "G")  # 办结量
SATISFIED = ("A", "B", "F")  # 满意率's numerator; G is its denominator's too
RATED = ("A", "B", "F", "G")
OPERATOR_PHONE = "8001"  # op1's: the answered calls name it
USERS = [
    ("sup1", "supervisor"),
    ("op1", "operator"),
    ("inv1", "investigator"),
    ("aud1", "auditor"),
    ("admin1", "admin"),
]


@dataclass
class World:
    month: Period
    units: dict[str, str] = field(default_factory=dict)  # short name -> id
    cases: dict[str, str] = field(default_factory=dict)  # letter -> case id
    numbers: dict[str, str] = field(default_factory=dict)  # letter -> case number
    calls: dict[str, str] = field(default_factory=dict)  # name -> call id

    def at(self, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
        """Day ``day`` (from 1) of the month at ``hour`` local time."""
        first = self.month.first + dt.timedelta(days=day - 1)
        return dt.datetime.combine(first, dt.time(hour, minute), ZONE)

    def ids(self, letters: tuple[str, ...]) -> set[str]:
        return {self.cases[letter] for letter in letters}


class Story:
    def __init__(self, sessions: sessionmaker[Session], month: Period) -> None:
        self.sessions = sessions
        self.world = World(month)

    def users(self) -> None:
        for name, role in USERS:
            add_user(self.sessions, name, role, OPERATOR_PHONE if name == "op1" else "")
        add_user(self.sessions, "unit1", "unit_handler")
        with transaction(self.sessions) as session:
            user = session.scalars(select(User).where(User.username == "unit1")).one()
            units.add_member(session, user, units.active_unit(session, self.world.units["city"]))

    def make_units(self) -> None:
        with transaction(self.sessions) as session:
            for short, name in (("housing", "市住建局"), ("city", "市城管局")):
                made = units.create_unit(session, name, "department", self.world.at(1, 8))
                self.world.units[short] = made.id

    def register(
        self,
        letter: str,
        at: dt.datetime,
        decision: Decision = Decision.ACCEPT,
        case_type: CaseType = CaseType.COMPLAINT,
    ) -> None:
        form = Registration(
            received_at=at,
            channel=Channel.PHONE,
            case_type=case_type,
            complainant_name="李四",
            complainant_phone=f"1390000{ord(letter):04d}",
            complainant_address="",
            complainant_org="",
            anonymous=False,
            confidential=False,
            identity_consent=False,
            subject_unit="某物业公司" if case_type is CaseType.COMPLAINT else "",
            subject_window="",
            subject_person="",
            title=f"报表测试诉求{letter}",
            content="小区路灯损坏多日，夜间出行不便。",
            request="请尽快维修",
            verified_with_caller=True,
            transcript_text="",
            decision=decision,
            decision_reason="不属于热线受理范围" if decision is Decision.REJECT else "",
            refer_to="人民法院" if decision is Decision.REJECT else "",
            reply_text="已当场答复" if decision is Decision.ON_SPOT else "",
            knowledge_entry_id="",
        )
        with transaction(self.sessions) as session:
            case = case_store.register(session, form, "op1", at, NUMBER_FORMAT, ZONE, rules=RULES)
            self.world.cases[letter] = case.id
            self.world.numbers[letter] = case.number

    def step(self, letter: str, step: Callable[[Session, Case], object]) -> None:
        with transaction(self.sessions) as session:
            case = session.get(Case, self.world.cases[letter])
            assert case is not None
            step(session, case)

    def dispatch(self, letter: str, unit: str, at: dt.datetime) -> None:
        order = DispatchOrder(
            self.world.units[unit], Mode.TRANSFER, instructions="请核实处理", category="市政设施"
        )
        self.step(letter, lambda s, c: steps.dispatch(s, c, order, "sup1", at, RULES))

    def sign(self, letter: str, unit: str, at: dt.datetime) -> None:
        unit_id = self.world.units[unit]
        self.step(letter, lambda s, c: steps.sign(s, c, unit_id, "unit1", at))
        self.step(
            letter,
            lambda s, c: steps.start_work(s, c, unit_id, "unit1", at + dt.timedelta(minutes=5)),
        )

    def reply(self, letter: str, unit: str, at: dt.datetime) -> None:
        unit_id = self.world.units[unit]
        answer = ReplyIn("已派人维修", Finding.TRUE, "路灯已修复", "")
        self.step(letter, lambda s, c: steps.reply(s, c, unit_id, answer, "unit1", at, RULES))
        passed = at + dt.timedelta(hours=1)
        self.step(letter, lambda s, c: steps.review(s, c, True, "", "sup1", passed))

    def feedback(self, letter: str, at: dt.datetime, level: Level) -> None:
        self.step(
            letter,
            lambda s, c: visits.give_feedback(
                s, c, visits.Method.PHONE, at, "已电话告知", level, "op1", at
            ),
        )

    def call(
        self, name: str, start: dt.datetime, wait: float | None, message: bool = False
    ) -> None:
        """A call queued 5 s after it starts: answered ``wait`` s later, or a message, or
        abandoned after a minute."""
        uid = f"{name}.{start.timestamp():.0f}"
        second = dt.timedelta(seconds=1)
        queued = start + 5 * second
        happened: list[ev.CallEvent] = [
            ev.CallStarted(uid, start, uid, "PJSIP/trunk-00000001", "13700000001", "", "12345"),
            ev.NoticeFinished(uid, start + 4 * second),
            ev.CallQueued(uid, queued, "hotline"),
        ]
        if wait is not None:
            answered = queued + wait * second
            happened += [
                ev.OperatorAnswered(uid, answered, OPERATOR_PHONE),
                ev.CallHungUp(uid, answered + 120 * second, 16, "Normal Clearing"),
            ]
        elif message:
            happened += [
                ev.MessageStarted(uid, queued + 60 * second, "timeout"),
                ev.CallHungUp(uid, queued + 100 * second, 16, "Normal Clearing"),
            ]
        else:
            happened += [
                ev.CallerAbandoned(uid, queued + 60 * second),
                ev.CallHungUp(uid, queued + 61 * second, 16, "Normal Clearing"),
            ]
        with transaction(self.sessions) as session:
            self.world.calls[name] = call_store.save_state(
                session, call_state.replay(uid, happened)
            ).id


def tell(sessions: sessionmaker[Session], month: Period) -> World:
    """The month's story (see the module's docstring); every moment is in ``month``."""
    s = Story(sessions, month)
    w = s.world
    s.make_units()
    s.users()
    for letter, unit, level, day in (
        ("A", "housing", Level.SATISFIED, 2),
        ("B", "housing", Level.VERY_SATISFIED, 3),
    ):
        s.register(letter, w.at(day, 9))
        s.dispatch(letter, unit, w.at(day, 10))
        s.sign(letter, unit, w.at(day, 11))
        s.reply(letter, unit, w.at(day + 1, 10))
        s.feedback(letter, w.at(day + 2, 9), level)
    s.register("C", w.at(5, 9))
    s.dispatch("C", "city", w.at(5, 10))
    s.sign("C", "city", w.at(5, 11))
    s.register("D", w.at(6, 9), Decision.REJECT)
    s.register("E", w.at(7, 9), Decision.ON_SPOT, CaseType.CONSULTATION)
    s.register("F", w.at(8, 9))
    s.dispatch("F", "city", w.at(8, 10))
    city = w.units["city"]
    s.step(
        "F",
        lambda ss, c: steps.unit_return(
            ss, c, city, "不属于本单位职责", "unit1", w.at(8, 15), RULES
        ),
    )
    s.dispatch("F", "housing", w.at(9, 9))
    s.sign("F", "housing", w.at(9, 10))
    s.reply("F", "housing", w.at(9, 16))
    s.feedback("F", w.at(10, 9), Level.SATISFIED)
    s.register("G", w.at(11, 9))
    s.dispatch("G", "city", w.at(11, 10))
    s.sign("G", "city", w.at(11, 11))
    s.reply("G", "city", w.at(12, 10))
    s.feedback("G", w.at(13, 9), Level.DISSATISFIED)
    s.step("G", lambda ss, c: steps.close(ss, c, "sup1", w.at(13, 15), "已依法答复，无需重办"))
    s.call("c1", w.at(2, 9), 8)
    s.call("c2", w.at(2, 10), 30)
    s.call("c3", w.at(3, 9), None)
    s.call("c4", w.at(9, 9), None, message=True)
    return w
