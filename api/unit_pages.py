"""The handling unit's portal: its cases most urgent first with the time left, the counts of
new and sent-back cases, each case as the unit may see it (with its history, the unit's
replies and the centre's review of them), and the unit's steps (sign, start, return, reply
with files, extension) posted from its forms. A refused form comes back with what was typed
and the message at its field."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.auth import Login, UnitHandler
from api.deps import SessionDep, SettingsDep, WriterDep, get_rules, now
from api.evidence import requester
from api.guard import takes_uploads
from api.handling_pages import REFUSALS, refusal
from api.pages import form_values, render, see
from api.unit_api import UnitMember, form_uploads, read_reply_form, reply_files, reply_in
from core.settings import Settings
from custody import listening
from dispatch.cases.lifecycle import ReasonRequired, Status, allowed_actions
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import Stage
from dispatch.handling import steps, supervision, unit_desk, unit_portal, unit_replies
from dispatch.handling.steps import FINDING_LABELS
from recordings import evidence

router = APIRouter(include_in_schema=False)
FORMS = ("reply", "extension", "return")


@router.get("/unit", response_class=HTMLResponse)
def unit_home(
    request: Request, session: SessionDep, settings: SettingsDep, login: UnitHandler
) -> HTMLResponse:
    unit = unit_portal.own_unit(session, login.user_id)
    desk = unit_desk.desk(session, unit.id, get_rules(request), now())
    return render(
        request,
        "unit_home.html",
        login,
        settings,
        unit=unit,
        desk=desk,
        unit_counts=desk.counts,
        records=supervision.records(session, unit_id=unit.id, limit=50),
    )


def _reply_values(back: unit_desk.OwnReply | None) -> dict[str, str]:
    """The reply form's first values: the reply the centre sent back, to start again from."""
    if back is None:
        return {}
    r = back.reply
    return {
        "facts": r.facts,
        "finding": r.finding,
        "measures": r.measures,
        "responsible_handling": r.responsible_handling,
    }


def _unit_case_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    case_id: str,
    errors: dict[str, str] | None = None,
    refused: tuple[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The unit's page of a case; ``refused``: the form that was refused and its values."""
    case, unit = unit_portal.own_case(session, login.user_id, case_id)
    seen = unit_portal.view(session, case, unit.id)
    seat = unit_desk.seat_of(session, case, unit.id)
    replies = unit_desk.own_replies(session, case, unit.id)
    back = unit_desk.sent_back(case, seat, replies)
    rules = get_rules(request)
    values: dict[str, dict[str, str]] = {name: {} for name in FORMS}
    values["reply"] = _reply_values(back)
    if refused is not None:
        values[refused[0]] = refused[1]
    granted = listening.granted_recordings(
        session, requester(login, request), case, now(), settings.operator_replay_days
    )
    return render(
        request,
        "unit_case.html",
        login,
        settings,
        status_code=status_code,
        errors=errors or {},
        refused_form=refused[0] if refused else "",
        values=values,
        unit=unit,
        seen=seen,
        finding_labels=FINDING_LABELS,
        actions=allowed_actions(Status(case.status)),
        granted=granted,
        extensions=[e for e in steps.extensions(session, case.id) if e.unit_id == unit.id],
        evidence_files=[a for a in case.attachments if a.reply_id is None]
        if not seen.evidence_withheld
        else [],
        history=unit_desk.history(session, case, unit.id),
        replies=replies,
        back=back,
        left=unit_desk.left_on(rules, now(), stage_clocks.active(session, case.id, Stage.HANDLING)),
        sent=request.query_params.get("sent") == "1",
        max_mb=settings.attachment_max_bytes // (1024 * 1024),
        max_files=settings.attachment_max_files,
        allowed_files=evidence.ALLOWED_LABEL,
        unit_counts=unit_desk.desk(session, unit.id, rules, now()).counts,
    )


@router.get("/unit/cases/{case_id}", response_class=HTMLResponse)
def unit_case(
    case_id: str, request: Request, session: SessionDep, settings: SettingsDep, login: UnitHandler
) -> HTMLResponse:
    return _unit_case_page(request, session, settings, login, case_id)


def _refused_page(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    case_id: str,
    exc: Exception,
    form: str,
    values: dict[str, str],
) -> HTMLResponse:
    # A step refused for want of a reason says so at the reason's field.
    errors = {"reason": exc.message_zh} if isinstance(exc, ReasonRequired) else refusal(exc)
    with sessions() as session:
        return _unit_case_page(
            request, session, settings, login, case_id, errors, (form, values), 422
        )


@router.post("/unit/cases/{case_id}/reply", response_class=HTMLResponse)
@takes_uploads
async def unit_reply(
    case_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: UnitHandler,
) -> Response:
    """办理回复 with its files, as ``POST /api/unit/cases/{case}/replies``."""
    rules = get_rules(request)
    try:
        form = await read_reply_form(request, settings)
    except Invalid as exc:
        return _refused_page(request, sessions, settings, login, case_id, exc, "reply", {})
    try:
        values = form_values(form)
        uploads = form_uploads(form, unit_replies.FILES_FIELD)
        try:
            await run_in_threadpool(
                unit_replies.submit,
                sessions,
                reply_files(settings),
                login.user_id,
                case_id,
                reply_in(values),
                uploads,
                login.username,
                now(),
                rules,
            )
        except REFUSALS as exc:
            if uploads:
                values = {**values, "files_dropped": "1"}
            return _refused_page(request, sessions, settings, login, case_id, exc, "reply", values)
    finally:
        await form.close()
    return see(f"/unit/cases/{case_id}?sent=1")


@router.post("/unit/cases/{case_id}/{step}", response_class=HTMLResponse)
async def unit_step(
    case_id: str,
    step: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: UnitMember,
) -> Response:
    form = form_values(await request.form())
    rules = get_rules(request)
    if step not in {"sign", "start", "return", "extension"}:
        raise HTTPException(status_code=404, detail="no such step")
    try:
        await run_in_threadpool(
            unit_portal.run_step,
            sessions,
            login.user_id,
            case_id,
            lambda s, c, unit_id: _unit_action(s, c, unit_id, step, form, login, rules),
        )
    except REFUSALS as exc:
        return _refused_page(request, sessions, settings, login, case_id, exc, step, form)
    return see("/unit" if step == "return" else f"/unit/cases/{case_id}")


def _unit_action(
    session: Session,
    case: Case,
    unit_id: str,
    step: str,
    form: dict[str, str],
    login: Login,
    rules: stage_clocks.Rules,
) -> None:
    actor, at = login.username, now()
    if step == "sign":
        steps.sign(session, case, unit_id, actor, at)
    elif step == "start":
        steps.start_work(session, case, unit_id, actor, at)
    elif step == "return":
        steps.unit_return(session, case, unit_id, form.get("reason", ""), actor, at, rules)
    elif step == "extension":
        try:
            days = int(form.get("days", ""))
        except ValueError:
            raise Invalid({"days": FieldError("请填写延期天数", "days must be a number")}) from None
        steps.request_extension(
            session, case, unit_id, days, form.get("reason", ""), actor, at, rules
        )
