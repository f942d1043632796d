"""The handling unit's portal over JSON: its own cases only, the complainant's identity
and evidence withheld where the rules say so; the time left on each case and the counts of
new and sent-back cases; the case's history as the unit may read it; the unit's replies with
the centre's review and their files; sign, return, reply (with files), ask for an extension."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import Login, UnitHandler
from api.case_schemas import AttachmentPublic
from api.cases import attachment_download
from api.deps import RulesDep, SessionDep, SettingsDep, WriterDep, now
from api.guard import takes_uploads
from api.handling_schemas import (
    ExtensionIn,
    ExtensionPublic,
    ReasonIn,
    ReplyBody,
    ReplyPublic,
    UnitCaseSummary,
    UnitCaseView,
)
from api.stored_files import StorageDep, store_errors
from core.settings import Settings
from dispatch.cases import attachment_files
from dispatch.cases.handling_models import Unit
from dispatch.cases.lifecycle import ACTION_LABELS, Action
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.handling import steps, unit_desk, unit_portal, unit_replies
from dispatch.handling.steps import Finding
from dispatch.intake.register import Upload

router = APIRouter(tags=["unit portal"])


def unit_member(session: SessionDep, login: UnitHandler) -> Login:
    """A unit handler whose account belongs to a unit (checked before any body is read)."""
    unit_portal.own_unit(session, login.user_id)
    return login


UnitMember = Annotated[Login, Depends(unit_member)]


def case_view(session: Session, case: Case, unit: Unit) -> UnitCaseView:
    seen = unit_portal.view(session, case, unit.id)
    return UnitCaseView(
        id=case.id,
        number=case.number,
        status=case.status,
        title=seen.title,
        role=seen.assignment.role,
        due_on=seen.due_on,
        provisional=seen.provisional,
        case_type=case.case_type,
        received_at=case.received_at,
        complainant_name=seen.complainant_name,
        complainant_phone=seen.complainant_phone,
        complainant_address=seen.complainant_address,
        identity_shown=seen.identity_shown,
        subject_unit=case.subject_unit,
        subject_window=case.subject_window,
        subject_person=seen.subject_person,
        content=seen.content,
        request=seen.request,
        instructions=seen.assignment.instructions,
        attachments=[a.id for a in unit_desk.readable_attachments(session, case, unit.id)],
        evidence_withheld=seen.evidence_withheld,
        return_allowed_until=seen.return_allowed_until,
        reminders=seen.reminders,
    )


class TimeLeftPublic(BaseModel):
    """Where the unit's handling deadline stands today."""

    due_on: dt.date
    days: int
    overdue: bool
    working_days: bool
    label: str


class UnitDeskItem(UnitCaseSummary):
    time_left: TimeLeftPublic | None
    new: bool
    sent_back: bool


class UnitCounts(BaseModel):
    """What waits for the unit: new cases (not signed), replies sent back (退回重办), overdue
    and due-soon cases."""

    new: int
    sent_back: int
    overdue: int
    due_soon: int


def time_left_public(left: unit_desk.TimeLeft | None) -> TimeLeftPublic | None:
    if left is None:
        return None
    return TimeLeftPublic(
        due_on=left.due_on,
        days=left.days,
        overdue=left.overdue,
        working_days=left.working_days,
        label=left.label,
    )


def desk_item(row: unit_desk.DeskRow) -> UnitDeskItem:
    return UnitDeskItem(
        id=row.case.id,
        number=row.case.number,
        status=row.case.status,
        title=row.title,
        role=row.assignment.role,
        due_on=row.due_on,
        provisional=row.provisional,
        time_left=time_left_public(row.left),
        new=row.new,
        sent_back=row.sent_back,
    )


@router.get("/api/unit/cases", response_model=list[UnitDeskItem])
def my_cases(session: SessionDep, rules: RulesDep, login: UnitMember) -> list[UnitDeskItem]:
    """The unit's open cases, most urgent first (overdue, due soon, then by time left), then
    the lately finished ones."""
    unit = unit_portal.own_unit(session, login.user_id)
    desk = unit_desk.desk(session, unit.id, rules, now())
    return [desk_item(row) for row in [*desk.open, *desk.done]]


@router.get("/api/unit/summary", response_model=UnitCounts)
def my_counts(session: SessionDep, rules: RulesDep, login: UnitMember) -> UnitCounts:
    """The counts a handler sees at log-in."""
    unit = unit_portal.own_unit(session, login.user_id)
    counts = unit_desk.desk(session, unit.id, rules, now()).counts
    return UnitCounts(
        new=counts.new, sent_back=counts.sent_back, overdue=counts.overdue, due_soon=counts.due_soon
    )


@router.get("/api/unit/cases/{case_key}", response_model=UnitCaseView)
def my_case(case_key: str, session: SessionDep, login: UnitMember) -> UnitCaseView:
    case, unit = unit_portal.own_case(session, login.user_id, case_key)
    return case_view(session, case, unit)


class UnitHistoryEntry(BaseModel):
    at: dt.datetime
    action: str
    label: str
    actor: str
    note: str


@router.get("/api/unit/cases/{case_key}/history", response_model=list[UnitHistoryEntry])
def my_case_history(
    case_key: str, session: SessionDep, login: UnitMember
) -> list[UnitHistoryEntry]:
    """The case's history as the unit may read it: its registration and acceptance, then
    what happened since it reached the unit; nothing about other units, the notes masked
    like the case's text."""
    case, unit = unit_portal.own_case(session, login.user_id, case_key)
    return [
        UnitHistoryEntry(
            at=e.at,
            action=e.action,
            label=ACTION_LABELS.get(Action(e.action), e.action),
            actor=e.actor,
            note=e.note,
        )
        for e in unit_desk.history(session, case, unit.id)
    ]


class UnitReplyPublic(BaseModel):
    """One of the unit's replies, the centre's review of it (退回重办 with the reviewer's
    note) and its files."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    at: dt.datetime
    by: str
    facts: str
    finding: str
    measures: str
    responsible_handling: str
    review: str
    reviewed_at: dt.datetime | None
    review_note: str
    attachments: list[AttachmentPublic]


def reply_public(own: unit_desk.OwnReply) -> UnitReplyPublic:
    r = own.reply
    return UnitReplyPublic(
        id=r.id,
        at=r.at,
        by=r.by,
        facts=r.facts,
        finding=r.finding,
        measures=r.measures,
        responsible_handling=r.responsible_handling,
        review=r.review,
        reviewed_at=r.reviewed_at,
        review_note=own.review_note,
        attachments=[AttachmentPublic.model_validate(a) for a in own.attachments],
    )


@router.get("/api/unit/cases/{case_key}/replies", response_model=list[UnitReplyPublic])
def my_replies(case_key: str, session: SessionDep, login: UnitMember) -> list[UnitReplyPublic]:
    """The unit's replies on the case, newest first, with the centre's review."""
    case, unit = unit_portal.own_case(session, login.user_id, case_key)
    return [reply_public(r) for r in unit_desk.own_replies(session, case, unit.id)]


@router.get("/api/unit/cases/{case_key}/attachments/{attachment_id}")
def my_attachment(
    case_key: str,
    attachment_id: str,
    request: Request,
    session: SessionDep,
    storage: StorageDep,
    login: UnitMember,
) -> Response:
    """A file of the case the unit may open: the complainant's evidence where the rules allow
    it, and the files of the unit's own replies."""
    case, unit = unit_portal.own_case(session, login.user_id, case_key)
    attachment = unit_desk.readable_attachment(session, case, unit.id, attachment_id)
    with store_errors():
        found = attachment_files.file_of(storage, attachment) if attachment else None
    return attachment_download(request, storage, found)


def _after(sessions: WriterDep, login: Login, case_id: str) -> UnitCaseView:
    with sessions() as session:
        case, unit = unit_portal.own_case(session, login.user_id, case_id)
        return case_view(session, case, unit)


@router.post("/api/unit/cases/{case_key}/sign", response_model=UnitCaseView)
def sign(case_key: str, sessions: WriterDep, login: UnitMember) -> UnitCaseView:
    """签收."""
    case_id, _ = unit_portal.run_step(
        sessions,
        login.user_id,
        case_key,
        lambda s, c, unit_id: steps.sign(s, c, unit_id, login.username, now()),
    )
    return _after(sessions, login, case_id)


@router.post("/api/unit/cases/{case_key}/start", response_model=UnitCaseView)
def start(case_key: str, sessions: WriterDep, login: UnitMember) -> UnitCaseView:
    case_id, _ = unit_portal.run_step(
        sessions,
        login.user_id,
        case_key,
        lambda s, c, unit_id: steps.start_work(s, c, unit_id, login.username, now()),
    )
    return _after(sessions, login, case_id)


@router.post("/api/unit/cases/{case_key}/return", status_code=204)
def give_back(
    case_key: str, body: ReasonIn, sessions: WriterDep, rules: RulesDep, login: UnitMember
) -> None:
    """退回: not this unit's business, with the reasons, within the allowed working days."""
    unit_portal.run_step(
        sessions,
        login.user_id,
        case_key,
        lambda s, c, unit_id: steps.unit_return(
            s, c, unit_id, body.reason, login.username, now(), rules
        ),
    )


@router.post("/api/unit/cases/{case_key}/reply", response_model=ReplyPublic)
def reply(
    case_key: str, body: ReplyBody, sessions: WriterDep, rules: RulesDep, login: UnitMember
) -> ReplyPublic:
    """The result: facts found, 属实/部分属实/不属实, measures taken."""
    answer = steps.ReplyIn(body.facts, body.finding, body.measures, body.responsible_handling)
    _, row = unit_portal.run_step(
        sessions,
        login.user_id,
        case_key,
        lambda s, c, unit_id: steps.reply(s, c, unit_id, answer, login.username, now(), rules),
    )
    return ReplyPublic.model_validate(row)


@router.post("/api/unit/cases/{case_key}/extension", response_model=ExtensionPublic)
def ask_extension(
    case_key: str, body: ExtensionIn, sessions: WriterDep, rules: RulesDep, login: UnitMember
) -> ExtensionPublic:
    """延期 request, before the deadline, for a supervisor to decide."""
    _, row = unit_portal.run_step(
        sessions,
        login.user_id,
        case_key,
        lambda s, c, unit_id: steps.request_extension(
            s, c, unit_id, body.days, body.reason, login.username, now(), rules
        ),
    )
    return ExtensionPublic.model_validate(row)


def reply_files(settings: Settings) -> unit_replies.FileRules:
    return unit_replies.FileRules(
        settings.attachments_dir, settings.attachment_max_bytes, settings.attachment_max_files
    )


async def read_reply_form(request: Request, settings: Settings) -> FormData:
    """The multipart body of a reply; more files than a reply may carry is a field error."""
    try:
        return await request.form(max_files=settings.attachment_max_files)
    except StarletteHTTPException as exc:
        if exc.status_code == 400 and str(exc.detail).startswith("Too many files"):
            limit = settings.attachment_max_files
            raise Invalid(
                {
                    unit_replies.FILES_FIELD: FieldError(
                        f"每次回复最多上传 {limit} 个附件", f"at most {limit} files per reply"
                    )
                }
            ) from None
        raise


def form_uploads(form: FormData, field: str) -> list[Upload]:
    return [
        Upload(f.filename or "", f.file)
        for f in form.getlist(field)
        if isinstance(f, UploadFile) and f.filename
    ]


def reply_in(values: dict[str, str]) -> steps.ReplyIn:
    """The reply's fields from a form; every missing field (the finding too) is a field
    error, all at once."""
    facts, measures = values.get("facts", ""), values.get("measures", "")
    errors = unit_replies.missing_text(facts, measures)
    try:
        finding = Finding(values.get("finding", ""))
    except ValueError:
        errors["finding"] = FieldError("请选择核实结论", "choose a finding")
    if errors:
        raise Invalid(errors)
    return steps.ReplyIn(facts, finding, measures, values.get("responsible_handling", ""))


REPLY_WITH_FILES = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["facts", "finding", "measures"],
                    "properties": {
                        "facts": {"type": "string"},
                        "finding": {"type": "string", "enum": [f.value for f in Finding]},
                        "measures": {"type": "string"},
                        "responsible_handling": {"type": "string"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            }
        },
    }
}


@router.post(
    "/api/unit/cases/{case_key}/replies",
    response_model=UnitReplyPublic,
    status_code=201,
    openapi_extra=REPLY_WITH_FILES,
)
@takes_uploads
async def reply_with_files(
    case_key: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    rules: RulesDep,
    login: UnitMember,
) -> UnitReplyPublic:
    """The result with its files (multipart: the reply's fields and ``files``): pdf, jpg,
    png, tiff, wav, mp3, docx or txt, each within the size limit, at most the configured
    number. The reply and its files land together or not at all."""
    form = await read_reply_form(request, settings)
    try:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        answer = reply_in(values)
        case_id, _ = await run_in_threadpool(
            unit_replies.submit,
            sessions,
            reply_files(settings),
            login.user_id,
            case_key,
            answer,
            form_uploads(form, "files"),
            login.username,
            now(),
            rules,
        )
    finally:
        await form.close()
    with sessions() as session:
        case, unit = unit_portal.own_case(session, login.user_id, case_id)
        return reply_public(unit_desk.own_replies(session, case, unit.id)[0])
