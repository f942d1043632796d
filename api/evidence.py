"""Recordings as evidence over HTTP: the audited audio stream, replay reasons, legal holds,
grants to units, the evidence package, the access log and integrity checks. Each step is one
function of ``custody``, the same the pages call; its refusals become HTTP statuses here."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from api.auth import Auditor, IntegrityReader, Investigator, Login, LoginDep, Supervisor
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
from api.stored_files import StorageDep, stored_response
from core.db import transaction
from custody import access, evidence_steps, evidence_view, exports, integrity, listening
from custody.errors import CustodyError, Denied, NotFound
from custody.evidence_files import StoreDown
from custody.requester import Requester
from dispatch.cases.models import Case
from dispatch.intake import case_lookup

router = APIRouter(tags=["recordings"])
# Never from a cache: every hearing must come here and be logged.
NO_STORE = {"Cache-Control": "no-store, private"}


def requester(login: Login, request: Request) -> Requester:
    """The logged-in person and their address, as custody knows them."""
    return Requester(
        login.user_id,
        login.username,
        login.role,
        login.phone,
        request.client.host if request.client else "",
    )


def status_of(exc: CustodyError) -> int:
    """The HTTP status of a custody refusal (the pages and the JSON routes alike)."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Denied):
        return 403
    if isinstance(exc, StoreDown):
        return 503
    return 422


class CustodyHTTPException(HTTPException):
    """A custody refusal as an HTTP error: the English detail for the API, its Chinese words
    (``zh``) for a page. Routes may also just let the CustodyError out: the app answers it
    the same way."""

    def __init__(self, exc: CustodyError) -> None:
        super().__init__(status_code=status_of(exc), detail=str(exc))
        self.zh = exc.zh


def http_error(exc: CustodyError) -> HTTPException:
    return CustodyHTTPException(exc)


def deliver(delivery: exports.Delivery, media_type: str = "application/zip") -> FileResponse:
    """A file to download, never cached; a temporary one is removed once sent."""
    cleanup = BackgroundTask(delivery.path.unlink, missing_ok=True) if delivery.temporary else None
    return FileResponse(
        delivery.path,
        media_type=media_type,
        filename=delivery.filename,
        headers=NO_STORE,
        background=cleanup,
    )


@router.get("/api/cases/{case_key}/archive/bundle")
def archived_bundle(
    case_key: str, request: Request, sessions: WriterDep, storage: StorageDep, login: LoginDep
) -> FileResponse:
    """The 立卷归档 bundle as it was archived: supervisors and investigators with a reason in
    force; every attempt is logged (the evidence page's download is the same step)."""
    return deliver(
        exports.archived_bundle(sessions, requester(login, request), case_key, now(), storage)
    )


# -- the audio ----------------------------------------------------------------------------


@router.get("/api/recordings/{recording_id}/audio")
def recording_audio(
    recording_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    storage: StorageDep,
    login: LoginDep,
    download: bool = False,
) -> Response:
    """The recording's WAV, with range requests so players can seek, streamed from wherever
    its bytes are (the data folder, else the object store). Who may hear it: supervisors
    and investigators after giving a reason (调听事由) for one of its cases, operators for
    the calls they handled within ``operator_replay_days``, a unit's handlers when a
    supervisor granted their unit this case. Every request, allowed or not, is in the
    access log."""
    heard = listening.listen(
        sessions,
        requester(login, request),
        recording_id,
        access.DOWNLOAD if download else access.PLAY,
        now(),
        storage,
        settings.operator_replay_days,
        request.headers.get("range", ""),
    )
    return stored_response(
        request,
        storage,
        heard.stored,
        heard.sha256,
        "audio/wav",
        NO_STORE,
        filename=f"{recording_id}.wav" if download else None,
    )


# -- a case's evidence ----------------------------------------------------------------------


def evidence_public(evidence: evidence_view.CaseEvidence) -> CaseEvidencePublic:
    return CaseEvidencePublic(
        case_id=evidence.case.id,
        case_number=evidence.case.number,
        recordings=[RecordingRef.model_validate(r) for r in evidence.recordings],
        reason=ReplayReasonPublic.model_validate(evidence.reason) if evidence.reason else None,
        holds=[HoldPublic.model_validate(h) for h in evidence.holds],
        grants=[GrantPublic.model_validate(g) for g in evidence.grants],
        access=[AccessPublic.model_validate(a) for a in evidence.access],
    )


def case_evidence(session: Session, case: Case, login: Login) -> CaseEvidencePublic:
    return evidence_public(evidence_view.of_case(session, case, login.user_id, now()))


@router.get("/api/cases/{case_key}/evidence", response_model=CaseEvidencePublic)
def get_case_evidence(
    case_key: str, session: SessionDep, login: Investigator
) -> CaseEvidencePublic:
    """The case's recordings, your reason in force, holds, grants and its access log."""
    return case_evidence(session, case_lookup.find(session, case_key), login)


@router.post(
    "/api/cases/{case_key}/replay-reason", response_model=ReplayReasonPublic, status_code=201
)
def give_reason(
    case_key: str, body: ReasonBody, request: Request, sessions: WriterDep, login: Investigator
) -> ReplayReasonPublic:
    """State why you listen (调听事由) before the first play; it holds for 12 hours."""
    with transaction(sessions) as session:
        return ReplayReasonPublic.model_validate(
            evidence_steps.give_reason(
                session, requester(login, request), case_key, body.reason, now()
            )
        )


@router.get("/api/cases/{case_key}/evidence-package")
def evidence_package(
    case_key: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    storage: StorageDep,
    login: LoginDep,
) -> FileResponse:
    """A zip: recordings, transcripts, the case record and history, the access log entries,
    SHA256SUMS and how to check it (``sha256sum -c SHA256SUMS``). Supervisors and
    investigators, with a reason in force; every attempt is logged."""
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


@router.post("/api/cases/{case_key}/legal-holds", response_model=HoldPublic, status_code=201)
def place_hold(
    case_key: str, body: ReasonBody, request: Request, sessions: WriterDep, login: Supervisor
) -> HoldPublic:
    """Keep the case's recordings whatever their age, until released."""
    with transaction(sessions) as session:
        return HoldPublic.model_validate(
            evidence_steps.place_hold(
                session, requester(login, request), case_key, body.reason, now()
            )
        )


@router.post("/api/cases/{case_key}/legal-holds/{hold_id}/release", response_model=HoldPublic)
def release_hold(
    case_key: str,
    hold_id: str,
    body: ReasonBody,
    request: Request,
    sessions: WriterDep,
    login: Supervisor,
) -> HoldPublic:
    with transaction(sessions) as session:
        return HoldPublic.model_validate(
            evidence_steps.release_hold(
                session, requester(login, request), case_key, hold_id, body.reason, now()
            )
        )


@router.post("/api/cases/{case_key}/recording-grants", response_model=GrantPublic, status_code=201)
def grant(
    case_key: str,
    body: GrantBody,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: Supervisor,
) -> GrantPublic:
    """Let a unit handling this case hear its recording (not the unit complained about,
    not for 举报, only with the complainant's consent to share their identity)."""
    with transaction(sessions) as session:
        return GrantPublic.model_validate(
            evidence_steps.grant_unit(
                session,
                requester(login, request),
                case_key,
                body.unit_id,
                body.reason,
                now(),
                settings.recording_grant_days,
            )
        )


@router.post("/api/cases/{case_key}/recording-grants/{grant_id}/revoke", status_code=204)
def revoke(
    case_key: str, grant_id: str, request: Request, sessions: WriterDep, login: Supervisor
) -> None:
    with transaction(sessions) as session:
        evidence_steps.revoke_grant(session, requester(login, request), case_key, grant_id, now())


# -- auditors and the store's health ----------------------------------------------------------


def access_log_public(log: evidence_view.AuditLog) -> AccessLogPublic:
    return AccessLogPublic(
        chain_intact=not log.breaks,
        chain_problems=[f"entry {b.position}: {b.problem}" for b in log.breaks],
        entries=[AccessPublic.model_validate(a) for a in log.entries],
    )


def access_log(session: Session, limit: int) -> AccessLogPublic:
    return access_log_public(evidence_view.audit_log(session, limit))


@router.get("/api/audit/recording-access", response_model=AccessLogPublic)
def audit_log(session: SessionDep, _login: Auditor, limit: int = 500) -> AccessLogPublic:
    """Every play, download, export and refused attempt, newest first, and whether the
    log's hash chain is whole."""
    return access_log(session, max(1, min(limit, 5000)))


def integrity_public(session: Session) -> IntegrityPublic:
    check = integrity.latest(session)
    if check is None:
        return IntegrityPublic(checked_at=None, ok=None, files_checked=0, problems=[])
    return IntegrityPublic(
        checked_at=check.checked_at,
        ok=check.ok,
        files_checked=check.files_checked,
        problems=[ProblemPublic(**p.__dict__) for p in integrity.problems_of(check)],
    )


@router.get("/api/integrity", response_model=IntegrityPublic)
def latest_check(session: SessionDep, _login: IntegrityReader) -> IntegrityPublic:
    """The last verification of the store."""
    return integrity_public(session)


@router.post("/api/integrity/run", response_model=IntegrityPublic)
def run_check(
    sessions: WriterDep, settings: SettingsDep, storage: StorageDep, _login: Supervisor
) -> IntegrityPublic:
    """Verify the store now (re-hash every file, and every object in the bucket when an
    object store is set; check the chains)."""
    integrity.check_and_record(sessions, settings.data_dir, now(), storage.remote)
    with sessions() as session:
        return integrity_public(session)
