"""Searching cases: the use case behind the case list page and ``GET /api/cases``.

The centre (operators, supervisors) searches every case. A unit's handler searches only the
cases their unit holds an active assignment for, and only what the unit may read of them
(``dispatch.handling.disclosure``): a case is found by a word of its text only if that word
is in the text the unit sees, and by a phone number only where the complainant's identity
is shown to the unit; what comes back is the masked title and text.

A query that is a case number finds that case, however it was typed. Otherwise every term
must occur in the case's text (``CASE_FIELDS``, as migration 0011's triggers index them),
ranked; a whole phone number also finds the cases of that complainant. Filters narrow
either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, UnaryExpression, and_, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from accounts.models import Role, User
from dispatch.cases.handling_models import Assignment, CaseDeadline, CatalogueEntry, Unit
from dispatch.cases.lifecycle import UNFINISHED
from dispatch.cases.models import Case
from dispatch.deadlines.stage_clocks import SUPERVISED, Stage
from dispatch.handling import disclosure, unit_portal
from dispatch.search import terms as search_terms
from dispatch.search import text_index
from dispatch.search.filters import CaseFilters
from dispatch.search.paging import Page, Paging, of_slice

# A case's text as the search index holds it (migration 0011 writes the same list into its
# triggers; tests/integration/test_search_cases.py checks that each is found).
CASE_FIELDS = (
    "number",
    "title",
    "content",
    "request",
    "complainant_name",
    "complainant_phone",
    "complainant_address",
    "complainant_org",
    "subject_unit",
    "subject_window",
    "subject_person",
)
# A unit's search reads at most this many candidates to check them against what it may see.
UNIT_CANDIDATES = 2000
# A filtered search counts its cases up to this many (more: "over 1000"; narrow it).
COUNT_LIMIT = 1000
PHONE_MATCH = 1000.0  # a complainant's own number before any word in a text
UNFINISHED_VALUES = [s.value for s in UNFINISHED]
Ranked = Select[str, Any]  # (case id, score)
Column = ColumnElement[Any] | InstrumentedAttribute[Any]


@dataclass(frozen=True)
class CaseHit:
    """A case found, as the viewer may read it: its title, its text (the excerpt is cut
    from it) and the complainant's phone ("" where withheld), the units handling it (lead
    first), the running deadline due first, and whether one is past."""

    case: Case
    title: str
    text: str
    phone: str
    units: tuple[str, ...]
    due_on: dt.date | None
    overdue: bool


@dataclass(frozen=True)
class Listing:
    """The columns a case list filters and orders on: of ``cases`` itself, or their copies
    in the case's search row (migration 0011), so that a search by words and filters reads
    the search table alone."""

    id: Column
    registered_at: Column
    status: Column
    channel: Column
    case_type: Column
    category: Column
    registered_by: Column
    complainant_phone: Column

    @classmethod
    def of(cls, source: Any, key: str) -> Listing:
        return cls(
            getattr(source, key),
            source.registered_at,
            source.status,
            source.channel,
            source.case_type,
            source.category,
            source.registered_by,
            source.complainant_phone,
        )


CASES = Listing.of(Case, "id")


def _has_assignment(cases: Listing, unit_id: str) -> ColumnElement[bool]:
    return cases.id.in_(
        select(Assignment.case_id).where(Assignment.unit_id == unit_id, Assignment.active)
    )


def _stages(unit_id: str | None) -> list[str]:
    """The clocks that count: a unit's own handling clock, or every supervised one."""
    return [Stage.HANDLING.value] if unit_id else [s.value for s in SUPERVISED]


def _overdue(cases: Listing, today: dt.date, unit_id: str | None) -> ColumnElement[bool]:
    return and_(
        cases.status.in_(UNFINISHED_VALUES),
        cases.id.in_(
            select(CaseDeadline.case_id).where(
                CaseDeadline.met_at.is_(None),
                CaseDeadline.cancelled.is_(False),
                CaseDeadline.stage.in_(_stages(unit_id)),
                CaseDeadline.due_on < today,
                *([CaseDeadline.unit_id == unit_id] if unit_id else []),
            )
        ),
    )


def conditions(
    filters: CaseFilters, today: dt.date, unit_id: str | None, cases: Listing = CASES
) -> list[ColumnElement[bool]]:
    """The filters (and the unit's scope) as conditions on ``cases``' columns."""
    found: list[ColumnElement[bool]] = []
    if unit_id:
        found.append(_has_assignment(cases, unit_id))
    if filters.period.start:
        found.append(cases.registered_at >= filters.period.start)
    if filters.period.end:
        found.append(cases.registered_at < filters.period.end)
    if filters.statuses:
        found.append(cases.status.in_(sorted(filters.statuses)))
    if filters.unit_id:
        found.append(_has_assignment(cases, filters.unit_id))
    if filters.category:
        found.append(cases.category == filters.category)
    if filters.case_type:
        found.append(cases.case_type == filters.case_type)
    if filters.channel:
        found.append(cases.channel == filters.channel)
    if filters.phone_forms:
        found.append(cases.complainant_phone.in_(sorted(filters.phone_forms)))
    if filters.operator:
        found.append(cases.registered_by == filters.operator)
    if filters.overdue:
        found.append(_overdue(cases, today, unit_id))
    return found


@dataclass(frozen=True)
class Found:
    """The query of (case id, score) the filters and the search box admit, and how to
    order it: by ``score`` where ``ranked``, else newest first (``newest``: the text
    index's own order, cheaper than the time); ``registered_at``: the time's column in
    the query. ``count``: how many, where known."""

    query: Ranked
    registered_at: Column
    ranked: bool = False
    newest: UnaryExpression[Any] | None = None
    count: int | None = None


def found_by(
    session: Session, filters: CaseFilters, today: dt.date, unit_id: str | None
) -> Found | None:
    """The cases the filters and the query's text admit; None when nothing can match. A
    whole phone number finds the complainant's own cases too, first. Words are matched in
    the search table, filtered on its copies of the case's listing fields."""
    query = filters.query
    where = conditions(filters, today, unit_id)
    if not query:
        return Found(select(Case.id, literal(0.0).label("score")).where(*where), Case.registered_at)
    alone = not where and not query.phone_forms  # then the index's count is the total
    text = text_index.matches(session, text_index.CASES, query.terms, counted=alone)
    by_phone = (
        select(Case.id, literal(PHONE_MATCH).label("score")).where(
            Case.complainant_phone.in_(sorted(query.phone_forms)), *where
        )
        if query.phone_forms
        else None
    )
    if text is None:
        return None if by_phone is None else Found(by_phone, Case.registered_at)
    docs = Listing.of(text.docs.c, text_index.CASES.key)
    by_text = (
        select(docs.id.label("id"), text.score.label("score"))
        .select_from(text.source)
        .where(*text.where, *conditions(filters, today, unit_id, docs))
    )
    if by_phone is None:
        return Found(
            by_text,
            docs.registered_at,
            text.ranked,
            text.newest,
            None if where else text.count,
        )
    either = by_text.union_all(by_phone).subquery("either")
    grouped = (
        select(Case.id, func.max(either.c.score).label("score"))
        .join(either, either.c.id == Case.id)
        .group_by(Case.id)
    )
    return Found(grouped, Case.registered_at, ranked=True)


def _ordered(found: Found, filters: CaseFilters) -> Ranked:
    query, registered_at = found.query, found.registered_at
    key = query.selected_columns.id
    if filters.sort == "oldest":
        return query.order_by(registered_at, key)
    if found.ranked and filters.query and filters.sort in ("", "relevance"):
        return query.order_by(query.selected_columns.score.desc(), registered_at.desc())
    if found.newest is not None:
        return query.order_by(found.newest)
    return query.order_by(registered_at.desc(), key.desc())


def count(session: Session, found: Found) -> tuple[int, bool]:
    """How many cases (and whether exactly): counting stops after ``COUNT_LIMIT``."""
    if found.count is not None:
        return found.count, True
    capped = found.query.limit(COUNT_LIMIT + 1).subquery()
    counted = session.scalar(select(func.count()).select_from(capped)) or 0
    return counted, counted <= COUNT_LIMIT


def by_number(
    session: Session, filters: CaseFilters, where: list[ColumnElement[bool]]
) -> list[str]:
    """The case the query names by its number (typed in any case, spacing or width)."""
    keys = filters.query.number_keys
    if not keys:
        return []
    return list(session.scalars(select(Case.id).where(Case.number.in_(keys), *where).limit(1)))


def search(
    session: Session,
    filters: CaseFilters,
    paging: Paging,
    today: dt.date,
    unit_id: str | None = None,
) -> Page[CaseHit]:
    """One page of the cases the filters find, as the viewer may read them: every case
    for the centre (``unit_id`` None), a unit's own cases for its handler."""
    named = by_number(session, filters, conditions(filters, today, unit_id))
    if named:
        return Page(_hits(session, named, today, unit_id), 1, paging)
    found = found_by(session, filters, today, unit_id)
    if found is None:
        return Page([], 0, paging)
    if unit_id and (filters.query or filters.phone_forms):
        return _unit_page(session, _ordered(found, filters), filters, paging, today, unit_id)
    ids = list(session.scalars(_ordered(found, filters).offset(paging.offset).limit(paging.limit)))
    total, exact = count(session, found)
    return Page(_hits(session, ids, today, unit_id), total, paging, exact)


def unit_text(case: Case, unit_id: str) -> tuple[str, str, str, str]:
    """What a unit may read of a case: (title, text, phone, everything it may search)."""
    shown = disclosure.for_unit(unit_portal.parties(case), unit_id)

    def safe(value: str) -> str:
        return unit_portal.visible(case, shown, value)

    identity = (
        (
            case.complainant_name,
            case.complainant_phone,
            case.complainant_address,
            case.complainant_org,
        )
        if shown.identity
        else ()
    )
    title, content, request = safe(case.title), safe(case.content), safe(case.request)
    searchable = "\n".join(
        (
            case.number,
            title,
            content,
            request,
            *identity,
            case.subject_unit,
            case.subject_window,
            case.subject_person,
        )
    )
    return title, content, case.complainant_phone if shown.identity else "", searchable


def _readable_match(case: Case, unit_id: str, filters: CaseFilters) -> bool:
    """Does the case match on what the unit may read of it?"""
    _title, _text, phone, searchable = unit_text(case, unit_id)
    lowered = searchable.lower()
    query = filters.query
    words = all(any(v in lowered for v in search_terms.variants(term)) for term in query.terms)
    if query.phone_forms and not words:
        words = phone in query.phone_forms
    return words and (not filters.phone_forms or phone in filters.phone_forms)


def _unit_page(
    session: Session,
    ranked: Ranked,
    filters: CaseFilters,
    paging: Paging,
    today: dt.date,
    unit_id: str,
) -> Page[CaseHit]:
    ids = list(session.scalars(ranked.limit(UNIT_CANDIDATES)))
    cases = _cases(session, ids)
    kept = [i for i in ids if _readable_match(cases[i], unit_id, filters)]
    page = of_slice(kept, paging)
    return Page(_hits(session, list(page.items), today, unit_id), page.total, paging)


def _cases(session: Session, ids: Sequence[str]) -> dict[str, Case]:
    found: dict[str, Case] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update((c.id, c) for c in session.scalars(select(Case).where(Case.id.in_(chunk))))
    return found


def _hits(
    session: Session, ids: Sequence[str], today: dt.date, unit_id: str | None
) -> list[CaseHit]:
    """The page's cases, in order, with their units and deadlines (three queries)."""
    if not ids:
        return []
    cases = _cases(session, ids)
    units: dict[str, list[str]] = {}
    for case_id, name in session.execute(
        select(Assignment.case_id, Unit.name)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.case_id.in_(ids), Assignment.active)
        .order_by(Assignment.role.desc(), Unit.name)  # lead before assist
    ):
        units.setdefault(case_id, []).append(name)
    due: dict[str, dt.date] = dict(
        session.execute(
            select(CaseDeadline.case_id, func.min(CaseDeadline.due_on))
            .where(
                CaseDeadline.case_id.in_(ids),
                CaseDeadline.met_at.is_(None),
                CaseDeadline.cancelled.is_(False),
                CaseDeadline.stage.in_(_stages(unit_id)),
                *([CaseDeadline.unit_id == unit_id] if unit_id else []),
            )
            .group_by(CaseDeadline.case_id)
        ).all()
    )
    hits = []
    for case_id in ids:
        case = cases[case_id]
        if unit_id:
            title, text, phone, _ = unit_text(case, unit_id)
        else:
            title, text, phone = case.title, case.content, case.complainant_phone
        due_on = due.get(case_id)
        hits.append(
            CaseHit(
                case,
                title,
                text,
                phone,
                tuple(units.get(case_id, ())),
                due_on,
                due_on is not None and due_on < today and case.status in UNFINISHED_VALUES,
            )
        )
    return hits


@dataclass(frozen=True)
class Choices:
    """What the case list's filters offer: the units, the catalogue's categories, and the
    people who register cases (by user name, with their display names)."""

    units: list[Unit]
    categories: list[str]
    registrars: list[tuple[str, str]]


def choices(session: Session) -> Choices:
    return Choices(
        list(session.scalars(select(Unit).order_by(Unit.active.desc(), Unit.name))),
        list(session.scalars(select(CatalogueEntry.category).order_by(CatalogueEntry.category))),
        [
            (user.username, user.display_name)
            for user in session.scalars(
                select(User)
                .where(User.role.in_([Role.OPERATOR.value, Role.SUPERVISOR.value]))
                .order_by(User.username)
            )
        ],
    )
