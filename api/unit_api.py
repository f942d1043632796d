"""The handling unit's portal over JSON: its own cases only, the complainant's identity
and evidence withheld where the rules say so; sign, return, reply, ask for an extension."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from api.auth import Login, UnitHandler
from api.cases import attachment_download
from api.deps import RulesDep, SessionDep, SettingsDep, WriterDep, now
from api.handling_schemas import (
    ExtensionIn,
    ExtensionPublic,
    ReasonIn,
    ReplyBody,
    ReplyPublic,
    UnitCaseSummary,
    UnitCaseView,
)
from dispatch.cases.handling_models import Unit
from dispatch.cases.models import Case
from dispatch.handling import steps, unit_portal

router = APIRouter(tags=["unit portal"])
T = TypeVar("T")


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
        attachments=seen.attachment_ids,
        evidence_withheld=seen.evidence_withheld,
        return_allowed_until=seen.return_allowed_until,
        reminders=seen.reminders,
    )


@router.get("/api/unit/cases", response_model=list[UnitCaseSummary])
def my_cases(session: SessionDep, login: UnitMember) -> list[UnitCaseSummary]:
    unit = unit_portal.own_unit(session, login.user_id)
    return [
        UnitCaseSummary(
            id=item.case.id,
            number=item.case.number,
            status=item.case.status,
            title=unit_portal.title_for(item.case, unit.id),
            role=item.assignment.role,
            due_on=item.due_on,
            provisional=item.provisional,
        )
        for item in unit_portal.cases_of(session, unit.id)
    ]


@router.get("/api/unit/cases/{case_key}", response_model=UnitCaseView)
def my_case(case_key: str, session: SessionDep, login: UnitMember) -> UnitCaseView:
    case, unit = unit_portal.own_case(session, login.user_id, case_key)
    return case_view(session, case, unit)


@router.get("/api/unit/cases/{case_key}/attachments/{attachment_id}")
def my_attachment(
    case_key: str, attachment_id: str, session: SessionDep, settings: SettingsDep, login: UnitMember
) -> FileResponse:
    case, unit = unit_portal.own_case(session, login.user_id, case_key)
    return attachment_download(
        unit_portal.attachment_file(session, case, unit.id, attachment_id, settings.attachments_dir)
    )


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
