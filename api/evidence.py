"""Recordings as evidence over HTTP: the audited audio stream, replay reasons, legal holds,
grants to units, the evidence package, the access log and integrity checks."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask

from accounts.models import Role
from api.auth import (
    INVESTIGATORS,
    Auditor,
    IntegrityReader,
    Investigator,
    Login,
    LoginDep,
    Supervisor,
)
from api.cases import find_case
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.evidence_schemas import (
    AccessLogPublic,
    AccessPublic,
    CaseEvidencePublic,
    GrantBody,
    GrantPublic,
    HoldPublic,
    IntegrityPublic,
    ProblemPublic,
    ReasonBody,
    RecordingRef,
    ReplayReasonPublic,
)
from core.db import transaction
from core.settings import Settings
from custody import access, bundle, dossier, holds, integrity, replay, replay_rules
from custody.access import Attempt
from dispatch.cases.models import Case
from dispatch.routing import units
from recordings import lookup

router = APIRouter(tags=["recordings"])
# Never from a cache: every hearing must come here and be logged.
NO_STORE = {"Cache-Control": "no-store, private"}


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def attempt(login: Login, request: Request, action: str, outcome: str,
            recording_id: str | None = None, case_id: str | None = None, reason: str = "",
            byte_range: str = "") -> Attempt:
    return Attempt(actor=login.username, role=login.role.value, client=client_of(request),
                   action=action, outcome=outcome, recording_id=recording_id,
                   case_id=case_id, reason=reason, byte_range=byte_range)


# -- the audio ----------------------------------------------------------------------------

def refuse_logged(sessions: sessionmaker[Session], login: Login, request: Request,
                  action: str, recording_id: str | None = None,
                  case_id: str | None = None) -> NoReturn:
    """A role that may never do this: the attempt goes to the access log, then 403."""
    with transaction(sessions) as session:
        access.log(session, attempt(login, request, action, access.DENIED, recording_id,
                                    case_id), now())
    raise HTTPException(status_code=403, detail="your role may not do this")


def require_logged(action: str, *roles: Role) -> Callable[..., Login]:
    """Like ``require``, but a refusal is written to the access log (with the case the
    path names, if it is a well-formed id)."""
    allowed = frozenset(roles)

    def dependency(request: Request, login: LoginDep, sessions: WriterDep) -> Login:
        # A plain function: FastAPI runs it in a worker thread (it may write the log).
        if login.role not in allowed:
            key = str(request.path_params.get("case_key", ""))
            refuse_logged(sessions, login, request, action,
                          case_id=key if lookup.well_formed(key) else None)
        return login

    return dependency


Exporter = Annotated[Login, Depends(require_logged(access.EXPORT, *INVESTIGATORS))]
ArchiveReader = Annotated[Login, Depends(require_logged(access.DOWNLOAD, *INVESTIGATORS))]

@router.get("/api/recordings/{recording_id}/audio")
def recording_audio(recording_id: str, request: Request, sessions: WriterDep,
                    settings: SettingsDep, login: LoginDep,
                    download: bool = False) -> FileResponse:
    """The recording's WAV, with range requests so players can seek. Who may hear it:
    supervisors and investigators after giving a reason (调听事由) for one of its cases,
    operators for the calls they handled within ``operator_replay_days``, a unit's handlers
    when a supervisor granted their unit this case. Every request, allowed or not, is in
    the access log."""
    if not lookup.well_formed(recording_id):
        raise HTTPException(status_code=404, detail="recording not found")
    action = access.DOWNLOAD if download else access.PLAY
    unit_id = None
    if login.role is Role.UNIT_HANDLER:
        with sessions() as session:
            unit = units.unit_of_user(session, login.user_id)
            unit_id = unit.id if unit else None
    if login.role not in replay_rules.MAY_EVER_LISTEN or (
            login.role is Role.UNIT_HANDLER and unit_id is None):
        refuse_logged(sessions, login, request, action, recording_id=recording_id)
    with transaction(sessions) as session:
        recording = lookup.find(session, recording_id)
        if recording is None:
            raise HTTPException(status_code=404, detail="recording not found")
        decision = replay.decide(
            session, recording, replay_rules.Listener(login.username, login.role, login.phone),
            login.user_id, unit_id, now(), settings.operator_replay_days)
        path = lookup.file_of(settings.recordings_dir, recording) if decision.allowed else None
        outcome = access.DENIED if not decision.allowed else \
            access.ALLOWED if path is not None else "missing"
        access.log(session, attempt(login, request, action, outcome, recording.id,
                                    decision.case_id, decision.reason,
                                    request.headers.get("range", "")), now())
    if not decision.allowed:
        raise HTTPException(status_code=403, detail=decision.refusal_en)
    if path is None:
        raise HTTPException(status_code=404, detail="recording file missing")
    if download:
        return FileResponse(path, media_type="audio/wav", filename=f"{recording_id}.wav",
                            headers=NO_STORE)
    return FileResponse(path, media_type="audio/wav", headers=NO_STORE)


# -- a case's evidence ----------------------------------------------------------------------

def case_evidence(session: Session, case: Case, login: Login) -> CaseEvidencePublic:
    recordings = replay.recordings_of(session, case)
    reason = replay.active_reason(session, login.user_id, [case.id], now())
    return CaseEvidencePublic(
        case_id=case.id, case_number=case.number,
        recordings=[RecordingRef.model_validate(r) for r in recordings],
        reason=ReplayReasonPublic.model_validate(reason) if reason else None,
        holds=[HoldPublic.model_validate(h) for h in holds.of_case(session, case.id)],
        grants=[GrantPublic.model_validate(g) for g in replay.grants_of(session, case)],
        access=[AccessPublic.model_validate(a) for a in access.entries(
            session, case.id, [r.id for r in recordings], limit=200)])


def refused(exc: replay.ReplayRefused, status: int = 422) -> HTTPException:
    return HTTPException(status_code=status, detail=str(exc))


@router.get("/api/cases/{case_key}/evidence", response_model=CaseEvidencePublic)
def get_case_evidence(case_key: str, session: SessionDep, login: Investigator
                      ) -> CaseEvidencePublic:
    """The case's recordings, your reason in force, holds, grants and its access log."""
    return case_evidence(session, find_case(session, case_key), login)


@router.post("/api/cases/{case_key}/replay-reason", response_model=ReplayReasonPublic,
             status_code=201)
def give_reason(case_key: str, body: ReasonBody, sessions: WriterDep,
                login: Investigator) -> ReplayReasonPublic:
    """State why you listen (调听事由) before the first play; it holds for 12 hours."""
    with transaction(sessions) as session:
        case = find_case(session, case_key)
        try:
            given = replay.give_reason(session, case, login.user_id, login.username,
                                       body.reason, now())
        except replay.ReplayRefused as exc:
            raise refused(exc) from None
        return ReplayReasonPublic.model_validate(given)


def package(sessions: sessionmaker[Session], settings: Settings, case_key: str,
            login: Login, request: Request) -> tuple[Path, str]:
    """Write the evidence package of a case to a temporary file: (path, download name).
    Refused (and logged) without a reason in force."""
    with transaction(sessions) as session:
        case = find_case(session, case_key)
        reason = replay.active_reason(session, login.user_id, [case.id], now())
        recordings = replay.recordings_of(session, case)
        if reason is None:
            access.log(session, attempt(login, request, access.EXPORT, access.DENIED,
                                        case_id=case.id), now())
    if reason is None:
        raise HTTPException(status_code=403, detail="give a reason (调听事由) for this case "
                            "first")
    folder = f"{case.number}-evidence"
    with sessions() as session:  # files checked first (409): a refused export delivers nothing
        members = dossier.members(session, find_case(session, case.id), settings.data_dir)
    with transaction(sessions) as session:
        recording_ids: list[str | None] = [r.id for r in recordings]
        for recording_id in recording_ids or [None]:
            access.log(session, attempt(login, request, access.EXPORT, access.ALLOWED,
                                        recording_id, case.id, reason.reason), now())
        rows = access.entries(session, case.id, [r.id for r in recordings])
        members.append(bundle.Member("access_log.csv", dossier.access_log_csv(rows)))
    handle, name = tempfile.mkstemp(suffix=".zip")
    os.close(handle)
    target = Path(name)
    try:
        bundle.write(target, folder, members, dossier.readme(case, folder, "证据包"))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, f"{folder}.zip"


@router.get("/api/cases/{case_key}/evidence-package")
def evidence_package(case_key: str, request: Request, sessions: WriterDep,
                     settings: SettingsDep, login: Exporter) -> FileResponse:
    """A zip: recordings, transcripts, the case record and history, the access log entries,
    SHA256SUMS and how to check it (``sha256sum -c SHA256SUMS``)."""
    target, name = package(sessions, settings, case_key, login, request)
    return FileResponse(target, media_type="application/zip", filename=name, headers=NO_STORE,
                        background=BackgroundTask(target.unlink, missing_ok=True))


@router.post("/api/cases/{case_key}/legal-holds", response_model=HoldPublic, status_code=201)
def place_hold(case_key: str, body: ReasonBody, sessions: WriterDep,
               login: Supervisor) -> HoldPublic:
    """Keep the case's recordings whatever their age, until released."""
    with transaction(sessions) as session:
        try:
            return HoldPublic.model_validate(holds.place(
                session, find_case(session, case_key), body.reason, login.username, now()))
        except replay.ReplayRefused as exc:
            raise refused(exc) from None


@router.post("/api/cases/{case_key}/legal-holds/{hold_id}/release", response_model=HoldPublic)
def release_hold(case_key: str, hold_id: str, body: ReasonBody, sessions: WriterDep,
                 login: Supervisor) -> HoldPublic:
    with transaction(sessions) as session:
        try:
            return HoldPublic.model_validate(holds.release(
                session, find_case(session, case_key), hold_id, body.reason, login.username,
                now()))
        except replay.ReplayRefused as exc:
            raise refused(exc) from None


@router.post("/api/cases/{case_key}/recording-grants", response_model=GrantPublic,
             status_code=201)
def grant(case_key: str, body: GrantBody, sessions: WriterDep, settings: SettingsDep,
          login: Supervisor) -> GrantPublic:
    """Let a unit handling this case hear its recording (not the unit complained about,
    not for 举报, only with the complainant's consent to share their identity)."""
    with transaction(sessions) as session:
        try:
            return GrantPublic.model_validate(replay.grant(
                session, find_case(session, case_key), body.unit_id, body.reason,
                login.username, now(), settings.recording_grant_days))
        except replay.ReplayRefused as exc:
            raise refused(exc) from None


@router.post("/api/cases/{case_key}/recording-grants/{grant_id}/revoke", status_code=204)
def revoke(case_key: str, grant_id: str, sessions: WriterDep, login: Supervisor) -> None:
    with transaction(sessions) as session:
        try:
            replay.revoke(session, find_case(session, case_key), grant_id, now())
        except replay.ReplayRefused as exc:
            raise refused(exc, 404) from None


# -- auditors and the store's health ----------------------------------------------------------

def access_log(session: Session, limit: int) -> AccessLogPublic:
    breaks = access.breaks(session)
    return AccessLogPublic(
        chain_intact=not breaks,
        chain_problems=[f"entry {b.position}: {b.problem}" for b in breaks],
        entries=[AccessPublic.model_validate(a) for a in access.entries(session, limit=limit)])


@router.get("/api/audit/recording-access", response_model=AccessLogPublic)
def audit_log(session: SessionDep, _login: Auditor, limit: int = 500) -> AccessLogPublic:
    """Every play, download, export and refused attempt, newest first, and whether the
    log's hash chain is whole."""
    return access_log(session, max(1, min(limit, 5000)))


def integrity_public(session: Session) -> IntegrityPublic:
    check = integrity.latest(session)
    if check is None:
        return IntegrityPublic(checked_at=None, ok=None, files_checked=0, problems=[])
    return IntegrityPublic(checked_at=check.checked_at, ok=check.ok,
                           files_checked=check.files_checked,
                           problems=[ProblemPublic(**p.__dict__)
                                     for p in integrity.problems_of(check)])


@router.get("/api/integrity", response_model=IntegrityPublic)
def latest_check(session: SessionDep, _login: IntegrityReader) -> IntegrityPublic:
    """The last verification of the store."""
    return integrity_public(session)


@router.post("/api/integrity/run", response_model=IntegrityPublic)
def run_check(sessions: WriterDep, settings: SettingsDep, _login: Supervisor
              ) -> IntegrityPublic:
    """Verify the store now (re-hash every file, check the chains)."""
    integrity.check_and_record(sessions, settings.data_dir, now())
    with sessions() as session:
        return integrity_public(session)
