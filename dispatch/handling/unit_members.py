"""Putting a unit handler's account in a unit, as the units page and the JSON API both do
it: the unit named in the address must exist (else it is not found); the user named in the
form must exist (else it is a field error)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from core.ids import is_id
from dispatch.cases.handling_models import Unit
from dispatch.cases.registration import FieldError, Invalid
from dispatch.intake.case_store import NotFound
from dispatch.routing import units


class UnitNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("unit not found")


def unit(session: Session, unit_id: str) -> Unit:
    """The unit with id ``unit_id``, active or not."""
    found = session.get(Unit, unit_id) if is_id(unit_id) else None
    if found is None:
        raise UnitNotFound
    return found


def add_member(session: Session, unit_id: str, username: str) -> None:
    chosen = unit(session, unit_id)
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise Invalid({"username": FieldError("没有该用户", "no such user")})
    units.add_member(session, user, chosen)
