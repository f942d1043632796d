"""Pages for recordings as evidence: a case's 调听与证据 page (reason, player, export, holds,
grants, its access log), the investigators' case finder, the auditors' access log, and the
integrity alert. Each step is the ``custody`` function the JSON routes call too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from accounts.models import Role
from api.auth import Investigator, Login, LoginDep, Supervisor
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.evidence import (
    deliver,
    evidence_public,
    http_error,
    requester,
    status_of,
)
from api.evidence_schemas import CaseEvidencePublic
from api.pages import SPEAKERS, form_values, render, see
from api.stored_files import StorageDep
from asr.models import TranscriptRecord
from core.db import transaction
from core.ids import is_case_number
from core.settings import Settings
from custody import (
    access_labels,
    evidence_steps,
    evidence_view,
    exports,
    replay,
    transcript_reads,
)
from custody.errors import CustodyError
from dispatch.cases.models import Case
from dispatch.intake import case_lookup

router = APIRouter(include_in_schema=False)

# The access log's words (also the filters access_zh, outcome_zh: api/labels.py).
ACCESS_ACTION_LABELS = access_labels.ACTION_LABELS
ACCESS_OUTCOME_LABELS = access_labels.OUTCOME_LABELS


def _transcripts(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    case: Case,
    view: CaseEvidencePublic,
) -> dict[str, TranscriptRecord]:
    """The transcripts of the case's recordings, once a reason is in force (each shown is
    logged, as on the call page)."""
    if view.reason is None:
        return {}
    return transcript_reads.case_transcripts(
        session,
        request.app.state.sessions,
        settings,
        requester(login, request),
        replay.recordings_of(session, case),
        now(),
    )


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    case: Case,
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    shown = evidence_view.page(session, case, login.user_id, now())
    view = evidence_public(shown.evidence)
    return render(
        request,
        "evidence.html",
        login,
        settings,
        status_code=status_code,
        transcripts=_transcripts(request, session, settings, login, case, view),
        speakers=SPEAKERS,
        case=case,
        view=view,
        error=error,
        units=shown.units,
        unit_names=shown.unit_names,
        archived=shown.archived,
        access_labels=ACCESS_ACTION_LABELS,
        outcome_labels=ACCESS_OUTCOME_LABELS,
        supervisor=login.role is Role.SUPERVISOR,
    )


@router.get("/evidence", response_class=HTMLResponse)
def finder(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: Investigator,
    number: str = "",
) -> Response:
    """Investigators find a case by its number."""
    number = number.strip()
    if number and is_case_number(number):
        try:
            return see(f"/cases/{case_lookup.find(session, number).id}/evidence")
        except case_lookup.CaseNotFound:
            pass
    return render(
        request,
        "evidence_finder.html",
        login,
        settings,
        status_code=404 if number else 200,
        number=number,
        error="没有该编号的案件" if number else "",
    )


@router.get("/cases/{case_key}/evidence", response_class=HTMLResponse)
def evidence_page(
    case_key: str, request: Request, session: SessionDep, settings: SettingsDep, login: Investigator
) -> HTMLResponse:
    return _page(request, session, settings, login, case_lookup.find(session, case_key))


class _OfCase(Protocol):
    """What an evidence step returns: a row of the case it changed."""

    @property
    def case_id(self) -> str: ...


async def _change(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    case_key: str,
    step: Callable[[Session], _OfCase],
) -> Response:
    """Run the custody step in one transaction; a refusal comes back on the evidence page
    with its words and the status the JSON route answers with."""

    def apply() -> str:
        with transaction(sessions) as session:
            return step(session).case_id

    try:
        case_id = await run_in_threadpool(apply)
    except CustodyError as exc:
        with sessions() as session:
            return _page(
                request,
                session,
                settings,
                login,
                case_lookup.find(session, case_key),
                exc.zh,
                status_of(exc),
            )
    return see(f"/cases/{case_id}/evidence")


@router.post("/cases/{case_key}/evidence/reason", response_class=HTMLResponse)
async def reason_form(
    case_key: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Investigator
) -> Response:
    form = form_values(await request.form())
    return await _change(
        request,
        sessions,
        settings,
        login,
        case_key,
        lambda s: evidence_steps.give_reason(
            s, requester(login, request), case_key, form.get("reason", ""), now()
        ),
    )


@router.get("/cases/{case_key}/evidence/package")
def package_download(
    case_key: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    storage: StorageDep,
    login: LoginDep,
) -> Response:
    try:
        return deliver(
            exports.export_package(
                sessions,
                requester(login, request),
                case_key,
                now(),
                storage,
                ZoneInfo(settings.timezone),
            )
        )
    except CustodyError as exc:
        raise http_error(exc) from None


@router.post("/cases/{case_key}/evidence/hold", response_class=HTMLResponse)
async def hold_form(
    case_key: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    form = form_values(await request.form())
    return await _change(
        request,
        sessions,
        settings,
        login,
        case_key,
        lambda s: evidence_steps.place_hold(
            s, requester(login, request), case_key, form.get("reason", ""), now()
        ),
    )


@router.post("/cases/{case_key}/evidence/hold/{hold_id}/release", response_class=HTMLResponse)
async def release_form(
    case_key: str,
    hold_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: Supervisor,
) -> Response:
    form = form_values(await request.form())
    return await _change(
        request,
        sessions,
        settings,
        login,
        case_key,
        lambda s: evidence_steps.release_hold(
            s, requester(login, request), case_key, hold_id, form.get("reason", ""), now()
        ),
    )


@router.post("/cases/{case_key}/evidence/grant", response_class=HTMLResponse)
async def grant_form(
    case_key: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    form = form_values(await request.form())
    return await _change(
        request,
        sessions,
        settings,
        login,
        case_key,
        lambda s: evidence_steps.grant_unit(
            s,
            requester(login, request),
            case_key,
            form.get("unit_id", ""),
            form.get("reason", ""),
            now(),
            settings.recording_grant_days,
        ),
    )


@router.post("/cases/{case_key}/evidence/grant/{grant_id}/revoke", response_class=HTMLResponse)
async def revoke_form(
    case_key: str,
    grant_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: Supervisor,
) -> Response:
    return await _change(
        request,
        sessions,
        settings,
        login,
        case_key,
        lambda s: evidence_steps.revoke_grant(
            s, requester(login, request), case_key, grant_id, now()
        ),
    )


@router.get("/cases/{case_key}/evidence/archive")
def archive_download(
    case_key: str, request: Request, sessions: WriterDep, storage: StorageDep, login: LoginDep
) -> Response:
    """The 立卷归档 bundle as it was archived; needs a reason in force, and is logged."""
    try:
        return deliver(
            exports.archived_bundle(sessions, requester(login, request), case_key, now(), storage)
        )
    except CustodyError as exc:
        raise http_error(exc) from None
