"""Pages for recordings as evidence: a case's 调听与证据 page (reason, player, export, holds,
grants, its access log), the investigators' case finder, the auditors' access log, and the
integrity alert."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from accounts.models import Role
from api import evidence_transcripts
from api.auth import Auditor, Investigator, Login, Supervisor
from api.cases import find_case
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.evidence import (
    NO_STORE,
    ArchiveReader,
    Exporter,
    access_log,
    attempt,
    case_evidence,
    integrity_public,
    package,
)
from api.evidence_schemas import CaseEvidencePublic
from api.pages import SPEAKERS, form_values, render, see
from asr import jobs
from asr.models import TranscriptRecord
from core.db import transaction
from core.ids import is_case_number
from core.settings import Settings
from custody import access, case_archive, holds, replay
from custody.models import CaseArchive
from dispatch.cases.handling_models import Assignment, Unit
from dispatch.cases.models import Case
from dispatch.intake import case_store
from recordings.models import Recording

router = APIRouter(include_in_schema=False)

ACTION_LABELS = {"play": "播放", "download": "下载", "export": "导出证据包",
                 "transcript": "查看转写"}
OUTCOME_LABELS = {"allowed": "允许", "denied": "拒绝", "missing": "文件缺失"}


def _units_of(session: Session, case: Case) -> list[Unit]:
    return list(session.scalars(select(Unit).join(Assignment, Assignment.unit_id == Unit.id)
                                .where(Assignment.case_id == case.id,
                                       Assignment.active.is_(True))))


def _transcripts(request: Request, session: Session, settings: Settings, login: Login,
                 view: CaseEvidencePublic) -> dict[str, TranscriptRecord]:
    """The transcripts of the case's recordings, once a reason is in force (each shown is
    logged, as on the call page)."""
    if view.reason is None:
        return {}
    shown: dict[str, TranscriptRecord] = {}
    reads = []
    for ref in view.recordings:
        recording = session.get(Recording, ref.id)
        if recording is None or recording.call is None:
            continue
        decision = evidence_transcripts.decide(session, settings, login, recording.call,
                                               recording)
        transcript = jobs.transcript_of(session, recording) if decision.allowed else None
        if transcript is not None:
            shown[recording.id] = transcript
            reads.append(evidence_transcripts.Read(recording.id, decision))
    evidence_transcripts.record(request.app.state.sessions, login, request,
                                evidence_transcripts.EVIDENCE_PAGE, reads)
    return shown


def _page(request: Request, session: Session, settings: Settings, login: Login, case: Case,
          error: str = "", status_code: int = 200) -> HTMLResponse:
    view = case_evidence(session, case, login)
    return render(request, "evidence.html", login, settings, status_code=status_code,
                  transcripts=_transcripts(request, session, settings, login, view),
                  speakers=SPEAKERS,
                  case=case, view=view, error=error, units=_units_of(session, case),
                  unit_names={u.id: u.name for u in session.scalars(select(Unit))},
                  archived=session.get(CaseArchive, case.id),
                  access_labels=ACTION_LABELS, outcome_labels=OUTCOME_LABELS,
                  supervisor=login.role is Role.SUPERVISOR)


@router.get("/evidence", response_class=HTMLResponse)
def finder(request: Request, session: SessionDep, settings: SettingsDep, login: Investigator,
           number: str = "") -> Response:
    """Investigators find a case by its number."""
    number = number.strip()
    if number and is_case_number(number):
        case = case_store.by_number(session, number)
        if case is not None:
            return see(f"/cases/{case.id}/evidence")
    return render(request, "evidence_finder.html", login, settings,
                  status_code=404 if number else 200, number=number,
                  error="没有该编号的案件" if number else "")


@router.get("/cases/{case_key}/evidence", response_class=HTMLResponse)
def evidence_page(case_key: str, request: Request, session: SessionDep,
                  settings: SettingsDep, login: Investigator) -> HTMLResponse:
    return _page(request, session, settings, login, find_case(session, case_key))


async def _change(request: Request, sessions: WriterDep, settings: Settings, login: Login,
                  case_key: str, change: Callable[[Session, Case], object]) -> Response:
    def apply() -> str:
        with transaction(sessions) as session:
            case = find_case(session, case_key)
            change(session, case)
            return case.id

    try:
        case_id = await run_in_threadpool(apply)
    except replay.ReplayRefused as exc:
        with sessions() as session:
            return _page(request, session, settings, login, find_case(session, case_key),
                         exc.zh, 422)
    return see(f"/cases/{case_id}/evidence")


@router.post("/cases/{case_key}/evidence/reason", response_class=HTMLResponse)
async def reason_form(case_key: str, request: Request, sessions: WriterDep,
                      settings: SettingsDep, login: Investigator) -> Response:
    form = form_values(await request.form())
    return await _change(request, sessions, settings, login, case_key, lambda s, c:
                         replay.give_reason(s, c, login.user_id, login.username,
                                            form.get("reason", ""), now()))


@router.get("/cases/{case_key}/evidence/package")
def package_download(case_key: str, request: Request, sessions: WriterDep,
                     settings: SettingsDep, login: Exporter) -> Response:
    target, name = package(sessions, settings, case_key, login, request)
    return FileResponse(target, media_type="application/zip", filename=name, headers=NO_STORE,
                        background=BackgroundTask(target.unlink, missing_ok=True))


@router.post("/cases/{case_key}/evidence/hold", response_class=HTMLResponse)
async def hold_form(case_key: str, request: Request, sessions: WriterDep,
                    settings: SettingsDep, login: Supervisor) -> Response:
    form = form_values(await request.form())
    return await _change(request, sessions, settings, login, case_key, lambda s, c:
                         holds.place(s, c, form.get("reason", ""), login.username, now()))


@router.post("/cases/{case_key}/evidence/hold/{hold_id}/release", response_class=HTMLResponse)
async def release_form(case_key: str, hold_id: str, request: Request, sessions: WriterDep,
                       settings: SettingsDep, login: Supervisor) -> Response:
    form = form_values(await request.form())
    return await _change(request, sessions, settings, login, case_key, lambda s, c:
                         holds.release(s, c, hold_id, form.get("reason", ""),
                                       login.username, now()))


@router.post("/cases/{case_key}/evidence/grant", response_class=HTMLResponse)
async def grant_form(case_key: str, request: Request, sessions: WriterDep,
                     settings: SettingsDep, login: Supervisor) -> Response:
    form = form_values(await request.form())
    return await _change(request, sessions, settings, login, case_key, lambda s, c:
                         replay.grant(s, c, form.get("unit_id", ""), form.get("reason", ""),
                                      login.username, now(), settings.recording_grant_days))


@router.post("/cases/{case_key}/evidence/grant/{grant_id}/revoke", response_class=HTMLResponse)
async def revoke_form(case_key: str, grant_id: str, request: Request, sessions: WriterDep,
                      settings: SettingsDep, login: Supervisor) -> Response:
    return await _change(request, sessions, settings, login, case_key, lambda s, c:
                         replay.revoke(s, c, grant_id, now()))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, settings: SettingsDep,
               login: Auditor) -> HTMLResponse:
    """The access log for auditors, with the state of its chain and of the store."""
    log = access_log(session, 1000)
    case_ids = {e.case_id for e in log.entries if e.case_id}
    numbers = {case_id: number for case_id, number in session.execute(
        select(Case.id, Case.number).where(Case.id.in_(case_ids)))}
    return render(request, "audit.html", login, settings, log=log, numbers=numbers,
                  check=integrity_public(session),
                  access_labels=ACTION_LABELS, outcome_labels=OUTCOME_LABELS)


@router.get("/cases/{case_key}/evidence/archive")
def archive_download(case_key: str, request: Request, sessions: WriterDep,
                     settings: SettingsDep, login: ArchiveReader) -> Response:
    """The 立卷归档 bundle as it was archived; needs a reason in force, and is logged."""
    with transaction(sessions) as session:
        case = find_case(session, case_key)
        record = session.get(CaseArchive, case.id)
        reason = replay.active_reason(session, login.user_id, [case.id], now())
        outcome = access.ALLOWED if reason else access.DENIED
        if record is not None:
            access.log(session, attempt(login, request, access.DOWNLOAD, outcome,
                                        case_id=case.id, reason=reason.reason if reason
                                        else "", byte_range="archive bundle"), now())
    if record is None:
        raise HTTPException(status_code=404, detail="no archive bundle")
    if reason is None:
        raise HTTPException(status_code=403, detail="give a reason (调听事由) first")
    path = case_archive.file_of(settings.data_dir, record)
    if path is None:
        raise HTTPException(status_code=404, detail="archive bundle missing")
    return FileResponse(path, media_type="application/zip",
                        filename=f"{case.number}-archive.zip", headers=NO_STORE)
