"""The handling unit's portal: its cases, each case as the unit may see it, and the unit's
steps (sign, start, return, reply, extension) posted from its forms."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.auth import Login, UnitHandler
from api.deps import SessionDep, SettingsDep, WriterDep, get_rules, now
from api.evidence import requester
from api.handling_pages import REFUSALS, refusal
from api.pages import form_values, render, see
from core.settings import Settings
from custody import listening
from dispatch.cases.lifecycle import Status, allowed_actions
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines import stage_clocks
from dispatch.handling import steps, supervision, unit_portal
from dispatch.handling.steps import FINDING_LABELS, Finding

router = APIRouter(include_in_schema=False)


@router.get("/unit", response_class=HTMLResponse)
def unit_home(
    request: Request, session: SessionDep, settings: SettingsDep, login: UnitHandler
) -> HTMLResponse:
    unit = unit_portal.own_unit(session, login.user_id)
    items = [
        (item, unit_portal.title_for(item.case, unit.id))
        for item in unit_portal.cases_of(session, unit.id)
    ]
    return render(
        request,
        "unit_home.html",
        login,
        settings,
        unit=unit,
        items=items,
        records=supervision.records(session, unit_id=unit.id, limit=50),
    )


def _unit_case_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    case_id: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    case, unit = unit_portal.own_case(session, login.user_id, case_id)
    seen = unit_portal.view(session, case, unit.id)
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
        unit=unit,
        seen=seen,
        finding_labels=FINDING_LABELS,
        actions=allowed_actions(Status(case.status)),
        granted=granted,
        extensions=[e for e in steps.extensions(session, case.id) if e.unit_id == unit.id],
    )


@router.get("/unit/cases/{case_id}", response_class=HTMLResponse)
def unit_case(
    case_id: str, request: Request, session: SessionDep, settings: SettingsDep, login: UnitHandler
) -> HTMLResponse:
    return _unit_case_page(request, session, settings, login, case_id)


@router.post("/unit/cases/{case_id}/{step}", response_class=HTMLResponse)
async def unit_step(
    case_id: str,
    step: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: UnitHandler,
) -> Response:
    form = form_values(await request.form())
    rules = get_rules(request)

    try:
        await run_in_threadpool(
            unit_portal.run_step,
            sessions,
            login.user_id,
            case_id,
            lambda s, c, unit_id: _unit_action(s, c, unit_id, step, form, login, rules),
        )
    except REFUSALS as exc:
        with sessions() as session:
            return _unit_case_page(request, session, settings, login, case_id, refusal(exc), 422)
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
    elif step == "reply":
        try:
            finding = Finding(form.get("finding", ""))
        except ValueError:
            raise Invalid({"finding": FieldError("请选择核实结论", "choose a finding")}) from None
        steps.reply(
            session,
            case,
            unit_id,
            steps.ReplyIn(
                form.get("facts", ""),
                finding,
                form.get("measures", ""),
                form.get("responsible_handling", ""),
            ),
            actor,
            at,
            rules,
        )
    elif step == "extension":
        try:
            days = int(form.get("days", ""))
        except ValueError:
            raise Invalid({"days": FieldError("请填写延期天数", "days must be a number")}) from None
        steps.request_extension(
            session, case, unit_id, days, form.get("reason", ""), actor, at, rules
        )
    else:
        raise HTTPException(status_code=404, detail="no such step")
