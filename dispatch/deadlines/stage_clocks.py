"""Each stage of a case runs its own clock (a ``CaseDeadline`` row): 转办 from acceptance,
the unit's handling from acceptance, the unit's right to return it from dispatch, and the
feedback to the citizen from the unit's reply. Dates are local China dates."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.handling_models import CaseDeadline
from dispatch.deadlines.policy import Profile
from dispatch.deadlines.working_calendar import Deadline, WorkingCalendar

log = logging.getLogger(__name__)


class Stage(StrEnum):
    DISPATCH = "dispatch"  # 转办: the centre sends it on
    RETURN = "return"  # 退回: how long the unit may send it back
    HANDLING = "handling"  # 办理: the unit's deadline
    FEEDBACK = "feedback"  # 回访: the centre tells the citizen


STAGE_LABELS = {
    Stage.DISPATCH: "转办时限",
    Stage.RETURN: "退回时限",
    Stage.HANDLING: "办理时限",
    Stage.FEEDBACK: "回访时限",
}

# The stages supervision chases (the return window is a limit, not a duty).
SUPERVISED = frozenset({Stage.DISPATCH, Stage.HANDLING, Stage.FEEDBACK})


@dataclass(frozen=True)
class Rules:
    """What deadlines are computed with: the calendar, the policy profile, the local zone."""

    calendar: WorkingCalendar
    profile: Profile
    zone: ZoneInfo

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()


def active(session: Session, case_id: str, stage: Stage) -> CaseDeadline | None:
    return session.scalar(
        select(CaseDeadline)
        .where(
            CaseDeadline.case_id == case_id,
            CaseDeadline.stage == stage.value,
            CaseDeadline.cancelled.is_(False),
        )
        .order_by(CaseDeadline.id.desc())
        .limit(1)
    )


def all_deadlines(session: Session, case_id: str) -> list[CaseDeadline]:
    return list(
        session.scalars(
            select(CaseDeadline).where(CaseDeadline.case_id == case_id).order_by(CaseDeadline.id)
        )
    )


def start(
    session: Session,
    case_id: str,
    stage: Stage,
    started_on: dt.date,
    due: Deadline | None,
    unit_id: str | None = None,
) -> CaseDeadline | None:
    """Start a stage's clock (replacing any running one for the stage). ``None`` when the
    profile sets no limit for the stage."""
    cancel(session, case_id, stage)
    if due is None:
        return None
    if due.provisional:
        log.warning(
            "provisional %s deadline %s for case %s: no official holiday schedule for %s",
            stage,
            due.date,
            case_id,
            ", ".join(map(str, due.unknown_years)),
        )
    row = CaseDeadline(
        case_id=case_id,
        stage=stage.value,
        unit_id=unit_id,
        started_on=started_on,
        due_on=due.date,
        provisional=due.provisional,
    )
    session.add(row)
    session.flush()
    return row


def meet(session: Session, case_id: str, stage: Stage, now: dt.datetime) -> None:
    row = active(session, case_id, stage)
    if row is not None and row.met_at is None:
        row.met_at = now


def reopen(session: Session, case_id: str, stage: Stage) -> None:
    """The stage's duty is back (a reply returned by the review): its clock runs on."""
    row = active(session, case_id, stage)
    if row is not None:
        row.met_at = None


def cancel(session: Session, case_id: str, stage: Stage | None = None) -> None:
    """Stop a stage's clock (or every clock) that no longer applies."""
    query = select(CaseDeadline).where(
        CaseDeadline.case_id == case_id,
        CaseDeadline.cancelled.is_(False),
        CaseDeadline.met_at.is_(None),
    )
    if stage is not None:
        query = query.where(CaseDeadline.stage == stage.value)
    for row in session.scalars(query):
        row.cancelled = True


def on_accepted(session: Session, case_id: str, rules: Rules, now: dt.datetime) -> None:
    today = rules.local_date(now)
    start(
        session, case_id, Stage.DISPATCH, today, rules.profile.dispatch_due(rules.calendar, today)
    )


def on_dispatched(
    session: Session,
    case_id: str,
    lead_unit_id: str,
    accepted_on: dt.date,
    complex_case: bool,
    rules: Rules,
    now: dt.datetime,
) -> None:
    today = rules.local_date(now)
    meet(session, case_id, Stage.DISPATCH, now)
    start(
        session,
        case_id,
        Stage.RETURN,
        today,
        rules.profile.return_allowed_until(rules.calendar, today),
        lead_unit_id,
    )
    handling = active(session, case_id, Stage.HANDLING)
    if handling is None or handling.met_at is not None or handling.unit_id != lead_unit_id:
        start(
            session,
            case_id,
            Stage.HANDLING,
            accepted_on,
            rules.profile.handling_due(rules.calendar, accepted_on, complex_case),
            lead_unit_id,
        )


def on_replied(session: Session, case_id: str, rules: Rules, now: dt.datetime) -> None:
    today = rules.local_date(now)
    meet(session, case_id, Stage.HANDLING, now)
    cancel(session, case_id, Stage.RETURN)
    start(
        session, case_id, Stage.FEEDBACK, today, rules.profile.feedback_due(rules.calendar, today)
    )
