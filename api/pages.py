"""The console's pages: the operator's workbench, calls, a call's page with player,
transcript and registration form, cases, and the knowledge base. Forms post back here;
a refused form comes back with a Chinese message at each wrong field."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData, UploadFile

from accounts.models import ROLE_LABELS, Role, is_leader
from api import evidence_transcripts, levels
from api.auth import CaseWorker, KnowledgeEditor, Login, LoginDep
from api.calls import (
    NO_MODEL,
    OUTCOME_LABELS,
    TRANSCRIPT_LABELS,
    transcript_labels,
    transcription_off,
)
from api.cases import intake_config
from api.deps import SessionDep, SettingsDep, WriterDep, get_rules, now
from api.evidence import requester
from api.guard import takes_uploads
from api.handling_context import Typed, handling_context
from api.knowledge import entry_or_404
from asr import jobs
from asr.channels import CALLER, OPERATOR
from core.db import transaction
from core.ids import is_id
from core.settings import Settings
from custody import integrity, listening, live_transcript, transcript_reads
from dispatch.cases.lifecycle import (
    ACTION_LABELS,
    OPEN,
    STATUS_LABELS,
    IllegalTransition,
    Status,
)
from dispatch.cases.models import Case
from dispatch.cases.registration import (
    CHANNEL_LABELS,
    DECISION_LABELS,
    TYPE_LABELS,
    Channel,
    Invalid,
)
from dispatch.handling import case_steps
from dispatch.intake import call_queue, case_store, correction, decisions, register
from dispatch.intake.case_store import AlreadyRegistered
from dispatch.knowledge import entries
from ivr import call_store
from recordings import lookup

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(levels.FILTERS)  # scores as 高/中/低, the number on hover
SPEAKERS = {CALLER: "来电人", OPERATOR: "话务员"}
CHOICES = {"channels": CHANNEL_LABELS, "types": TYPE_LABELS, "decisions": DECISION_LABELS}
OTHER_CHANNELS = {c: label for c, label in CHANNEL_LABELS.items() if c is not Channel.PHONE}


def store_alert(request: Request, login: Login) -> list[integrity.Problem] | None:
    """Supervisors and auditors see the last integrity check's problems on every page."""
    if login.role not in (Role.SUPERVISOR, Role.AUDITOR):
        return None
    with request.app.state.sessions() as session:
        check = integrity.latest(session)
        return integrity.problems_of(check) if check is not None and not check.ok else None


def render(
    request: Request,
    template: str,
    login: Login,
    settings: Settings,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {
            "store_alert": store_alert(request, login),
            "login": login,
            "role_label": ROLE_LABELS[login.role],
            "leader": is_leader(login.role),
            "zone": ZoneInfo(settings.timezone),
            "labels": OUTCOME_LABELS,
            "text_labels": transcript_labels(settings),
            "status_labels": STATUS_LABELS,
            "action_labels": ACTION_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "type_labels": TYPE_LABELS,
            "errors": {},
            **context,
        },
        status_code=status_code,
    )


def zh_errors(exc: Invalid) -> dict[str, str]:
    return {name: err.zh for name, err in exc.errors.items()}


def see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def form_values(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def uploads(form: FormData) -> list[register.Upload]:
    return [
        register.Upload(f.filename or "", f.file)
        for f in form.getlist("attachments")
        if isinstance(f, UploadFile) and f.filename
    ]


# -- workbench and calls ---------------------------------------------------------------------


def _workbench(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    waiting = call_queue.waiting_calls(session)
    shown = evidence_transcripts.summaries(
        session,
        request.app.state.sessions,
        settings,
        login,
        request,
        [w.call for w in waiting],
        transcript_reads.WORK_QUEUE,
    )
    return render(
        request,
        "workbench.html",
        login,
        settings,
        status_code=status_code,
        waiting=waiting,
        recordings=shown.recordings,
        texts=shown.texts,
        withheld=shown.withheld,
        withheld_labels=evidence_transcripts.WITHHELD_LABELS,
        callbacks=call_queue.callbacks(session),
        callback_labels=call_queue.CALLBACK_LABELS,
        errors=errors or {},
    )


@router.get("/", response_class=HTMLResponse)
def workbench(
    request: Request, session: SessionDep, settings: SettingsDep, login: LoginDep
) -> Response:
    """Each role's home: the workbench, a unit's portal, or the call list."""
    if login.role is Role.UNIT_HANDLER:
        return see("/unit")
    if login.role is Role.INVESTIGATOR:
        return see("/evidence")
    if login.role is Role.AUDITOR:
        return see("/audit")
    if login.role not in (Role.OPERATOR, Role.SUPERVISOR):
        return see("/calls")
    return _workbench(request, session, settings, login)


async def _queue_change(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    change: Any,
    missing: str,
) -> Response:
    """Apply a change from the workbench; a refused one comes back with its message."""
    try:
        await run_in_threadpool(change)
    except LookupError:
        raise HTTPException(status_code=404, detail=f"{missing} not found") from None
    except Invalid as exc:
        with sessions() as session:
            return _workbench(request, session, settings, login, zh_errors(exc), 422)
    return see("/")


def _call_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    call_id: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    call = call_store.get_call(session, call_id) if is_id(call_id) else None
    if call is None:
        raise HTTPException(status_code=404, detail="call not found")
    # The transcript, its text in the form and the suggestions drawn from it only for those
    # who may read it; shown or refused, it is in the access log.
    context, decision = evidence_transcripts.call_context_for(
        session,
        request.app.state.sessions,
        settings,
        login,
        request,
        call,
        transcript_reads.CALL_PAGE,
    )
    recording = lookup.of_call(session, call.id)
    job = jobs.job_of(session, recording) if recording else None
    job_state = TRANSCRIPT_LABELS.get(job.status, "") if job else "无录音，无法转写"
    # No speech model here and no live recogniser took the call: say so, never "waiting".
    off = transcription_off(settings) and not live_transcript.has_streams(session, call)
    if off and job is not None and job.status == "queued":
        job_state = NO_MODEL
    return render(
        request,
        "call.html",
        login,
        settings,
        status_code=status_code,
        call=call,
        recording=recording,
        transcript=context.transcript,
        job_state=job_state or "转写完成，无语音",
        transcript_refused=decision if decision is not None and not decision.allowed else None,
        speakers=SPEAKERS,
        existing=case_store.case_for_call(session, call.id),
        values=values if values is not None else context.form,
        # The hint says the content came from a transcript only when it did.
        prefilled=values is None and bool(context.form["content"]),
        live=live_transcript.worth_following(session, call),
        transcription_off=off,
        overflow_legs=call_store.overflow_legs(session, call),  # Issue 18, H7
        phone_call=True,
        name_hint="来电显示的名称，未经核实，请向来电人确认"
        if values is None and context.name_unverified
        else "",
        errors=errors or {},
        choices=CHOICES,
        type_reason=context.type_reason,
        subjects=context.subjects,
        numbers=context.numbers,
        earlier_calls=context.earlier_calls,
        earlier_cases=context.earlier_cases,
        same_phone_unfinished=context.same_phone_unfinished,
        similar=context.similar,
        with_attachments=False,
        replay_refused=listening.refusal(
            session, requester(login, request), recording, now(), settings.operator_replay_days
        )
        if recording
        else None,
    )


@router.get("/calls/{call_id}", response_class=HTMLResponse)
def call_page(
    call_id: str, request: Request, session: SessionDep, settings: SettingsDep, login: CaseWorker
) -> HTMLResponse:
    return _call_page(request, session, settings, login, call_id)


@router.post("/calls/{call_id}/register", response_class=HTMLResponse)
async def register_call(
    call_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    form = await request.form()
    values = form_values(form)
    try:
        case = await run_in_threadpool(
            register.register,
            sessions,
            intake_config(settings, get_rules(request)),
            values,
            [],
            login.username,
            now(),
            call_id,
        )
    except Invalid as exc:
        with sessions() as session:
            return _call_page(
                request, session, settings, login, call_id, values, zh_errors(exc), status_code=422
            )
    except AlreadyRegistered as exc:
        return see(f"/cases/{exc.case_id}")
    except case_store.NotFound:
        raise HTTPException(status_code=404, detail="call not found") from None
    return see(f"/cases/{case.id}?created=1")


@router.post("/calls/{call_id}/dismissal")
async def dismiss_call(
    call_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    reason = str((await request.form()).get("reason", ""))

    def change() -> None:
        with transaction(sessions) as session:
            call_queue.dismiss(session, call_id, reason, login.username, now())

    return await _queue_change(request, sessions, settings, login, change, "call")


@router.post("/callbacks/{request_id}/attempts")
async def callback_attempt(
    request_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    form = await request.form()

    def change() -> None:
        record_attempt(sessions, request_id, form, login.username)

    return await _queue_change(request, sessions, settings, login, change, "callback request")


def record_attempt(
    sessions: sessionmaker[Session], request_id: str, form: FormData, actor: str
) -> None:
    """A callback attempt (outcome, note) from a page's form, for the workbench and the
    callbacks page alike."""
    with transaction(sessions) as session:
        call_queue.record_attempt(
            session,
            request_id,
            str(form.get("outcome", "")),
            str(form.get("note", "")),
            actor,
            now(),
        )


# -- cases ------------------------------------------------------------------------------------


def _new_case_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "case_new.html",
        login,
        settings,
        status_code=status_code,
        values=values,
        errors=errors,
        choices={**CHOICES, "channels": OTHER_CHANNELS},
        type_reason="",
        subjects=[],
        numbers=[],
        with_attachments=True,
        max_mb=settings.attachment_max_bytes // (1024 * 1024),
        max_files=settings.attachment_max_files,
        same_phone_unfinished=case_store.unfinished_with_phone(
            session, values.get("complainant_phone", "")
        ),
        similar=case_store.similar(
            session, values.get("content", ""), now(), settings.similar_case_days
        ),
    )


@router.get("/cases/new", response_class=HTMLResponse)
def new_case(
    request: Request, session: SessionDep, settings: SettingsDep, login: CaseWorker
) -> HTMLResponse:
    zone = ZoneInfo(settings.timezone)
    values = {
        "received_at": now().astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "channel": Channel.WALK_IN.value,
    }
    return _new_case_page(request, session, settings, login, values, {})


@router.post("/cases", response_class=HTMLResponse)
@router.post("/cases/new", response_class=HTMLResponse)  # the form's own address
@takes_uploads
async def create_case(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    async with request.form() as form:
        return await _create_case(request, sessions, settings, login, form)


async def _create_case(
    request: Request, sessions: WriterDep, settings: Settings, login: Login, form: FormData
) -> Response:
    values = form_values(form)
    try:
        case = await run_in_threadpool(
            register.register,
            sessions,
            intake_config(settings, get_rules(request)),
            values,
            uploads(form),
            login.username,
            now(),
        )
    except Invalid as exc:
        with sessions() as session:
            return _new_case_page(
                request, session, settings, login, values, zh_errors(exc), status_code=422
            )
    return see(f"/cases/{case.id}?created=1")


def _correction_context(case: Case, settings: Settings) -> dict[str, Any]:
    """The 更正登记 form on the case page: the saved fields, and the channels it may take
    (a phone case stays one)."""
    phone = case.channel == Channel.PHONE.value
    return {
        "correction_values": correction.form_of(case, ZoneInfo(settings.timezone)),
        "correction_errors": {},
        "correction_choices": {
            **CHOICES,
            "channels": {Channel.PHONE: CHANNEL_LABELS[Channel.PHONE]} if phone else OTHER_CHANNELS,
        },
    }


def case_page_response(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    case_id: str,
    errors: dict[str, str] | None = None,
    message: str = "",
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
    handling_form: Typed | None = None,
) -> HTMLResponse:
    case = case_store.get(session, case_id) if is_id(case_id) else None
    if case is None:
        raise HTTPException(status_code=404, detail="case not found")
    is_open = case.status in OPEN
    return render(
        request,
        "case.html",
        login,
        settings,
        status_code=status_code,
        case=case,
        created=request.query_params.get("created") == "1",
        message=message,
        errors=errors or {},
        decisions=DECISION_LABELS,
        is_open=is_open,
        **{**_correction_context(case, settings), **(extra or {})},
        knowledge_entries=[hit.entry for hit in entries.search(session, "", limit=500)]
        if case.status == Status.REGISTERED
        else [],
        merged_into=case_store.get(session, case.merged_into_id) if case.merged_into_id else None,
        same_phone_unfinished=case_store.unfinished_with_phone(
            session, case.complainant_phone, case.id
        )
        if is_open
        else [],
        merged_cases=case_store.merged_into(session, case.id),
        similar=case_store.similar(
            session, f"{case.title} {case.content}", now(), settings.similar_case_days, case.id
        )
        if is_open
        else [],
        **handling_context(request, session, case, settings, handling_form),
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: str, request: Request, session: SessionDep, settings: SettingsDep, login: CaseWorker
) -> HTMLResponse:
    return case_page_response(request, session, settings, login, case_id)


async def _case_change(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    case_id: str,
    change: Any,
) -> Response:
    try:
        await run_in_threadpool(change)
    except Invalid as exc:
        errors = zh_errors(exc)
    except IllegalTransition as exc:
        errors = {"status": exc.message_zh}
    except case_store.NotFound:
        raise HTTPException(status_code=404, detail="case not found") from None
    else:
        return see(f"/cases/{case_id}")
    with sessions() as session:
        return case_page_response(
            request, session, settings, login, case_id, errors, status_code=422
        )


@router.post("/cases/{case_id}/decision", response_class=HTMLResponse)
async def case_decision(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    """受理意见, as ``POST /api/cases/{case}/decision``: 即办 answers from the chosen
    knowledge entry or in the operator's words."""
    form = form_values(await request.form())
    rules = get_rules(request)

    def change() -> None:
        order = decisions.DecisionOrder(
            decisions.parse_decision(form.get("decision", "")),
            form.get("reason", ""),
            form.get("refer_to", ""),
            form.get("reply_text", ""),
            form.get("knowledge_entry_id", ""),
        )
        case_steps.run(
            sessions,
            case_id,
            lambda s, c: decisions.decide(s, c, order, login.username, now(), rules),
        )

    return await _case_change(request, sessions, settings, login, case_id, change)


@router.post("/cases/{case_id}/merge", response_class=HTMLResponse)
async def case_merge(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    form = form_values(await request.form())

    def change() -> None:
        case_steps.run(
            sessions,
            case_id,
            lambda s, c: decisions.merge(
                s,
                c,
                form.get("into_pick") or form.get("into", ""),  # a listed case, or one typed
                form.get("reason", ""),
                login.username,
                now(),
            ),
        )

    return await _case_change(request, sessions, settings, login, case_id, change)


@router.post("/cases/{case_id}/attachments", response_class=HTMLResponse)
@takes_uploads
async def case_attachments(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    async with request.form() as form:
        files = uploads(form)

        def change() -> None:
            register.add_attachments(
                sessions, intake_config(settings), case_id, files, login.username, now()
            )

        return await _case_change(request, sessions, settings, login, case_id, change)


# -- knowledge base ---------------------------------------------------------------------------

# What a change of the knowledge base did, told once on the page it lands on (the GET after
# the POST: a refresh repeats nothing).
KNOWLEDGE_DONE = {"created": "已新增条目", "saved": "已保存修改", "retired": "已停用条目"}


def _knowledge_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    query: str = "",
    message: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    editing: str = "",
) -> HTMLResponse:
    """The knowledge base; a refused form (``editing``: "new" or the entry's id) comes back
    with what was typed (``values``) and each message at its field."""
    return render(
        request,
        "knowledge.html",
        login,
        settings,
        status_code=status_code,
        query=query,
        hits=entries.search(session, query, limit=50),
        editor=login.role is Role.SUPERVISOR,
        message=message,
        errors=errors or {},
        values=values or {},
        editing=editing,
    )


@router.get("/knowledge", response_class=HTMLResponse)
def knowledge_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: CaseWorker,
    q: str = "",
    done: str = "",
) -> HTMLResponse:
    return _knowledge_page(request, session, settings, login, q[:200], KNOWLEDGE_DONE.get(done, ""))


async def _knowledge_change(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    change: Any,
    done: str,
    values: dict[str, str] | None = None,
    editing: str = "",
) -> Response:
    """Apply a change; done, the page is fetched again (POST-redirect-GET: a refresh adds
    nothing twice); refused, the form comes back as it was typed."""
    try:
        await run_in_threadpool(change)
    except Invalid as exc:
        with sessions() as session:
            return _knowledge_page(
                request,
                session,
                settings,
                login,
                errors=zh_errors(exc),
                status_code=422,
                values=values,
                editing=editing,
            )
    return see(f"/knowledge?done={done}")


@router.post("/knowledge", response_class=HTMLResponse)
async def knowledge_create(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: KnowledgeEditor
) -> Response:
    values = form_values(await request.form())
    fields: dict[str, object] = dict(values)

    def change() -> None:
        with transaction(sessions) as session:
            entries.create(session, fields, login.username, now())

    return await _knowledge_change(
        request, sessions, settings, login, change, "created", values, "new"
    )


@router.post("/knowledge/{entry_id}", response_class=HTMLResponse)
async def knowledge_update(
    entry_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: KnowledgeEditor,
) -> Response:
    values = form_values(await request.form())
    fields: dict[str, object] = dict(values)

    def change() -> None:
        with transaction(sessions) as session:
            entry = entry_or_404(session, entry_id)
            entries.update(session, entry, fields, login.username, now())

    return await _knowledge_change(
        request, sessions, settings, login, change, "saved", values, entry_id
    )


@router.post("/knowledge/{entry_id}/retire", response_class=HTMLResponse)
async def knowledge_retire(
    entry_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: KnowledgeEditor,
) -> Response:
    def change() -> None:
        with transaction(sessions) as session:
            entries.retire(entry_or_404(session, entry_id), login.username, now())

    return await _knowledge_change(request, sessions, settings, login, change, "retired")
