"""Units, their handlers and the dispatch catalogue (category → responsible unit)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role, User
from dispatch.cases.handling_models import CatalogueEntry, Unit, UnitMember
from dispatch.cases.registration import FieldError, Invalid


class UnitKind(StrEnum):
    CENTRE = "centre"  # the hotline centre itself: 自办
    DEPARTMENT = "department"
    WINDOW = "window"
    OFFICE = "office"


UNIT_KIND_LABELS = {
    UnitKind.CENTRE: "热线中心（自办）",
    UnitKind.DEPARTMENT: "职能部门",
    UnitKind.WINDOW: "服务窗口",
    UnitKind.OFFICE: "街镇/办事处",
}


def create_unit(session: Session, name: str, kind: str, now: dt.datetime) -> Unit:
    name = name.strip()
    if not name or len(name) > 128:
        raise Invalid(
            {
                "name": FieldError(
                    "请填写单位名称（不超过128字）", "a unit name of 1-128 characters is required"
                )
            }
        )
    if kind not in UnitKind.__members__.values():
        raise Invalid({"kind": FieldError("单位类型不正确", f"unknown unit kind {kind!r}")})
    if session.scalar(select(Unit.id).where(Unit.name == name)) is not None:
        raise Invalid({"name": FieldError("已有同名单位", f"a unit named {name} exists")})
    unit = Unit(name=name, kind=kind, created_at=now)
    session.add(unit)
    session.flush()
    return unit


def list_units(session: Session, active_only: bool = True) -> list[Unit]:
    query = select(Unit).order_by(Unit.kind, Unit.name)
    if active_only:
        query = query.where(Unit.active)
    return list(session.scalars(query))


def active_unit(session: Session, unit_id: str, field: str = "unit_id") -> Unit:
    unit = session.get(Unit, unit_id) if unit_id else None
    if unit is None or not unit.active:
        raise Invalid({field: FieldError("所选单位不存在或已停用", "no such active unit")})
    return unit


def add_member(session: Session, user: User, unit: Unit) -> None:
    """Make ``user`` (a unit handler) a member of ``unit``, moving them if needed."""
    if user.role != Role.UNIT_HANDLER:
        raise Invalid(
            {
                "user": FieldError(
                    "只有承办单位账号可以加入单位", "only unit handlers belong to units"
                )
            }
        )
    member = session.get(UnitMember, user.id)
    if member is None:
        session.add(UnitMember(user_id=user.id, unit_id=unit.id))
    else:
        member.unit_id = unit.id


def unit_of_user(session: Session, user_id: str) -> Unit | None:
    member = session.get(UnitMember, user_id)
    return session.get(Unit, member.unit_id) if member else None


def members(session: Session, unit_id: str) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UnitMember, UnitMember.user_id == User.id)
            .where(UnitMember.unit_id == unit_id)
            .order_by(User.username)
        )
    )


def catalogue(session: Session) -> list[CatalogueEntry]:
    return list(session.scalars(select(CatalogueEntry).order_by(CatalogueEntry.category)))


def unit_for_category(session: Session, category: str) -> Unit | None:
    entry = session.get(CatalogueEntry, category)
    return entry.unit if entry and entry.unit.active else None


def set_catalogue(
    session: Session, category: str, unit: Unit, actor: str, now: dt.datetime
) -> CatalogueEntry:
    category = category.strip()
    if not category or len(category) > 64:
        raise Invalid({"category": FieldError("请填写类别", "a category is required")})
    entry = session.get(CatalogueEntry, category)
    if entry is None:
        entry = CatalogueEntry(category=category, unit_id=unit.id, updated_by=actor, updated_at=now)
        session.add(entry)
    else:
        entry.unit_id, entry.updated_by, entry.updated_at = unit.id, actor, now
    session.flush()
    session.refresh(entry)
    return entry


def remove_catalogue(session: Session, category: str) -> bool:
    entry = session.get(CatalogueEntry, category)
    if entry is None:
        return False
    session.delete(entry)
    return True


def named_in(session: Session, *texts: str) -> Unit | None:
    """The unit whose name appears in the subject the citizen complained about (被投诉单位),
    longest name first, so "市住建局" wins over "住建局"."""
    haystack = " ".join(t for t in texts if t)
    if not haystack.strip():
        return None
    for unit in sorted(list_units(session), key=lambda u: len(u.name), reverse=True):
        if unit.name in haystack or (len(haystack.strip()) >= 2 and haystack.strip() in unit.name):
            return unit
    return None
