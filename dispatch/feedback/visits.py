"""Feedback to the citizen (回访) and their satisfaction (好差评), from an operator or the
automatic call-back. Dissatisfaction puts the case in front of a supervisor to reopen."""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.handling_models import Feedback
from dispatch.cases.lifecycle import Action, Status
from dispatch.cases.models import Case
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import Stage
from dispatch.feedback import callbacks
from dispatch.feedback.scale import DISSATISFIED, LEVEL_LABELS, Level
from dispatch.handling.steps import transition

log = logging.getLogger(__name__)


class Method(StrEnum):
    PHONE = "phone"
    IN_PERSON = "in_person"
    ONLINE = "online"
    AUTO_CALL = "auto_call"


METHOD_LABELS = {
    Method.PHONE: "电话回访",
    Method.IN_PERSON: "当面答复",
    Method.ONLINE: "网上答复",
    Method.AUTO_CALL: "自动语音回访",
}


def give_feedback(
    session: Session,
    case: Case,
    method: Method,
    told_at: dt.datetime,
    note: str,
    level: Level | None,
    actor: str,
    now: dt.datetime,
) -> Feedback:
    """The result was told to the citizen (how, when); with their satisfaction if they
    gave it. A satisfied citizen's case closes; without a level the automatic call-back
    asks later."""
    transition(
        session,
        case,
        Action.FEEDBACK,
        actor,
        now,
        f"{METHOD_LABELS[method]}（{note.strip()}）" if note.strip() else METHOD_LABELS[method],
    )
    stage_clocks.meet(session, case.id, Stage.FEEDBACK, now)
    row = Feedback(case_id=case.id, at=told_at, actor=actor, method=method.value, note=note.strip())
    session.add(row)
    if level is not None:
        row.satisfaction = level.value
        _apply_level(session, case, level, method, actor, now)
    elif case.complainant_phone:
        # The automatic call-back asks the citizen.
        try:
            callbacks.schedule(session, case.id, case.complainant_phone, case.number, now)
        except ValueError:
            log.warning(
                "case %s: no automatic call-back, the number cannot be dialled", case.number
            )
    session.flush()
    return row


def record_satisfaction(
    session: Session, case_id: str, level: Level, method: str, actor: str, at: dt.datetime
) -> None:
    """The citizen's answer on the five-level scale (e.g. the key pressed on the
    automatic call-back)."""
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    session.add(
        Feedback(
            case_id=case.id,
            at=at,
            actor=actor,
            method=method,
            satisfaction=level.value,
            note="满意度评价",
        )
    )
    _apply_level(session, case, level, Method(method), actor, at)


def _apply_level(
    session: Session, case: Case, level: Level, method: Method, actor: str, now: dt.datetime
) -> None:
    transition(
        session,
        case,
        Action.SATISFACTION,
        actor,
        now,
        f"{METHOD_LABELS[method]}：{LEVEL_LABELS[level]}",
    )
    case.satisfaction, case.satisfaction_at = level.value, now
    if level in DISSATISFIED:
        case.reopen_review = True
    elif case.status == Status.FEEDBACK_GIVEN:
        case.reopen_review = False
        transition(session, case, Action.CLOSE, actor, now, f"群众{LEVEL_LABELS[level]}，办结")


def history(session: Session, case_id: str) -> list[Feedback]:
    return list(
        session.scalars(select(Feedback).where(Feedback.case_id == case_id).order_by(Feedback.at))
    )


def awaiting_reopen(session: Session, limit: int = 100) -> list[Case]:
    """Cases whose citizen was dissatisfied: a supervisor decides to reopen or close. (An
    archived case is not waiting any more, though its flag stays.)"""
    waiting = [Status.FEEDBACK_GIVEN.value, Status.CLOSED.value]
    return list(
        session.scalars(
            select(Case)
            .where(Case.reopen_review, Case.status.in_(waiting))
            .order_by(Case.satisfaction_at.desc())
            .limit(limit)
        )
    )
