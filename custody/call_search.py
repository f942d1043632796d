"""Searching calls: the use case behind the call list page and ``GET /api/calls``.

Words are looked for in the calls' transcripts, ranked, but only in the transcripts the
searcher may read: the transcript rule of ``custody.replay_rules`` (an operator the calls
they handled within their replay window, supervisors and investigators the calls of a case
they gave a reason for that is still in force, no other role) is applied here as a
condition of the query, so a search never tells anyone what a transcript they may not read
says. Digits (a whole or partial number) also find the calls from that number.

Filters: the period the call started in, its outcome (``up`` for a call not yet over), the
caller's number (every stored form of it) and the operator (a user, by the phone they
answered on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased

from accounts.models import Role, User
from asr.models import TranscriptRecord
from custody.models import ReplayReason
from custody.replay_rules import INVESTIGATORS
from custody.requester import Requester
from dispatch.cases.models import Case
from dispatch.search import terms, text_index
from dispatch.search.filters import MAX_RAW_QUERY, Period, Reader, paging, period
from dispatch.search.paging import Page, Paging
from dispatch.search.terms import Query
from ivr.call_state import Outcome
from ivr.models import Call
from recordings.models import Recording

UP = "up"  # a call still going on: no outcome yet
STATUSES = frozenset({o.value for o in Outcome} | {UP})
NUMBER_DIGITS = 3  # digits from this many on also search the caller's number
# At most this many readable transcripts: looked through rather than looked up in the index.
SCAN_LIMIT = 3000
COUNT_LIMIT = 1000  # a search counts its calls up to this many
Ranked = Select[str, Any]  # (call id, score)


@dataclass(frozen=True)
class CallFilters:
    query: Query = field(default_factory=Query)
    period: Period = field(default_factory=Period)
    statuses: frozenset[str] = frozenset()
    phone_forms: frozenset[str] = frozenset()
    operator: str = ""  # a user name
    sort: str = ""


def call_filters(params: Mapping[str, str], zone: ZoneInfo) -> tuple[CallFilters, Paging]:
    """The filters of a call list (``q``, ``from``, ``to``, ``status``, ``phone``,
    ``operator``, ``sort``) and its page; ``BadFilters`` if any is wrong."""
    reader = Reader(params)
    status = reader.choice("status", STATUSES)
    found = CallFilters(
        query=terms.parse(reader.text("q", MAX_RAW_QUERY)),
        period=period(reader, zone),
        statuses=frozenset({status}) if status else frozenset(),
        phone_forms=reader.phone("phone"),
        operator=reader.text("operator"),
        sort=reader.choice("sort", ("", "relevance", "newest", "oldest")),
    )
    pages = paging(reader)
    reader.done()
    return found, pages


def readable(who: Requester, now: dt.datetime, operator_days: int) -> ColumnElement[bool]:
    """Whether ``who`` may read the transcript of the ``Call`` (joined to its ``Recording``)
    now: ``custody.replay_rules.decide`` for transcripts, as a condition."""
    if who.role is Role.OPERATOR:
        handled = (
            or_(Call.operator.is_(None), Call.operator == who.phone)
            if who.phone
            else Call.operator.is_(None)
        )
        return handled & (Call.started_at >= now - dt.timedelta(days=operator_days))
    if who.role in INVESTIGATORS:
        # The calls of the cases with a reason of theirs in force: registered from the call,
        # or linked to its recording (one set, so that it can lead the query).
        reasoned = select(ReplayReason.case_id).where(
            ReplayReason.user_id == who.user_id, ReplayReason.expires_at > now
        )
        case, linked = aliased(Case), aliased(Recording)
        calls_of_cases: CompoundSelect[str] = union(
            select(case.call_id).where(case.id.in_(reasoned), case.call_id.is_not(None)),
            select(linked.call_id)
            .join(case, case.recording_id == linked.id)
            .where(case.id.in_(reasoned)),
        )
        return Call.id.in_(calls_of_cases)
    return false()


def conditions(session: Session, filters: CallFilters) -> list[ColumnElement[bool]] | None:
    """The filters as conditions on ``Call``; None when they admit no call (an operator
    without a phone)."""
    # Issue 18, H7: a caller passed on to another node is one call, its first node's row;
    # the other node's row for it (an overflow leg) is shown on that call's page.
    found: list[ColumnElement[bool]] = [Call.overflow_of.is_(None)]
    if filters.period.start:
        found.append(Call.started_at >= filters.period.start)
    if filters.period.end:
        found.append(Call.started_at < filters.period.end)
    if filters.statuses:
        outcomes = sorted(filters.statuses - {UP})
        either = [Call.outcome.in_(outcomes)] if outcomes else []
        if UP in filters.statuses:
            either.append(Call.outcome.is_(None))
        found.append(or_(*either))
    if filters.phone_forms:
        found.append(Call.caller_number.in_(sorted(filters.phone_forms)))
    if filters.operator:
        phone = session.scalar(select(User.phone).where(User.username == filters.operator))
        if not phone:
            return None
        found.append(Call.operator == phone)
    return found


def _number_match(query: Query) -> ColumnElement[bool] | None:
    """Digits typed (a whole or partial number) also find the calls from that number."""
    if query.phone_forms:
        return Call.caller_number.in_(sorted(query.phone_forms))
    digits = query.text.replace(" ", "").replace("-", "").lstrip("+")
    if len(digits) >= NUMBER_DIGITS and digits.isdigit():
        return Call.caller_number.like(terms.like_pattern(digits), escape="\\")
    return None


def _readable_transcripts(
    session: Session,
    where: list[ColumnElement[bool]],
    who: Requester,
    now: dt.datetime,
    operator_days: int,
) -> int:
    """How many transcripts the person may read among the filtered calls (up to
    ``SCAN_LIMIT`` + 1): an operator's are a week's calls, a supervisor's a few cases'."""
    docs = text_index.docs_of(text_index.TRANSCRIPTS)
    readable_rows = (
        select(literal(1))
        .select_from(Call)
        .join(Recording, Recording.call_id == Call.id)
        .join(docs, docs.c.recording_sha256 == Recording.sha256)
        .where(readable(who, now, operator_days), *where)
        .limit(SCAN_LIMIT + 1)
    )
    return session.scalar(select(func.count()).select_from(readable_rows.subquery())) or 0


def _heard(
    session: Session,
    terms: tuple[str, ...],
    where: list[ColumnElement[bool]],
    who: Requester,
    now: dt.datetime,
    operator_days: int,
) -> tuple[Ranked, bool] | None:
    """(call id, score) of the calls whose transcript, as the list shows it (the newest),
    holds every term and which the person may read; and whether the score ranks them.
    A few readable transcripts are looked through, many looked up in the index."""
    few = _readable_transcripts(session, where, who, now, operator_days) <= SCAN_LIMIT
    found = (
        text_index.scanned(text_index.TRANSCRIPTS, terms)
        if few
        else text_index.matches(session, text_index.TRANSCRIPTS, terms)
    )
    if found is None:
        return None
    docs = found.docs
    heard = (
        select(Call.id, found.score.label("score"))
        .select_from(found.source)
        .join(Recording, Recording.sha256 == docs.c.recording_sha256)
        .join(Call, Call.id == Recording.call_id)
        .where(
            *found.where,
            ~exists().where(
                TranscriptRecord.recording_sha256 == docs.c.recording_sha256,
                TranscriptRecord.created_at > docs.c.created_at,
            ),
            readable(who, now, operator_days),
            *where,
        )
    )
    return heard, found.ranked


def _ranked(
    session: Session,
    filters: CallFilters,
    where: list[ColumnElement[bool]],
    who: Requester,
    now: dt.datetime,
    operator_days: int,
) -> tuple[Ranked, bool] | None:
    """(call id, score) of the calls the filters and the query admit, and whether the score
    ranks them; None when nothing can match."""
    query = filters.query
    if not query:
        return select(Call.id, literal(0.0).label("score")).where(*where), False
    heard = _heard(session, query.terms, where, who, now, operator_days)
    number = _number_match(query)
    by_number = (
        select(Call.id, literal(1000.0).label("score")).where(number, *where)
        if number is not None
        else None
    )
    if heard is None or by_number is None:
        return heard if by_number is None else (by_number, False)
    either = heard[0].union_all(by_number).subquery("either")
    grouped = select(either.c.id, func.max(either.c.score).label("score")).group_by(either.c.id)
    return grouped, True


def search(
    session: Session,
    filters: CallFilters,
    paging: Paging,
    who: Requester,
    now: dt.datetime,
    operator_days: int,
) -> Page[Call]:
    """One page of the calls the filters find (words only in transcripts ``who`` may read),
    counted up to ``COUNT_LIMIT``."""
    where = conditions(session, filters)
    ranked = None if where is None else _ranked(session, filters, where, who, now, operator_days)
    if ranked is None:
        return Page([], 0, paging)
    query, by_score = ranked
    found = query.subquery("found")
    listed = select(Call).join(found, found.c.id == Call.id)
    if filters.sort == "oldest":
        listed = listed.order_by(Call.started_at, Call.id)
    elif by_score and filters.query and filters.sort in ("", "relevance"):
        listed = listed.order_by(found.c.score.desc(), Call.started_at.desc())
    else:
        listed = listed.order_by(Call.started_at.desc(), Call.id.desc())
    calls = list(session.scalars(listed.offset(paging.offset).limit(paging.limit)))
    capped = query.limit(COUNT_LIMIT + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    return Page(calls, total, paging, total <= COUNT_LIMIT)


def operators(session: Session) -> list[tuple[str, str, str]]:
    """The people who answer calls: (user name, display name, phone), for the filter."""
    return [
        (user.username, user.display_name, user.phone)
        for user in session.scalars(
            select(User)
            .where(User.phone != "", User.role.in_([Role.OPERATOR.value, Role.SUPERVISOR.value]))
            .order_by(User.username)
        )
    ]
