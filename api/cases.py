"""Cases over JSON: register (from a call or another channel), read, decide acceptance,
merge, evidence, and the repeats and look-alikes for a form."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import evidence_transcripts
from api.auth import CaseWorker
from api.calls import call_public, calls_public
from api.case_schemas import (
    AttachmentPublic,
    CaseCorrectionIn,
    CasePublic,
    CaseSummary,
    DecisionIn,
    MergeIn,
    PhoneCheck,
    PhoneCheckIn,
    RegistrationContext,
    RegistrationIn,
    Related,
    RepeatCase,
    SimilarCase,
)
from api.deps import RulesDep, SessionDep, SettingsDep, WriterDep, now
from api.guard import takes_uploads
from api.stored_files import StorageDep, store_errors, stored_response
from core.ids import is_id
from core.settings import Settings
from custody import transcript_reads
from dispatch.cases import attachment_files, registration
from dispatch.cases.attachment_files import AttachmentFile
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines.stage_clocks import Rules
from dispatch.handling import case_steps
from dispatch.intake import case_lookup, case_store, correction, decisions, register
from ivr import call_store
from recordings.storage import Storage

router = APIRouter(tags=["cases"])


def intake_config(settings: Settings, rules: Rules | None = None) -> register.IntakeConfig:
    return register.IntakeConfig(
        ZoneInfo(settings.timezone),
        settings.case_number_format,
        settings.attachments_dir,
        settings.attachment_max_bytes,
        settings.attachment_max_files,
        rules,
    )


def find_case(session: SessionDep, key: str) -> Case:
    """A case by id or by number (404 if none)."""
    return case_lookup.find(session, key)


def related(
    session: SessionDep, settings: Settings, phone: str, text: str, exclude: str | None = None
) -> Related:
    return Related(
        same_phone_unfinished=[
            RepeatCase.of(r) for r in case_store.unfinished_with_phone(session, phone, exclude)
        ],
        similar=[
            SimilarCase(case=CaseSummary.model_validate(s.case), score=s.score)
            for s in case_store.similar(session, text, now(), settings.similar_case_days, exclude)
        ],
    )


@router.post("/api/cases", response_model=CasePublic, status_code=201)
def register_case(
    body: RegistrationIn,
    sessions: WriterDep,
    settings: SettingsDep,
    rules: RulesDep,
    login: CaseWorker,
) -> CasePublic:
    """Register a case (登记). With ``call_id`` it is linked to the call, its recording and
    transcript. Fields are checked; a 422 lists each wrong field. The number, the links, the
    first history entry and any decision land together or not at all."""
    form = body.model_dump(exclude={"call_id"})
    case = register.register(
        sessions,
        intake_config(settings, rules),
        form,
        [],
        login.username,
        now(),
        call_id=body.call_id,
    )
    return case_public(sessions, case.id)


def public(session: SessionDep, case: Case) -> CasePublic:
    recording_id, transcript_id = case_store.current_links(session, case)
    return CasePublic.model_validate(case).model_copy(
        update={"recording_id": recording_id, "transcript_id": transcript_id}
    )


def case_public(sessions: WriterDep, case_id: str) -> CasePublic:
    with sessions() as session:
        case = case_store.get(session, case_id)
        assert case is not None
        return public(session, case)


@router.get("/api/cases/related", response_model=Related)
def related_cases(
    session: SessionDep,
    settings: SettingsDep,
    _login: CaseWorker,
    phone: Annotated[str, Query(max_length=32)] = "",
    text: Annotated[str, Query(max_length=5000)] = "",
    exclude: Annotated[str | None, Query(max_length=32)] = None,
) -> Related:
    """Unfinished cases with this phone number (at a unit too), and cases with similar
    text: the candidates for 并单."""
    return related(session, settings, phone, text, exclude)


@router.post("/api/phone-check", response_model=PhoneCheck)
def phone_check(body: PhoneCheckIn, _login: CaseWorker) -> PhoneCheck:
    """Whether a contact phone passes the registration's rule, and how a case would hold
    it: an 11-digit mobile or a landline with its area code, full-width digits read as
    ASCII, an extension after 转 (分机, ext., x, # too). Empty is valid here."""
    problem = registration.phone_problem(body.value)
    if problem is not None:
        return PhoneCheck(valid=False, phone="", message=problem.en, message_zh=problem.zh)
    return PhoneCheck(
        valid=True, phone=registration.normalise_contact(body.value), message="", message_zh=""
    )


@router.get("/api/cases/{case_key}", response_model=CasePublic)
def get_case(case_key: str, session: SessionDep, _login: CaseWorker) -> CasePublic:
    """One case by id or number, with its history and evidence."""
    return public(session, find_case(session, case_key))


@router.patch("/api/cases/{case_key}", response_model=CasePublic)
def correct_case(
    case_key: str,
    body: CaseCorrectionIn,
    sessions: WriterDep,
    settings: SettingsDep,
    login: CaseWorker,
) -> CasePublic:
    """更正登记: correct a saved registration while the case is unfinished (409 once it is
    closed), with a reason; one history entry names what changed (never a person's
    identity). A wrong field, no reason or no change: 422 at the field."""
    given = body.model_dump(exclude={"reason"}, exclude_none=True)
    case_id, _ = case_steps.run(
        sessions,
        case_key,
        lambda s, c: correction.correct(
            s, c, given, body.reason, login.username, now(), ZoneInfo(settings.timezone)
        ),
    )
    return case_public(sessions, case_id)


@router.post("/api/cases/{case_key}/decision", response_model=CasePublic)
def decide(
    case_key: str, body: DecisionIn, sessions: WriterDep, rules: RulesDep, login: CaseWorker
) -> CasePublic:
    """受理 (accept), 不予受理 (reject: reason and the body to turn to; the reply text is
    made if not given) or 即办 (on_spot: answered from the knowledge base, then closed)."""
    order = decisions.DecisionOrder(
        body.decision, body.reason, body.refer_to, body.reply_text, body.knowledge_entry_id
    )
    case_id, _ = case_steps.run(
        sessions, case_key, lambda s, c: decisions.decide(s, c, order, login.username, now(), rules)
    )
    return case_public(sessions, case_id)


@router.post("/api/cases/{case_key}/merge", response_model=CasePublic)
def merge(case_key: str, body: MergeIn, sessions: WriterDep, login: CaseWorker) -> CasePublic:
    """并单: handle this case (not yet dispatched) as part of another unfinished case (named
    by number or id; one at a unit too), with a reason; the other case's history records
    it. A finished case takes nothing in (409)."""
    case_id, _ = case_steps.run(
        sessions,
        case_key,
        lambda s, c: decisions.merge(s, c, body.into, body.reason, login.username, now()),
    )
    return case_public(sessions, case_id)


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


@router.post(
    "/api/cases/{case_key}/attachments",
    response_model=list[AttachmentPublic],
    status_code=201,
    openapi_extra=UPLOAD_BODY,
)
@takes_uploads
async def add_attachments(
    case_key: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> list[AttachmentPublic]:
    """Evidence for an open case (multipart ``files``). Types are read from the content:
    pdf, jpg, png, tiff, wav, mp3, docx, txt; size and count are limited by settings.
    The body is read only after the session, the role and the case's room for more files
    have been checked, and no further than that room allows."""
    config = intake_config(settings)

    def room() -> tuple[str, int]:
        with sessions() as session:
            case = find_case(session, case_key)
            return case.id, register.room_for_attachments(case, config.max_files)

    case_id, free = await run_in_threadpool(room)
    try:
        form = await request.form(max_files=free)
    except StarletteHTTPException as exc:
        if exc.status_code == 400 and str(exc.detail).startswith("Too many files"):
            raise Invalid(
                {
                    "attachments": FieldError(
                        f"每个案件最多 {config.max_files} 个文件",
                        f"at most {config.max_files} files per case",
                    )
                }
            ) from None
        raise
    try:
        files = [
            register.Upload(f.filename or "", f.file)
            for f in form.getlist("files")
            if isinstance(f, UploadFile)
        ]
        ids = await run_in_threadpool(
            register.add_attachments, sessions, config, case_id, files, login.username, now()
        )
    finally:
        await form.close()
    with sessions() as session:
        return [AttachmentPublic.model_validate(a) for a in attachment_files.listed(session, ids)]


def attachment_download(
    request: Request, storage: Storage, found: AttachmentFile | None
) -> Response:
    """The attachment's file, always as a download, never rendered by the browser, from
    wherever its bytes are (the data folder, else the object store); 404 if the door found
    none for this login."""
    if found is None:
        raise HTTPException(status_code=404, detail="attachment not found")
    return stored_response(
        request,
        storage,
        found.stored,
        found.attachment.sha256,
        found.attachment.content_type,
        {"X-Content-Type-Options": "nosniff"},
        filename=found.attachment.filename,
        content_disposition_type="attachment",
    )


@router.get("/api/attachments/{attachment_id}", tags=["cases"])
def download_attachment(
    attachment_id: str,
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    _login: CaseWorker,
) -> Response:
    """An evidence file by its id, always as a download, never rendered by the browser."""
    with store_errors():
        found = attachment_files.find(session, storage, attachment_id)
    return attachment_download(request, storage, found)


@router.get("/api/calls/{call_id}/registration", response_model=RegistrationContext)
def registration_context(
    call_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> RegistrationContext:
    """The form for this call, pre-filled: time, channel, caller's number, numbers spoken,
    suggested type (with the word that suggested it), subject and title; the caller's earlier
    calls and cases; open cases from the same number; similar cases. What comes from the
    transcript only for those who may read it (the replay rules; the read is logged);
    ``transcript_withheld`` says why not."""
    with sessions() as session:
        call = call_store.get_call(session, call_id) if is_id(call_id) else None
        if call is None:
            raise HTTPException(status_code=404, detail="call not found")
        context, decision = evidence_transcripts.call_context_for(
            session, sessions, settings, login, request, call, transcript_reads.REGISTRATION
        )
        return RegistrationContext(
            call=call_public(session, call),
            form=context.form,
            transcript_withheld=decision.refusal_en if decision and not decision.allowed else None,
            type_reason=context.type_reason,
            subjects=context.subjects,
            numbers=context.numbers,
            earlier_calls=calls_public(session, context.earlier_calls),
            earlier_cases=[CaseSummary.model_validate(c) for c in context.earlier_cases],
            same_phone_unfinished=[RepeatCase.of(r) for r in context.same_phone_unfinished],
            similar=[
                SimilarCase(case=CaseSummary.model_validate(s.case), score=s.score)
                for s in context.similar
            ],
        )
