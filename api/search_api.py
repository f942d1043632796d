"""Search over JSON: ``GET /api/cases``, ``/api/calls`` and ``/api/audit`` take the filters of
their list pages (the same names, read by the same code: ``dispatch.search.filters``) and
answer one page of rows. The body is the list of rows; ``X-Total-Count`` says how many there
are in all (``X-Total-Exact: false``: at least that many, a search of a very common word
stops counting) and ``Link`` (RFC 8288) gives the first, previous, next and last pages. A wrong
filter is a 422 naming it. The ``find_*`` functions here are what the pages call too."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from accounts.models import Role
from api.auth import Auditor, CallReader, Login, require
from api.deps import SessionDep, SettingsDep, now
from api.evidence import requester
from api.evidence_schemas import AccessPublic
from api.schemas import CallPublic
from core.settings import Settings
from custody import audit_search, call_search, evidence_view
from custody.models import RecordingAccess
from dispatch.handling import unit_portal
from dispatch.search import case_search, filters
from dispatch.search.case_search import CaseHit
from dispatch.search.filters import BadFilters
from dispatch.search.paging import Page
from ivr.models import Call
from recordings import lookup

router = APIRouter()
T = TypeVar("T")

# Who may search cases: the centre, and a unit's handlers (their unit's cases only).
CASE_SEARCHERS = (Role.OPERATOR, Role.SUPERVISOR, Role.UNIT_HANDLER)
CaseSearcher = Annotated[Login, Depends(require(*CASE_SEARCHERS))]

Text = Annotated[str, Query(max_length=filters.MAX_RAW_QUERY)]
Short = Annotated[str, Query(max_length=64)]
Day = Annotated[str, Query(max_length=10, description="a local date, YYYY-MM-DD")]
From = Annotated[str, Query(alias="from", max_length=10, description="first day, YYYY-MM-DD")]
PageNumber = Annotated[int, Query(ge=1, le=filters.MAX_PAGE)]
Limit = Annotated[int, Query(ge=1, le=filters.MAX_LIMIT, description="rows per page")]


class CaseFound(BaseModel):
    """A case found, as the searcher may read it (a unit's handler: the masked title, no
    phone where the complainant's identity is withheld)."""

    id: str
    number: str
    status: str
    registered_at: dt.datetime
    channel: str
    case_type: str
    title: str
    complainant_phone: str
    category: str
    units: list[str]
    due_on: dt.date | None
    overdue: bool

    @classmethod
    def of(cls, hit: CaseHit) -> CaseFound:
        case = hit.case
        return cls(
            id=case.id,
            number=case.number,
            status=case.status,
            registered_at=case.registered_at,
            channel=case.channel,
            case_type=case.case_type,
            title=hit.title,
            complainant_phone=hit.phone,
            category=case.category,
            units=list(hit.units),
            due_on=hit.due_on,
            overdue=hit.overdue,
        )


class AccessFound(AccessPublic):
    case_number: str | None


def zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def find_cases(
    session: Session, settings: Settings, login: Login, params: Mapping[str, str]
) -> Page[CaseHit]:
    """The case search of the page and the JSON route: every case for the centre, the
    unit's own for a unit's handler (``unit_portal.NoUnit`` if they belong to none)."""
    unit_id = (
        unit_portal.own_unit(session, login.user_id).id if login.role is Role.UNIT_HANDLER else None
    )
    wanted, paging = filters.case_filters(params, zone(settings))
    if unit_id and (wanted.unit_id or wanted.operator):
        raise BadFilters(
            {
                "unit" if wanted.unit_id else "operator": filters.Problem(
                    "not a filter for a unit's handlers", "承办单位不能按此条件查询"
                )
            }
        )
    today = now().astimezone(zone(settings)).date()
    return case_search.search(session, wanted, paging, today, unit_id)


def find_calls(
    session: Session, settings: Settings, login: Login, request: Request, params: Mapping[str, str]
) -> Page[Call]:
    """The call search of the page and the JSON route (words only in the transcripts the
    searcher may read)."""
    wanted, paging = call_search.call_filters(params, zone(settings))
    return call_search.search(
        session, wanted, paging, requester(login, request), now(), settings.operator_replay_days
    )


def find_access(
    session: Session, settings: Settings, params: Mapping[str, str]
) -> Page[RecordingAccess]:
    """The access log search of the page and the JSON route."""
    wanted, paging = audit_search.audit_filters(params, zone(settings))
    return audit_search.search(session, wanted, paging)


def refused(exc: BadFilters) -> JSONResponse:
    """A wrong filter: 422 in the shape of every validation error, one entry per field."""
    return JSONResponse(
        {
            "detail": [
                {"loc": ["query", name], "msg": problem.en, "type": "value_error"}
                for name, problem in exc.problems.items()
            ]
        },
        status_code=422,
    )


def page_url(request: Request, number: int) -> str:
    """This list's URL at page ``number``, every other parameter kept."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v]
    if number > 1:
        params.append(("page", str(number)))
    query = urllib.parse.urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def paged(request: Request, response: Response, page: Page[Any]) -> None:
    """The total and the links to the neighbouring pages, as headers (a search that finds
    very many stops counting: ``X-Total-Exact: false``, at least that many)."""
    response.headers["X-Total-Count"] = str(page.total)
    response.headers["X-Total-Exact"] = "true" if page.exact else "false"
    links = [(1, "first"), (page.pages, "last")]
    if page.has_previous:
        links.append((page.paging.page - 1, "prev"))
    if page.has_next:
        links.append((page.paging.page + 1, "next"))
    response.headers["Link"] = ", ".join(
        f'<{page_url(request, number)}>; rel="{rel}"' for number, rel in links
    )


@router.get("/api/cases", response_model=list[CaseFound], tags=["cases"])
def search_cases(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    login: CaseSearcher,
    q: Text = "",
    from_: From = "",
    to: Day = "",
    status: Annotated[str, Query(max_length=24)] = "",
    unit: Short = "",
    category: Short = "",
    type: Short = "",
    channel: Short = "",
    phone: Short = "",
    operator: Short = "",
    overdue: Short = "",
    sort: Short = "",
    page: PageNumber = 1,
    limit: Limit = filters.DEFAULT_LIMIT,
) -> Any:
    """Cases, newest registration first, or by relevance to ``q``: a case number (in any
    case, spacing or width), a phone number, or words that must all be in the case's text.
    Filters: ``from``/``to`` (local dates of registration), ``status`` (a status or
    ``open``, ``at_unit``, ``unfinished``, ``ended``), ``unit`` (an id), ``category``,
    ``type``, ``channel``, ``phone`` (the complainant's), ``operator`` (who registered
    it), ``overdue=1``, ``sort`` (``newest``, ``oldest``). A unit's handler finds only
    their unit's cases, and only by what the unit may read of them."""
    params = {
        "q": q,
        "from": from_,
        "to": to,
        "status": status,
        "unit": unit,
        "category": category,
        "type": type,
        "channel": channel,
        "phone": phone,
        "operator": operator,
        "overdue": overdue,
        "sort": sort,
        "page": str(page),
        "limit": str(limit),
    }
    try:
        found = find_cases(session, settings, login, params)
    except BadFilters as exc:
        return refused(exc)
    paged(request, response, found)
    return [CaseFound.of(hit) for hit in found.items]


@router.get("/api/calls", response_model=list[CallPublic], tags=["calls"])
def search_calls(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    login: CallReader,
    q: Text = "",
    from_: From = "",
    to: Day = "",
    status: Short = "",
    phone: Short = "",
    operator: Short = "",
    sort: Short = "",
    page: PageNumber = 1,
    limit: Limit = filters.DEFAULT_LIMIT,
) -> Any:
    """Calls, newest first, or by relevance to ``q``: words of the transcript (only the
    transcripts you may read: an operator the calls they handled within their replay window,
    a supervisor those with a reason in force) or digits of the caller's number. Filters:
    ``from``/``to`` (local dates), ``status`` (the outcome, or ``up``), ``phone`` (the
    caller's whole number), ``operator`` (a user), ``sort``."""
    params = {
        "q": q,
        "from": from_,
        "to": to,
        "status": status,
        "phone": phone,
        "operator": operator,
        "sort": sort,
        "page": str(page),
        "limit": str(limit),
    }
    try:
        found = find_calls(session, settings, login, request, params)
    except BadFilters as exc:
        return refused(exc)
    paged(request, response, found)
    recordings = lookup.of_calls(session, [c.id for c in found.items])
    return [CallPublic.of(call, recordings.get(call.id)) for call in found.items]


@router.get("/api/audit", response_model=list[AccessFound], tags=["evidence"])
def search_access_log(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    _login: Auditor,
    q: Text = "",
    from_: From = "",
    to: Day = "",
    actor: Annotated[str, Query(max_length=128)] = "",
    role: Short = "",
    action: Short = "",
    status: Short = "",
    case: Short = "",
    page: PageNumber = 1,
    limit: Limit = 100,
) -> Any:
    """The access log, newest first. Filters: ``from``/``to`` (local dates), ``actor`` (a
    user name), ``role``, ``action``, ``status`` (``allowed``, ``denied``, ``missing``),
    ``case`` (a case number), ``q`` (words in the person, reason, client or place; a case
    number)."""
    params = {
        "q": q,
        "from": from_,
        "to": to,
        "actor": actor,
        "role": role,
        "action": action,
        "status": status,
        "case": case,
        "page": str(page),
        "limit": str(limit),
    }
    try:
        found = find_access(session, settings, params)
    except BadFilters as exc:
        return refused(exc)
    paged(request, response, found)
    numbers = evidence_view.case_numbers(session, found.items)
    return [
        AccessFound.model_validate(
            {
                **AccessPublic.model_validate(entry).model_dump(),
                "case_number": numbers.get(entry.case_id) if entry.case_id else None,
            }
        )
        for entry in found.items
    ]
