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

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.cases.events import add_event
from dispatch.cases.handling_models import CaseDeadline, SupervisionRecord, Unit
from dispatch.cases.lifecycle import TRANSITIONS, UNFINISHED, Action, Status
from dispatch.cases.models import Case
from dispatch.deadlines.policy import Card, Profile
from dispatch.deadlines.stage_clocks import STAGE_LABELS, SUPERVISED, Rules, Stage
from dispatch.deadlines.working_calendar import WorkingCalendar


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
    due: dt.date, today: dt.date, profile: Profile, calendar: WorkingCalendar
) -> list[Kind]:
    """The notices a deadline ``due`` still running on ``today`` calls for. A reminder only
    makes sense before the breach; after downtime the cards are all caught up at once."""
    card = profile.card_on(calendar, due, today)
    if card is Card.RED:
        return [Kind.YELLOW, Kind.RED]
    if card is Card.YELLOW:
        return [Kind.YELLOW]
    reminder = profile.reminder_on(calendar, due)
    return [Kind.REMINDER] if reminder is not None and today >= reminder.date else []


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
        .on_conflict_do_nothing(
            index_elements=["deadline_id", "kind"], index_where=SupervisionRecord.issued_by == ""
        )
        .returning(SupervisionRecord.id)
    )
    return inserted is not None


def run(session: Session, rules: Rules, now: dt.datetime) -> list[Issued]:
    """Issue every notice due now that was not issued before. Returns what was issued."""
    today = rules.local_date(now)
    issued: list[Issued] = []
    rows = session.execute(
        select(CaseDeadline, Case, Unit.name)
        .join(Case, Case.id == CaseDeadline.case_id)
        .outerjoin(Unit, Unit.id == CaseDeadline.unit_id)
        .where(
            CaseDeadline.met_at.is_(None),
            CaseDeadline.cancelled.is_(False),
            CaseDeadline.stage.in_([s.value for s in SUPERVISED]),
        )
        .order_by(CaseDeadline.due_on, CaseDeadline.id)
    )
    for deadline, case, unit_name in rows:
        for kind in notices_due(deadline.due_on, today, rules.profile, rules.calendar):
            action = KIND_ACTIONS[kind]
            if (action, Status(case.status)) not in TRANSITIONS:
                continue
            text = message(
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
                message=text,
            ):
                add_event(
                    session, case, "system:supervision", action, now, text, Status(case.status)
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
