"""Finding the case a request names, by id or by number; locked when a step will change it."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.ids import is_case_number, is_id
from dispatch.cases.models import Case
from dispatch.intake.case_store import NotFound


class CaseNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("case not found")


def find(session: Session, key: str, lock: bool = False) -> Case:
    """The case with id or number ``key``. With ``lock`` its row stays locked until the
    transaction ends (PostgreSQL), so two steps on one case run one after the other."""
    if is_id(key):
        case = _one(session, Case.id == key, lock)
        if case is not None:
            return case
    case = _one(session, Case.number == key, lock) if is_case_number(key) else None
    if case is None:
        raise CaseNotFound
    return case


def _one(session: Session, where: ColumnElement[bool], lock: bool) -> Case | None:
    query = select(Case).where(where)
    return session.scalar(query.with_for_update() if lock else query)
