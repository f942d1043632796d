"""The case's history: each step a case takes is one event row (who, when, what, why, from
which status to which), added to the caller's session."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from dispatch.cases.lifecycle import Action, Status
from dispatch.cases.models import Case, CaseEvent


def add_event(
    session: Session,
    case: Case,
    actor: str,
    action: Action,
    now: dt.datetime,
    note: str = "",
    from_status: Status | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id,
        at=now,
        actor=actor,
        action=action.value,
        from_status=from_status.value if from_status else "",
        to_status=case.status,
        note=note,
    )
    session.add(event)
    return event
