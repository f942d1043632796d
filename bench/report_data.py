"""A year of a centre's work for the reports' benchmark (issue 17): 300,000 calls and
100,000 cases with their histories (registration, acceptance or 不予受理 or 即办, dispatch,
退回 and 改派, signing, 延期, replies and their review, 催办 and the supervision job's yellow
and red cards, 回访 with the five-level rating, 重办, closing, archiving, 并单, 撤回), 40
units (10 of them service windows), the callback list with its attempts, up to a given end.
``--scale`` makes it smaller (0.1: 30,000 calls, 10,000 cases).

Each case is lived step by step in time, the way the domain functions would write it (one
history entry per step, the clocks of ``dispatch.deadlines`` on the official calendar,
every clock met, cancelled or left running), and cut at the end: a case received last week
is still at a unit, a clock due yesterday unmet is overdue. Rows go in with bulk inserts.

    .venv/bin/python -m bench.report_data --into URL [--scale 1] [--end 2026-12-01T00:00+08:00]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role, User
from core.db import make_engine, make_session_factory, transaction
from core.ids import new_id
from dispatch.cases.handling_models import (
    Assignment,
    CaseDeadline,
    Extension,
    Feedback,
    SupervisionRecord,
    Unit,
    UnitReply,
)
from dispatch.cases.lifecycle import Action, Status
from dispatch.cases.models import CallbackAttempt, Case, CaseEvent
from dispatch.deadlines.working_calendar import WorkingCalendar
from hotline import migrate
from ivr.models import Call, CallbackRequest

ZONE = ZoneInfo("Asia/Shanghai")
CALLS, CASES = 300_000, 100_000
UNITS = 40
WINDOWS = 10
OFFICES = 5
OPERATORS = 20
SUPERVISORS = 5
CATEGORIES = (
    "城乡建设", "环境保护", "交通运输", "劳动保障", "市场监管", "教育", "医疗卫生", "公安",
    "民政", "住房保障", "水电气暖", "物业管理", "农业农村", "文化旅游", "自然资源", "政务服务",
)  # fmt: skip
LEVELS = (
    ("very_satisfied", 30),
    ("satisfied", 40),
    ("basically_satisfied", 15),
    ("dissatisfied", 10),
    ("very_dissatisfied", 5),
)
FINDINGS = (("true", 35), ("partly_true", 20), ("untrue", 45))
CASE_TYPES = (
    ("complaint", 40),
    ("consultation", 25),
    ("help", 20),
    ("suggestion", 10),
    ("report", 5),
)
CHANNELS = (("web", 15), ("letter", 5), ("walk_in", 10))
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
SECOND = dt.timedelta(seconds=1)
BATCH = 2000  # cases lived and written per transaction
SERIAL = ("case_events", "case_deadlines", "supervision_records", "feedback", "callback_attempts")


class Stop(Exception):
    """The case's next step would fall after the end: it stays where it is."""


def pick(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


@dataclass
class Out:
    """Rows waiting for their insert, by table."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    deadlines: list[dict[str, Any]] = field(default_factory=list)
    extensions: list[dict[str, Any]] = field(default_factory=list)
    supervision: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def write(self, session: Session) -> int:
        written = 0
        for model, rows in [
            (Call, self.calls),
            (Case, self.cases),
            (CaseEvent, self.events),
            (Assignment, self.assignments),
            (CaseDeadline, self.deadlines),
            (Extension, self.extensions),
            (SupervisionRecord, self.supervision),
            (UnitReply, self.replies),
            (Feedback, self.feedback),
            (CallbackRequest, self.requests),
            (CallbackAttempt, self.attempts),
        ]:
            if rows:
                session.execute(insert(model), rows)
                written += len(rows)
        return written


@dataclass
class World:
    end: dt.datetime
    centre: str
    departments: list[str]
    windows: list[str]
    offices: list[str]
    operators: list[str]
    supervisors: list[str]
    by_category: dict[str, str]
    deadline_id: int = 0
    supervision_id: int = 0
    feedback_id: int = 0
    event_id: int = 0
    attempt_id: int = 0
    case_seq: int = 0
    recent: list[str] = field(default_factory=list)  # cases at a unit lately (并单 targets)


_CALENDAR = WorkingCalendar(warn_unknown_years=False)


@cache
def working(day: dt.date) -> bool:
    return _CALENDAR.is_working_day(day)


def add_working(day: dt.date, days: int) -> dt.date:
    """The ``days``-th working day after ``day`` (as ``WorkingCalendar.add_working_days``)."""
    counted = 0
    while counted < max(days, 1):
        day += dt.timedelta(days=1)
        if working(day):
            counted += 1
    return day


def working_day_before(day: dt.date) -> dt.date:
    day -= dt.timedelta(days=1)
    while not working(day):
        day -= dt.timedelta(days=1)
    return day


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZONE).date()


def at_local(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZONE).astimezone(dt.UTC) + hour * HOUR


def office_time(rng: random.Random, start: dt.datetime, hours: float) -> dt.datetime:
    """About ``hours`` working hours after ``start``: nights and days off skipped."""
    moment = start + hours * HOUR
    day = local_day(moment)
    hour = (moment - at_local(day, 0)) / HOUR
    while not working(day) or hour > 18:
        day += dt.timedelta(days=1)
        hour = 8.5 + rng.random() * 2
    return at_local(day, max(hour, 8.5))


class Life:
    """One case lived step by step; every step checks the end first."""

    def __init__(self, world: World, out: Out, rng: random.Random, case: dict[str, Any]):
        self.world, self.out, self.rng, self.case = world, out, rng, case
        self.status = ""
        self.clocks: dict[str, dict[str, Any]] = {}  # stage -> the running clock's row
        self.met: dict[str, dict[str, Any]] = {}  # stage -> its clock met last
        self.lead: dict[str, Any] | None = None
        self.last: dt.datetime = case["registered_at"]

    @property
    def id(self) -> str:
        return str(self.case["id"])

    def event(self, at: dt.datetime, action: Action, to: Status | None, actor: str) -> dt.datetime:
        """One history entry, never before the previous one; its time."""
        at = max(at, self.last)
        if at > self.world.end:
            raise Stop
        self.last = at
        to_status = self.status if to is None else to.value
        self.world.event_id += 1
        self.out.events.append(
            {
                "id": self.world.event_id,
                "case_id": self.id,
                "at": at,
                "actor": actor,
                "action": action.value,
                "from_status": self.status,
                "to_status": to_status,
                "note": "",
            }
        )
        self.status = to_status
        self.case["status"] = to_status
        return at

    # clocks

    def start(self, stage: str, started: dt.date, due: dt.date, unit: str | None) -> None:
        self.cancel(stage)
        self.world.deadline_id += 1
        row = {
            "id": self.world.deadline_id,
            "case_id": self.id,
            "stage": stage,
            "unit_id": unit,
            "started_on": started,
            "due_on": due,
            "provisional": False,
            "met_at": None,
            "cancelled": False,
        }
        self.out.deadlines.append(row)
        self.clocks[stage] = row

    def meet(self, stage: str, at: dt.datetime) -> None:
        row = self.clocks.pop(stage, None)
        if row is not None:
            row["met_at"] = at
            self.met[stage] = row

    def reopen(self, stage: str) -> None:
        """The stage's duty is back (a reply returned by the review): its clock runs on."""
        row = self.met.pop(stage, None)
        if row is not None:
            row["met_at"] = None
            self.clocks[stage] = row

    def cancel(self, stage: str | None = None) -> None:
        for name in [stage] if stage else list(self.clocks):
            row = self.clocks.pop(name, None) if name else None
            if row is not None:
                row["cancelled"] = True

    # the supervision job, every working morning while a handling clock runs

    def supervise_until(self, until: dt.datetime) -> None:
        row = self.clocks.get("handling")
        if row is None:
            return
        due: dt.date = row["due_on"]
        notices = [
            ("reminder", Action.REMIND, working_day_before(due)),
            ("yellow", Action.YELLOW_CARD, due + dt.timedelta(days=1)),
            ("red", Action.RED_CARD, add_working(due, 2)),
        ]
        for kind, action, day in notices:
            if row.get(kind):
                continue
            moment = at_local(day, 9)
            if moment >= until or moment > self.world.end or day < row["started_on"]:
                continue
            row[kind] = True
            moment = self.event(moment, action, None, "system:supervision")
            self.world.supervision_id += 1
            self.out.supervision.append(
                {
                    "id": self.world.supervision_id,
                    "case_id": self.id,
                    "deadline_id": row["id"],
                    "unit_id": row["unit_id"],
                    "kind": kind,
                    "due_on": due,
                    "at": moment,
                    "message": "",
                    "issued_by": "",
                    "reason": "",
                }
            )

    # the steps

    def live(self) -> None:
        world, rng, case = self.world, self.rng, self.case
        registered: dt.datetime = case["registered_at"]
        self.event(registered, Action.REGISTER, Status.REGISTERED, case["registered_by"])
        draw = rng.random()
        if draw < 0.04:
            case["decision"] = "reject"
            self.event(registered, Action.REJECT, Status.REJECTED, case["registered_by"])
            return
        if draw < 0.22:
            case["decision"] = "on_spot"
            self.event(registered, Action.ANSWER_ON_SPOT, Status.CLOSED, case["registered_by"])
            self.archive(registered)
            return
        case["decision"] = "accept"
        self.event(registered, Action.ACCEPT, Status.ACCEPTED, case["registered_by"])
        accepted_on = local_day(registered)
        self.start("dispatch", accepted_on, add_working(accepted_on, 1), None)
        draw = rng.random()
        if draw < 0.02:
            self.withdraw(registered + rng.uniform(1, 30) * HOUR)
            return
        if draw < 0.05 and world.recent:
            self.merge(registered + rng.uniform(0.2, 4) * HOUR)
            return
        supervisor = rng.choice(world.supervisors)
        unit = self.unit_for(case)
        hours = rng.expovariate(1 / 5) if rng.random() < 0.95 else rng.uniform(12, 40)
        dispatched = office_time(rng, registered, hours)
        self.dispatch(dispatched, unit, supervisor, accepted_on)
        if rng.random() < 0.05:  # 退回, then 改派 to another unit
            returned = office_time(rng, dispatched, rng.uniform(1, 12))
            self.unit_return(returned)
            other = rng.choice([u for u in world.departments if u != unit])
            self.dispatch(
                office_time(rng, returned, rng.uniform(0.5, 6)), other, supervisor, accepted_on
            )
            dispatched = self.lead["dispatched_at"] if self.lead else dispatched
        self.handle(dispatched, supervisor, first=True)

    def unit_for(self, case: dict[str, Any]) -> str:
        if self.rng.random() < 0.1:
            return self.rng.choice([*self.world.offices, self.world.centre])
        return self.world.by_category[case["category"]]

    def dispatch(self, at: dt.datetime, unit: str, actor: str, accepted_on: dt.date) -> None:
        at = self.event(at, Action.DISPATCH, Status.DISPATCHED, actor)
        self.meet("dispatch", at)
        lead = {
            "id": new_id(),
            "case_id": self.id,
            "unit_id": unit,
            "role": "lead",
            "mode": "self" if unit == self.world.centre else "transfer",
            "instructions": "",
            "active": True,
            "dispatched_at": at,
            "dispatched_by": actor,
            "signed_at": None,
            "signed_by": "",
            "returned_at": None,
            "return_reason": "",
            "recalled_at": None,
            "recall_reason": "",
        }
        self.out.assignments.append(lead)
        self.lead = lead
        if self.rng.random() < 0.15:
            assist = dict(
                lead, id=new_id(), role="assist", unit_id=self.rng.choice(self.world.departments)
            )
            self.out.assignments.append(assist)
        today = local_day(at)
        self.start("return", today, add_working(today, 2), unit)
        complex_case = bool(self.case["complex_case"])
        due = add_working(accepted_on, 7 if complex_case else 3)
        self.start("handling", accepted_on, due, unit)

    def unit_return(self, at: dt.datetime) -> None:
        assert self.lead is not None
        at = self.event(at, Action.UNIT_RETURN, Status.ACCEPTED, "handler")
        self.lead["returned_at"], self.lead["active"] = at, False
        self.cancel("return")
        self.cancel("handling")
        today = local_day(at)
        self.start("dispatch", today, add_working(today, 1), None)

    def handle(self, dispatched: dt.datetime, supervisor: str, first: bool) -> None:
        world, rng, lead = self.world, self.rng, self.lead
        assert lead is not None
        signed = office_time(rng, dispatched, rng.expovariate(1 / 3))
        self.supervise_until(signed)
        signed = self.event(signed, Action.SIGN, Status.SIGNED, "handler")
        lead["signed_at"], lead["signed_by"] = signed, "handler"
        self.event(
            signed + rng.uniform(1, 60) * MINUTE, Action.START, Status.IN_PROGRESS, "handler"
        )
        if first and rng.random() < 0.08:
            self.extend(signed, supervisor)
        if rng.random() < 0.03:
            chased = office_time(rng, signed, rng.uniform(4, 20))
            self.supervise_until(chased)
            self.remind(chased, supervisor)
        due: dt.date = self.clocks["handling"]["due_on"]
        late = rng.random() < 0.12
        target = due + dt.timedelta(days=rng.randint(1, 6)) if late else due
        span = max((target - local_day(signed)).days, 0)
        replied = at_local(
            local_day(signed) + dt.timedelta(days=rng.randint(0, span)), rng.uniform(9, 17.5)
        )
        replied = max(replied, signed + HOUR)
        self.supervise_until(replied)
        finding = pick(rng, FINDINGS) if self.case["case_type"] == "complaint" else "true"
        reply = self.reply(replied, finding)
        reviewed = office_time(rng, replied, rng.uniform(0.2, 6))
        if rng.random() < 0.05:  # returned by the review, answered again
            reviewed = self.event(reviewed, Action.RETURN_REPLY, Status.IN_PROGRESS, supervisor)
            reply["review"], reply["reviewed_at"] = "returned", reviewed
            self.cancel("feedback")
            self.reopen("handling")
            replied = office_time(rng, reviewed, rng.uniform(4, 20))
            reply = self.reply(replied, finding)
            reviewed = office_time(rng, replied, rng.uniform(0.2, 6))
        reviewed = self.event(reviewed, Action.PASS_REVIEW, Status.REVIEWED, supervisor)
        reply["review"], reply["reviewed_at"] = "passed", reviewed
        told = office_time(rng, reviewed, rng.expovariate(1 / 6))
        operator = rng.choice(world.operators)
        level = pick(rng, LEVELS) if first else pick(rng, LEVELS[:3])
        told = self.event(told, Action.FEEDBACK, Status.FEEDBACK_GIVEN, operator)
        self.meet("feedback", told)
        world.feedback_id += 1
        method = "phone" if rng.random() < 0.8 else "auto_call"
        self.out.feedback.append(
            {
                "id": world.feedback_id,
                "case_id": self.id,
                "at": told,
                "actor": operator,
                "method": method,
                "note": "",
                "satisfaction": level,
            }
        )
        self.event(told, Action.SATISFACTION, None, operator)
        self.case["satisfaction"], self.case["satisfaction_at"] = level, told
        if level in ("dissatisfied", "very_dissatisfied"):
            later = office_time(rng, told, rng.uniform(4, 24))
            if first and rng.random() < 0.5:  # 重办: the same unit once more
                later = self.event(later, Action.REOPEN, Status.ACCEPTED, supervisor)
                lead["active"] = False
                self.cancel()
                again = local_day(later)
                self.start("dispatch", again, add_working(again, 1), None)
                dispatched = office_time(rng, later, rng.uniform(0.5, 6))
                self.dispatch(dispatched, lead["unit_id"], supervisor, again)
                self.handle(dispatched, supervisor, first=False)
                return
            self.event(later, Action.CLOSE, Status.CLOSED, supervisor)
        else:
            self.event(told, Action.CLOSE, Status.CLOSED, operator)
        self.cancel()
        self.archive(told)

    def reply(self, at: dt.datetime, finding: str) -> dict[str, Any]:
        assert self.lead is not None
        at = self.event(at, Action.REPLY, Status.REPLIED, "handler")
        self.meet("handling", at)
        self.cancel("return")
        today = local_day(at)
        self.start("feedback", today, add_working(today, 1), None)
        row = {
            "id": new_id(),
            "case_id": self.id,
            "unit_id": self.lead["unit_id"],
            "at": at,
            "by": "handler",
            "facts": "",
            "finding": finding,
            "measures": "",
            "responsible_handling": "",
            "review": "",
            "reviewed_by": "",
            "reviewed_at": None,
            "review_note": "",
        }
        self.out.replies.append(row)
        return row

    def extend(self, signed: dt.datetime, supervisor: str) -> None:
        assert self.lead is not None
        clock = self.clocks["handling"]
        asked = office_time(self.rng, signed, self.rng.uniform(2, 16))
        self.supervise_until(asked)
        asked = self.event(asked, Action.REQUEST_EXTENSION, None, "handler")
        days = self.rng.randint(1, 5)
        row = {
            "id": new_id(),
            "case_id": self.id,
            "deadline_id": clock["id"],
            "unit_id": self.lead["unit_id"],
            "requested_by": "handler",
            "requested_at": asked,
            "days": days,
            "reason": "需现场核查",
            "old_due_on": clock["due_on"],
            "new_due_on": add_working(clock["due_on"], days),
            "status": "pending",
            "decided_by": "",
            "decided_at": None,
            "decision_reason": "",
            "notice_text": "",
        }
        self.out.extensions.append(row)
        decided = office_time(self.rng, asked, self.rng.uniform(1, 8))
        self.supervise_until(decided)
        decided = self.event(decided, Action.DECIDE_EXTENSION, None, supervisor)
        row["decided_by"], row["decided_at"] = supervisor, decided
        if self.rng.random() < 0.85:
            row["status"] = "approved"
            self.start("handling", clock["started_on"], row["new_due_on"], clock["unit_id"])
        else:
            row["status"], row["decision_reason"] = "refused", "理由不充分"

    def remind(self, at: dt.datetime, supervisor: str) -> None:
        clock = self.clocks["handling"]
        at = self.event(at, Action.REMIND, None, supervisor)
        self.world.supervision_id += 1
        self.out.supervision.append(
            {
                "id": self.world.supervision_id,
                "case_id": self.id,
                "deadline_id": clock["id"],
                "unit_id": clock["unit_id"],
                "kind": "reminder",
                "due_on": clock["due_on"],
                "at": at,
                "message": "",
                "issued_by": supervisor,
                "reason": "请加快办理",
            }
        )

    def withdraw(self, at: dt.datetime) -> None:
        self.event(at, Action.WITHDRAW, Status.WITHDRAWN, self.case["registered_by"])
        self.cancel()

    def merge(self, at: dt.datetime) -> None:
        into = self.rng.choice(self.world.recent)
        at = self.event(at, Action.MERGE, Status.MERGED, self.case["registered_by"])
        self.case["merged_into_id"] = into
        self.cancel()
        self.world.event_id += 1
        self.out.events.append(
            {
                "id": self.world.event_id,
                "case_id": into,
                "at": at,
                "actor": self.case["registered_by"],
                "action": Action.MERGE.value,
                "from_status": Status.IN_PROGRESS.value,
                "to_status": Status.IN_PROGRESS.value,
                "note": "",
            }
        )

    def archive(self, closed: dt.datetime) -> None:
        if self.rng.random() < 0.5:
            self.event(
                closed + dt.timedelta(days=self.rng.uniform(5, 20)),
                Action.ARCHIVE,
                Status.ARCHIVED,
                "sup",
            )


def received_times(
    rng: random.Random, count: int, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """``count`` moments in ``[start, end)``: more by day than by night, more on working days."""
    found: list[dt.datetime] = []
    span = (end - start).total_seconds()
    while len(found) < count:
        moment = start + dt.timedelta(seconds=rng.random() * span)
        local = moment.astimezone(ZONE)
        weight = 1.0 if 8 <= local.hour < 20 else 0.15
        if not working(local.date()):
            weight *= 0.5
        if rng.random() < weight:
            found.append(moment)
    found.sort()
    return found


def phone(rng: random.Random, pool: int) -> str:
    """A caller's number: a few call often, most once or twice."""
    return f"13{int(pool * rng.random() ** 1.5):09d}"


@dataclass(frozen=True)
class Summary:
    calls: int
    cases: int
    rows: int
    seconds: float


def make_world(sessions: sessionmaker[Session], end: dt.datetime, rng: random.Random) -> World:
    made = end - dt.timedelta(days=400)
    with transaction(sessions) as session:
        units: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "name": "热线中心",
                "kind": "centre",
                "active": True,
                "created_at": made,
            }
        ]
        departments = UNITS - 1 - WINDOWS - OFFICES
        for index in range(departments):
            units.append(
                {
                    "id": new_id(),
                    "name": f"第{index + 1}职能部门",
                    "kind": "department",
                    "active": True,
                    "created_at": made,
                }
            )
        for index in range(WINDOWS):
            units.append(
                {
                    "id": new_id(),
                    "name": f"政务服务中心第{index + 1}窗口",
                    "kind": "window",
                    "active": True,
                    "created_at": made,
                }
            )
        for index in range(OFFICES):
            units.append(
                {
                    "id": new_id(),
                    "name": f"第{index + 1}街道办事处",
                    "kind": "office",
                    "active": True,
                    "created_at": made,
                }
            )
        session.execute(insert(Unit), units)
        users: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "username": f"op{index + 1:02d}",
                "display_name": f"话务员{index + 1}",
                "role": Role.OPERATOR.value,
            }
            for index in range(OPERATORS)
        ] + [
            {
                "id": new_id(),
                "username": f"sup{index + 1}",
                "display_name": f"督查员{index + 1}",
                "role": Role.SUPERVISOR.value,
            }
            for index in range(SUPERVISORS)
        ]
        for user in users:
            user.update(
                password_hash="-",
                phone="",
                active=True,
                must_change_password=False,
                failed_logins=0,
                created_at=made,
            )
        session.execute(insert(User), users)
    by_kind: dict[str, list[str]] = {}
    for unit in units:
        by_kind.setdefault(unit["kind"], []).append(unit["id"])
    return World(
        end=end,
        centre=by_kind["centre"][0],
        departments=by_kind["department"],
        windows=by_kind["window"],
        offices=by_kind["office"],
        operators=[u["username"] for u in users if u["role"] == Role.OPERATOR.value],
        supervisors=[u["username"] for u in users if u["role"] == Role.SUPERVISOR.value],
        by_category={c: rng.choice(by_kind["department"]) for c in CATEGORIES},
    )


def generate(
    sessions: sessionmaker[Session],
    end: dt.datetime,
    scale: float = 1.0,
    seed: int = 17,
    quiet: bool = False,
) -> Summary:
    """A year up to ``end`` into an empty, migrated database."""
    started = time.perf_counter()
    rng = random.Random(seed)
    world = make_world(sessions, end, rng)
    start = end - dt.timedelta(days=365)
    case_count, call_count = int(CASES * scale), int(CALLS * scale)
    pool = max(int(60_000 * scale), 100)
    case_times = received_times(rng, case_count, start, end)
    # Phone cases come from a call each; the other calls (no case, a message, abandoned…)
    # fill up to the count.
    other_calls = iter(received_times(rng, max(call_count - int(case_count * 0.7), 0), start, end))
    next_call = next(other_calls, None)
    rows = 0
    written_cases = written_calls = 0
    for first in range(0, case_count, BATCH):
        out = Out()
        for received in case_times[first : first + BATCH]:
            while next_call is not None and next_call <= received:
                lone_call(world, out, rng, next_call, phone(rng, pool))
                next_call = next(other_calls, None)
            live_case(world, out, rng, received, pool)
        if first + BATCH >= case_count:
            while next_call is not None:
                lone_call(world, out, rng, next_call, phone(rng, pool))
                next_call = next(other_calls, None)
        written_cases += len(out.cases)
        written_calls += len(out.calls)
        with transaction(sessions) as session:
            rows += out.write(session)
        if not quiet:
            print(f"  {written_cases} cases, {written_calls} calls, {rows} rows", flush=True)
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            # The ids given here: the sequences go on after them.
            for table in SERIAL:
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
    return Summary(written_calls, written_cases, rows, time.perf_counter() - started)


def live_case(world: World, out: Out, rng: random.Random, received: dt.datetime, pool: int) -> None:
    by_phone = rng.random() < 0.7
    number = phone(rng, pool)
    call_id = None
    registered = received + rng.uniform(2, 15) * MINUTE
    operator = rng.choice(world.operators)
    if by_phone:
        call_id = answered_call(world, out, rng, received, number, operator)
    case_type = pick(rng, CASE_TYPES)
    case_id = new_id()
    world.case_seq += 1
    category = rng.choice(CATEGORIES)
    complained = (
        rng.choice(world.windows) if case_type == "complaint" and rng.random() < 0.15 else None
    )
    case = {
        "id": case_id,
        "number": f"TS{local_day(received):%Y%m%d}{world.case_seq:06d}",
        "status": "",
        "received_at": received,
        "registered_at": registered,
        "registered_by": operator,
        "channel": "phone" if by_phone else pick(rng, CHANNELS),
        "case_type": case_type,
        "complainant_name": "市民",
        "complainant_phone": number,
        "anonymous": rng.random() < 0.03,
        "title": f"{category}诉求",
        "content": "诉求内容",
        "call_id": call_id,
        "category": category,
        "complex_case": rng.random() < 0.1,
        "complained_unit_id": complained,
        "decision": "",
        "merged_into_id": None,
    }
    out.cases.append(case)
    life = Life(world, out, rng, case)
    with contextlib.suppress(Stop):
        life.live()
    life.supervise_until(world.end)
    if life.lead is not None:
        world.recent.append(case_id)
        del world.recent[:-300]


def answered_call(
    world: World, out: Out, rng: random.Random, received: dt.datetime, number: str, operator: str
) -> str:
    started = received - rng.uniform(1, 6) * MINUTE
    queued = started + rng.uniform(8, 20) * SECOND
    answered = queued + rng.expovariate(1 / 12) * SECOND
    call_id = new_id()
    out.calls.append(
        {
            "id": call_id,
            "asterisk_uniqueid": call_id,
            "caller_number": number,
            "started_at": started,
            "notice_finished_at": started + 6 * SECOND,
            "queued_at": queued,
            "answered_at": answered,
            "ended_at": answered + rng.uniform(60, 600) * SECOND,
            "outcome": "answered",
            "operator": rng.choice([operator, *world.operators[:3]]),
        }
    )
    return call_id


def lone_call(
    world: World, out: Out, rng: random.Random, started: dt.datetime, number: str
) -> None:
    """A call that made no case: answered (a question, a chase), a message, abandoned
    (on the callback list), or hung up during the notice."""
    call_id = new_id()
    row: dict[str, Any] = {
        "id": call_id,
        "asterisk_uniqueid": call_id,
        "caller_number": number if rng.random() < 0.97 else "",
        "started_at": started,
    }
    local = started.astimezone(ZONE)
    open_hours = 8 <= local.hour < 20
    draw = rng.random()
    if draw < 0.04:
        row.update(outcome="hung_up_during_notice", ended_at=started + rng.uniform(2, 6) * SECOND)
        out.calls.append(row)
        return
    row["notice_finished_at"] = started + 6 * SECOND
    if not open_hours or draw < 0.12:
        row.update(
            outcome="message_left",
            message_started_at=started + 8 * SECOND,
            ended_at=started + rng.uniform(20, 90) * SECOND,
        )
        if open_hours:
            row["queued_at"] = started + 7 * SECOND
        out.calls.append(row)
        return
    queued = started + 7 * SECOND
    row["queued_at"] = queued
    if draw < 0.22:
        ended = queued + rng.uniform(5, 120) * SECOND
        row.update(outcome="abandoned", ended_at=ended)
        out.calls.append(row)
        request_id = new_id()
        request = {"id": request_id, "call_id": call_id, "created_at": ended, "status": "pending"}
        out.requests.append(request)
        tried = ended
        for _ in range(rng.randint(1, 3)):
            tried = tried + rng.uniform(0.1, 6) * HOUR
            if tried > world.end:
                break
            outcome = rng.choices(
                ["reached", "no_answer", "busy", "wrong_number", "declined"], [60, 25, 5, 5, 5]
            )[0]
            world.attempt_id += 1
            out.attempts.append(
                {
                    "id": world.attempt_id,
                    "request_id": request_id,
                    "at": tried,
                    "actor": rng.choice(world.operators),
                    "outcome": outcome,
                    "note": "",
                    "case_id": None,
                }
            )
            if outcome in ("reached", "wrong_number", "declined"):
                request["status"] = "done"
                break
        return
    answered = queued + rng.expovariate(1 / 12) * SECOND
    row.update(
        outcome="answered",
        answered_at=answered,
        ended_at=answered + rng.uniform(30, 400) * SECOND,
        operator=rng.choice(world.operators),
    )
    if row["ended_at"] > world.end:
        row.update(outcome=None, ended_at=None)
    out.calls.append(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--into", required=True, help="an empty database's URL (migrated here)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--end", default="", help="ISO instant the year ends at (default now)")
    args = parser.parse_args()
    end = dt.datetime.fromisoformat(args.end) if args.end else dt.datetime.now(dt.UTC)
    if end.tzinfo is None:
        parser.error("--end needs a time zone (e.g. +08:00)")
    migrate.upgrade(args.into)
    engine = make_engine(args.into)
    summary = generate(make_session_factory(engine), end.astimezone(dt.UTC), args.scale)
    engine.dispose()
    print(
        f"{summary.calls} calls, {summary.cases} cases, {summary.rows} rows "
        f"in {summary.seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
