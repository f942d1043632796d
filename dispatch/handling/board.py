"""The supervisor's board (督办总览): what waits for a supervisor, read in one place: running
deadlines already past, the latest supervision notices, the cases waiting at each of the
supervisor's steps, and the extensions asked for and not yet decided, each with its case.
(The dissatisfied citizens waiting for a reopening are the feedback stage's to list.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.handling_models import Extension, SupervisionRecord
from dispatch.cases.lifecycle import Status
from dispatch.cases.models import Case
from dispatch.deadlines.stage_clocks import Rules
from dispatch.handling import supervision

RECENT_RECORDS = 50
PENDING = "pending"


@dataclass(frozen=True)
class PendingExtension:
    extension: Extension
    case: Case


@dataclass(frozen=True)
class Board:
    overdue: list[supervision.Overdue]  # worst first
    records: list[SupervisionRecord]  # newest first
    approvals: list[Case]  # waiting for a leader's approval
    to_dispatch: list[Case]  # accepted or approved, not yet dispatched
    to_review: list[Case]  # replied by the unit, to be reviewed
    to_feedback: list[Case]  # reviewed, the complainant to be told
    extensions: list[PendingExtension]


def with_status(session: Session, *statuses: Status) -> list[Case]:
    """Cases in any of these statuses, oldest registration first."""
    return list(
        session.scalars(
            select(Case)
            .where(Case.status.in_([s.value for s in statuses]))
            .order_by(Case.registered_at)
        )
    )


def pending_extensions(session: Session) -> list[PendingExtension]:
    """Extensions not yet decided, with their case, oldest request first."""
    rows = session.execute(
        select(Extension, Case)
        .join(Case, Case.id == Extension.case_id)
        .where(Extension.status == PENDING)
        .order_by(Extension.requested_at)
    )
    return [PendingExtension(extension, case) for extension, case in rows]


def board(session: Session, rules: Rules, now: dt.datetime) -> Board:
    return Board(
        overdue=supervision.overdue(session, rules, now),
        records=supervision.records(session, limit=RECENT_RECORDS),
        approvals=with_status(session, Status.PENDING_APPROVAL),
        to_dispatch=with_status(session, Status.ACCEPTED, Status.APPROVED),
        to_review=with_status(session, Status.REPLIED),
        to_feedback=with_status(session, Status.REVIEWED),
        extensions=pending_extensions(session),
    )
