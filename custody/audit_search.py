"""Searching the access log: the use case behind the auditors' page ``/audit`` and
``GET /api/audit``. Newest entry first; filters: the period, the person, their role, the
action, how it ended, the case (by its number, typed in any case or width) and words found
in the person's name, the reason given, the client's address or where it was shown (every
word must be in one of them; a case number finds that case's entries)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from accounts.models import ROLE_LABELS, Role
from custody import access, listening
from custody.models import RecordingAccess
from dispatch.cases.models import Case
from dispatch.search import terms
from dispatch.search.filters import MAX_RAW_QUERY, Period, Reader, paging, period
from dispatch.search.paging import Page, Paging
from dispatch.search.terms import Query

OUTCOMES = frozenset({access.ALLOWED, access.DENIED, listening.MISSING, listening.UNAVAILABLE})
# A role by its code (the JSON route) or its Chinese name (the page's list shows only those).
ROLES = {r.value: r.value for r in Role} | {label: r.value for r, label in ROLE_LABELS.items()}
ACTION = re.compile(r"[a-z_]{1,16}")


@dataclass(frozen=True)
class AuditFilters:
    query: Query = field(default_factory=Query)
    period: Period = field(default_factory=Period)
    actor: str = ""
    role: str = ""
    action: str = ""
    status: str = ""
    case_keys: tuple[str, ...] = ()  # the spellings of a case number


def audit_filters(params: Mapping[str, str], zone: ZoneInfo) -> tuple[AuditFilters, Paging]:
    """The filters of the access log (``q``, ``from``, ``to``, ``actor``, ``role``,
    ``action``, ``status``, ``case``) and its page; ``BadFilters`` if any is wrong."""
    reader = Reader(params)
    action = reader.text("action", 16)
    if action and not ACTION.fullmatch(action):
        reader.wrong("action", "an action name (play, download, transcript…)", "无此选项")
    case = reader.text("case")
    keys = terms.number_keys(case)
    if case and not keys:
        reader.wrong("case", "a case number", "请输入案件编号")
    found = AuditFilters(
        query=terms.parse(reader.text("q", MAX_RAW_QUERY)),
        period=period(reader, zone),
        actor=reader.text("actor", 128),
        role=ROLES.get(reader.choice("role", ROLES), ""),
        action=action,
        status=reader.choice("status", OUTCOMES),
        case_keys=keys,
    )
    pages = paging(reader, default_limit=100)
    reader.done()
    return found, pages


def _case_ids(session: Session, keys: tuple[str, ...]) -> list[str]:
    return list(session.scalars(select(Case.id).where(Case.number.in_(keys))))


def conditions(session: Session, filters: AuditFilters) -> list[ColumnElement[bool]] | None:
    """The filters as conditions on the log; None when they admit no entry."""
    found: list[ColumnElement[bool]] = []
    if filters.period.start:
        found.append(RecordingAccess.accessed_at >= filters.period.start)
    if filters.period.end:
        found.append(RecordingAccess.accessed_at < filters.period.end)
    if filters.actor:
        found.append(RecordingAccess.actor == filters.actor)
    if filters.role:
        found.append(RecordingAccess.role == filters.role)
    if filters.action:
        found.append(RecordingAccess.action == filters.action)
    if filters.status:
        found.append(RecordingAccess.outcome == filters.status)
    if filters.case_keys:
        ids = _case_ids(session, filters.case_keys)
        if not ids:
            return None
        found.append(RecordingAccess.case_id.in_(ids))
    query = filters.query
    if query:
        named = _case_ids(session, query.number_keys) if query.number_keys else []
        if named:
            found.append(RecordingAccess.case_id.in_(named))
        else:
            for term in query.terms:
                pattern = terms.like_pattern(term)
                found.append(
                    or_(
                        *(
                            column.like(pattern, escape="\\")
                            for column in (
                                RecordingAccess.actor,
                                RecordingAccess.reason,
                                RecordingAccess.client,
                                RecordingAccess.byte_range,
                                RecordingAccess.recording_id,
                            )
                        )
                    )
                )
    return found


def search(session: Session, filters: AuditFilters, paging: Paging) -> Page[RecordingAccess]:
    """One page of the log's entries the filters find, newest first."""
    where = conditions(session, filters)
    if where is None:
        return Page([], 0, paging)
    total = session.scalar(select(func.count()).select_from(RecordingAccess).where(*where)) or 0
    entries = session.scalars(
        select(RecordingAccess)
        .where(*where)
        .order_by(RecordingAccess.id.desc())
        .offset(paging.offset)
        .limit(paging.limit)
    )
    return Page(list(entries), total, paging)
