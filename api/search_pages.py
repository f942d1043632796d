"""The console's lists: 案件 (``/cases``), 来电记录 (``/calls``) and 调听审计 (``/audit``), each
with a search box, filters and pages. The form is a GET, so the filters are the page's URL and a
link shows the same list; the rows come from the ``find_*`` functions the JSON routes call.
A wrong filter comes back at its field, in Chinese, with an empty list."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from accounts.models import ROLE_LABELS, Role
from api import evidence_transcripts
from api.auth import Auditor, CallReader, Login
from api.deps import SessionDep, SettingsDep, now
from api.evidence import integrity_public
from api.pages import render
from api.schemas import CallPublic
from api.search_api import (
    CaseSearcher,
    find_access,
    find_calls,
    find_cases,
    page_url,
    zone,
)
from core.settings import Settings
from custody import access, access_labels, call_search, evidence_view, transcript_reads
from dispatch.cases.lifecycle import STATUS_LABELS
from dispatch.search import case_search, filters, terms
from dispatch.search.filters import BadFilters
from dispatch.search.paging import Page, Paging

router = APIRouter(include_in_schema=False)
UNFILTERED = frozenset({"q", "page", "limit"})  # parameters that are not filters

CALL_STATUS_LABELS = {
    "answered": "已接听",
    "message_left": "已留言",
    "abandoned": "排队中挂断（待回拨）",
    "hung_up_during_notice": "提示音期间挂断",
    "failed": "故障",
    call_search.UP: "通话中",
}


def _params(request: Request) -> dict[str, str]:
    """The list's parameters as the form shows them (blank ones left out)."""
    return {k: v for k, v in request.query_params.items() if v.strip()}


def _presets(settings: Settings) -> list[tuple[str, str, str]]:
    """(label, from, to) of the usual periods, in local dates."""
    today = now().astimezone(zone(settings)).date()
    return [
        ("今天", today.isoformat(), today.isoformat()),
        ("近 7 天", (today - dt.timedelta(days=6)).isoformat(), today.isoformat()),
        ("近 30 天", (today - dt.timedelta(days=29)).isoformat(), today.isoformat()),
    ]


def _listing(
    request: Request,
    find: Callable[[Mapping[str, str]], Page[Any]],
) -> tuple[Page[Any], dict[str, str], dict[str, str]]:
    """The page of rows, the parameters, and the Chinese message of each wrong filter."""
    params = _params(request)
    try:
        return find(params), params, {}
    except BadFilters as exc:
        return Page([], 0, Paging()), params, {k: p.zh for k, p in exc.problems.items()}


def _common(
    request: Request,
    settings: Settings,
    found: Page[Any],
    params: dict[str, str],
    errors: dict[str, str],
) -> dict[str, Any]:
    """What every list's template uses: the rows, the form's values and errors, the search
    terms (to mark them), links to other pages and periods of the same list."""

    def link_with(changes: Mapping[str, str]) -> str:
        kept = {k: v for k, v in {**params, **changes}.items() if v and k != "page"}
        return request.url.path + (f"?{urllib.parse.urlencode(kept)}" if kept else "")

    return {
        "status_code": 422 if errors else 200,
        "found": found,
        "params": params,
        "errors": errors,
        "terms": terms.parse(params.get("q", "")).terms,
        "excerpt": terms.excerpt,
        "page_link": lambda number: page_url(request, number),
        "link_with": link_with,
        "presets": _presets(settings),
        "filtering": len(set(params) - UNFILTERED),
    }


@router.get("/cases", response_class=HTMLResponse)
def cases_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: CaseSearcher
) -> HTMLResponse:
    found, params, errors = _listing(
        request, lambda params: find_cases(session, settings, login, params)
    )
    return render(
        request,
        "cases.html",
        login,
        settings,
        **_common(request, settings, found, params, errors),
        unit_view=login.role is Role.UNIT_HANDLER,
        choices=case_search.choices(session),
        all_status_labels=STATUS_LABELS,
        status_groups=filters.STATUS_GROUP_LABELS,
        sort_labels=filters.SORT_LABELS,
    )


def _calls_page(
    request: Request, session: SessionDep, settings: Settings, login: Login
) -> HTMLResponse:
    found, params, errors = _listing(
        request, lambda params: find_calls(session, settings, login, request, params)
    )
    calls = list(found.items)
    shown = evidence_transcripts.summaries(
        session,
        request.app.state.sessions,
        settings,
        login,
        request,
        calls,
        transcript_reads.CALLS_LIST,
    )
    worker = login.role in (Role.OPERATOR, Role.SUPERVISOR)
    return render(
        request,
        "calls.html",
        login,
        settings,
        **_common(request, settings, found, params, errors),
        calls=[CallPublic.of(c, shown.recordings.get(c.id)) for c in calls],
        texts=shown.texts,
        withheld=shown.withheld,
        withheld_labels=evidence_transcripts.WITHHELD_LABELS,
        can_open=worker,
        playable=shown.playable if worker else set(),
        operators=call_search.operators(session),
        call_status_labels=CALL_STATUS_LABELS,
        sort_labels=filters.SORT_LABELS,
    )


@router.get("/calls", response_class=HTMLResponse)
def calls_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: CallReader
) -> HTMLResponse:
    return _calls_page(request, session, settings, login)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: Auditor
) -> HTMLResponse:
    """The access log for auditors, with the state of its chain and of the store."""
    found, params, errors = _listing(request, lambda params: find_access(session, settings, params))
    breaks = access.breaks(session)
    return render(
        request,
        "audit.html",
        login,
        settings,
        **_common(request, settings, found, params, errors),
        entries=found.items,
        chain_problems=[f"entry {b.position}: {b.problem}" for b in breaks],
        numbers=evidence_view.case_numbers(session, found.items),
        check=integrity_public(session),
        roles=ROLE_LABELS,
        actions=access_labels.ACTION_LABELS,
        outcomes=access_labels.OUTCOME_LABELS,
    )
