"""Legal holds (法律保全) on a case's recordings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ids import is_id, new_id
from custody.errors import NotFound, ReplayRefused
from custody.models import LegalHold
from dispatch.cases.models import Case


def place(session: Session, case: Case, reason: str, actor: str, now: dt.datetime) -> LegalHold:
    reason = " ".join(reason.split())
    if not reason:
        raise ReplayRefused("请填写保全理由", "a reason is required")
    hold = LegalHold(
        id=new_id(), case_id=case.id, reason=reason[:500], placed_by=actor, placed_at=now
    )
    session.add(hold)
    session.flush()
    return hold


def release(
    session: Session, case: Case, hold_id: str, reason: str, actor: str, now: dt.datetime
) -> LegalHold:
    hold = session.get(LegalHold, hold_id) if is_id(hold_id) else None
    if hold is None or hold.case_id != case.id:
        raise NotFound("保全记录不存在", "no such hold")
    if hold.released_at is not None:
        raise ReplayRefused("该保全已解除", "the hold was already released")
    reason = " ".join(reason.split())
    if not reason:
        raise ReplayRefused("请填写解除理由", "a reason is required")
    hold.released_at, hold.released_by, hold.release_reason = now, actor, reason[:500]
    return hold


def of_case(session: Session, case_id: str) -> list[LegalHold]:
    return list(
        session.scalars(
            select(LegalHold)
            .where(LegalHold.case_id == case_id)
            .order_by(LegalHold.placed_at.desc())
        )
    )


def active_case_ids(session: Session) -> set[str]:
    return set(session.scalars(select(LegalHold.case_id).where(LegalHold.released_at.is_(None))))
