"""Supervision (督办): reminders before a deadline (催办), a yellow card at the breach, a red
card when still not done one working day later, and the overdue list for supervisors.

``notices_due`` is pure: which notices a stage deadline calls for on a given day. ``run`` is
the job: it looks at every running deadline and writes each notice due at most once (a
unique key per deadline and kind), so it is safe to run twice at once and, being driven by
dates rather than by timers, catches up after downtime."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.cases.events import add_event
from dispatch.cases.handling_models import Assignment, CaseDeadline, SupervisionRecord, Unit
from dispatch.cases.lifecycle import AT_UNIT, TRANSITIONS, UNFINISHED, Action, Status, next_status
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.policy import Card, Profile
from dispatch.deadlines.stage_clocks import STAGE_LABELS, SUPERVISED, Rules, Stage
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling.steps import Refused


class Kind(StrEnum):
    REMINDER = "reminder"
    YELLOW = "yellow"
    RED = "red"


KIND_ACTIONS = {
    Kind.REMINDER: Action.REMIND,
    Kind.YELLOW: Action.YELLOW_CARD,
    Kind.RED: Action.RED_CARD,
}


def notices_due(
    due: dt.date,
    today: dt.date,
    profile: Profile,
    calendar: WorkingCalendar,
    held_since: dt.date | None = None,
) -> list[Kind]:
    """The notices a deadline ``due`` still running on ``today`` calls for, its holder
    having had it since ``held_since``. A reminder only makes sense before the breach and
    after the day the duty arrived (see ``Profile.reminder_on``); after downtime the cards
    are all caught up at once."""
    card = profile.card_on(calendar, due, today)
    if card is Card.RED:
        return [Kind.YELLOW, Kind.RED]
    if card is Card.YELLOW:
        return [Kind.YELLOW]
    reminder = profile.reminder_on(calendar, due, held_since)
    return [Kind.REMINDER] if reminder is not None and today >= reminder.date else []


def held_since(started_on: dt.date, dispatched_on: dt.date | None) -> dt.date:
    """The day a clock reached its holder: its start, or for a unit's handling clock (which
    starts at the acceptance) the later day the case was dispatched to the unit."""
    return max(started_on, dispatched_on) if dispatched_on is not None else started_on


def message(kind: Kind, case_number: str, stage: Stage, due: dt.date, unit: str) -> str:
    who = unit or "热线中心"
    when = f"{due.year}年{due.month}月{due.day}日"
    if kind is Kind.REMINDER:
        return f"【催办】案件{case_number}的{STAGE_LABELS[stage]}为{when}，请{who}抓紧办理。"
    if kind is Kind.YELLOW:
        return (
            f"【黄牌督办】案件{case_number}已超过{STAGE_LABELS[stage]}（{when}），"
            f"请{who}于1个工作日内整改办结。"
        )
    return (
        f"【红牌督办】案件{case_number}超期（{when}）且黄牌后仍未整改，"
        f"对{who}予以通报，请立即办结并书面说明情况。"
    )


@dataclass(frozen=True)
class Issued:
    case_number: str
    stage: str
    kind: Kind
    unit: str


def _insert_once(session: Session, **values: object) -> bool:
    """Insert a record unless its (deadline, kind) exists; True if this call inserted it."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # RETURNING rather than the row count: with psycopg the count of an INSERT … ON
    # CONFLICT DO NOTHING is not reported (-1), and nothing would ever count as issued.
    inserted = session.scalar(
        insert(SupervisionRecord)
        .values(**values)
        # The partial index's predicate as a literal: with a bound parameter PostgreSQL
        # cannot match it to the index once the statement is prepared (a generic plan).
        .on_conflict_do_nothing(
            index_elements=["deadline_id", "kind"], index_where=text("issued_by = ''")
        )
        .returning(SupervisionRecord.id)
    )
    return inserted is not None


def run(session: Session, rules: Rules, now: dt.datetime) -> list[Issued]:
    """Issue every notice due now that was not issued before. Returns what was issued."""
    today = rules.local_date(now)
    issued: list[Issued] = []
    rows = session.execute(
        select(CaseDeadline, Case, Unit.name, Assignment.dispatched_at)
        .join(Case, Case.id == CaseDeadline.case_id)
        .outerjoin(Unit, Unit.id == CaseDeadline.unit_id)
        .outerjoin(
            Assignment,
            (Assignment.case_id == CaseDeadline.case_id)
            & (Assignment.unit_id == CaseDeadline.unit_id)
            & (Assignment.role == "lead")
            & Assignment.active,
        )
        .where(
            CaseDeadline.met_at.is_(None),
            CaseDeadline.cancelled.is_(False),
            CaseDeadline.stage.in_([s.value for s in SUPERVISED]),
        )
        .order_by(CaseDeadline.due_on, CaseDeadline.id)
    )
    for deadline, case, unit_name, dispatched_at in rows:
        since = held_since(
            deadline.started_on, rules.local_date(dispatched_at) if dispatched_at else None
        )
        for kind in notices_due(deadline.due_on, today, rules.profile, rules.calendar, since):
            action = KIND_ACTIONS[kind]
            if (action, Status(case.status)) not in TRANSITIONS:
                continue
            notice = message(
                kind, case.number, Stage(deadline.stage), deadline.due_on, unit_name or ""
            )
            if _insert_once(
                session,
                case_id=case.id,
                deadline_id=deadline.id,
                unit_id=deadline.unit_id,
                kind=kind.value,
                due_on=deadline.due_on,
                at=now,
                message=notice,
            ):
                add_event(
                    session, case, "system:supervision", action, now, notice, Status(case.status)
                )
                issued.append(Issued(case.number, deadline.stage, kind, unit_name or ""))
    session.flush()
    return issued


@dataclass(frozen=True)
class Overdue:
    case: Case
    deadline: CaseDeadline
    unit: str
    card: Card
    days_late: int


def overdue(session: Session, rules: Rules, now: dt.datetime) -> list[Overdue]:
    """Running deadlines already past, worst first, for supervisors (of unfinished cases
    only: a merged case's 转办 clock, for one, is never stopped)."""
    today = rules.local_date(now)
    rows = session.execute(
        select(CaseDeadline, Case, Unit.name)
        .join(Case, Case.id == CaseDeadline.case_id)
        .outerjoin(Unit, Unit.id == CaseDeadline.unit_id)
        .where(
            CaseDeadline.met_at.is_(None),
            CaseDeadline.cancelled.is_(False),
            CaseDeadline.stage.in_([s.value for s in SUPERVISED]),
            CaseDeadline.due_on < today,
            Case.status.in_([s.value for s in UNFINISHED]),
        )
        .order_by(CaseDeadline.due_on)
    )
    return [
        Overdue(
            case,
            deadline,
            unit_name or "热线中心",
            rules.profile.card_on(rules.calendar, deadline.due_on, today),
            (today - deadline.due_on).days,
        )
        for deadline, case, unit_name in rows
    ]


def records(
    session: Session, case_id: str | None = None, unit_id: str | None = None, limit: int = 200
) -> list[SupervisionRecord]:
    query = select(SupervisionRecord).order_by(SupervisionRecord.at.desc()).limit(limit)
    if case_id:
        query = query.where(SupervisionRecord.case_id == case_id)
    if unit_id:
        query = query.where(SupervisionRecord.unit_id == unit_id)
    return list(session.scalars(query))


def manual_message(case_number: str, due: dt.date, unit: str, reason: str) -> str:
    when = f"{due.year}年{due.month}月{due.day}日"
    return f"【催办】案件{case_number}的办理时限为{when}，请{unit}抓紧办理。督办意见：{reason}"


def remind(
    session: Session, case: Case, reason: str, actor: str, now: dt.datetime
) -> SupervisionRecord:
    """催办 by a supervisor: a reminder to the unit handling the case, with the reason, on
    the unit's running handling clock; recorded among the supervision records (the unit
    sees it) and in the case's history. As often as the supervisor sees fit."""
    next_status(Action.REMIND, Status(case.status))
    if Status(case.status) not in AT_UNIT:
        raise Refused("only a case with a unit can be chased", "案件不在承办单位办理中，无需催办")
    reason = reason.strip()
    if not reason:
        raise Invalid({"reason": FieldError("请填写催办事由", "a reason is required")})
    deadline = stage_clocks.active(session, case.id, Stage.HANDLING)
    if deadline is None or deadline.met_at is not None or deadline.unit_id is None:
        raise Refused("no running handling deadline", "该案件没有进行中的办理时限")
    unit = session.get(Unit, deadline.unit_id)
    notice = manual_message(case.number, deadline.due_on, unit.name if unit else "", reason)
    record = SupervisionRecord(
        case_id=case.id,
        deadline_id=deadline.id,
        unit_id=deadline.unit_id,
        kind=Kind.REMINDER.value,
        due_on=deadline.due_on,
        at=now,
        message=notice,
        issued_by=actor,
        reason=reason,
    )
    session.add(record)
    add_event(session, case, actor, Action.REMIND, now, notice, Status(case.status))
    session.flush()
    return record
