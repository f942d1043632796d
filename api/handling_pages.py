"""The console's pages for dispatch and handling: the handling panel of a case's page, the
supervisor's overview (overdue, approvals, reviews, extensions, dissatisfied citizens), units
and the dispatch catalogue, and the handling unit's portal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from api.auth import CaseWorker, Login, Supervisor, UnitHandler
from api.deps import SessionDep, SettingsDep, WriterDep, get_rules, now
from api.handling import archive_case, model_cache
from api.pages import form_values, render, see, zh_errors
from api.unit_api import own_case, own_unit
from core.db import transaction
from core.ids import is_id
from core.settings import Settings
from custody import case_archive, replay
from custody.dossier import DossierProblem
from dispatch.cases.handling_models import Extension, Unit, UnitReply
from dispatch.cases.lifecycle import IllegalTransition, ReasonRequired, Status
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import STAGE_LABELS
from dispatch.feedback import visits as feedback
from dispatch.feedback.scale import LEVEL_LABELS, Level
from dispatch.feedback.visits import METHOD_LABELS, Method
from dispatch.handling import steps as handling
from dispatch.handling import supervision, unit_portal
from dispatch.handling.steps import FINDING_LABELS, MODE_LABELS, Finding, Mode, Refused
from dispatch.routing import suggestions as routing
from dispatch.routing import units

router = APIRouter(include_in_schema=False)


def handling_context(request: Request, session: Session, case: Case,
                     settings: Settings) -> dict[str, Any]:
    """Everything the handling panel of a case's page shows."""
    cache = model_cache(request)
    centre_side = case.status in (Status.ACCEPTED, Status.APPROVED)
    suggestions = routing.suggest(session, cache, case) if centre_side else []
    model = cache.model() if centre_side else None
    categories = list(dict.fromkeys([*(s.category for s in suggestions),
                                     *(model.labels if model else []),
                                     *(e.category for e in units.catalogue(session))]))
    all_units = units.list_units(session)
    assignments = handling.assignments(session, case.id, active_only=False)
    deadlines = stage_clocks.all_deadlines(session, case.id)
    ids = {a.unit_id for a in assignments} | {d.unit_id for d in deadlines if d.unit_id}
    complained = units.named_in(session, case.subject_unit, case.subject_window)
    return {"h": {
        "category": case.category, "suggestions": suggestions, "model_error": cache.error,
        "categories": categories, "units": all_units,
        "chosen_category": case.category or (suggestions[0].category if suggestions else ""),
        "chosen_unit": next((s.unit_id for s in suggestions if s.unit_id), ""),
        "complained_guess": case.complained_unit_id or (complained.id if complained else ""),
        "assignments": assignments, "deadlines": deadlines,
        "unit_names": handling.unit_names(session, sorted(ids)),
        "extensions": handling.extensions(session, case.id),
        "replies": list(session.scalars(select(UnitReply).where(UnitReply.case_id == case.id)
                                        .order_by(UnitReply.at))),
        "feedback": feedback.history(session, case.id),
        "supervision": supervision.records(session, case.id),
        "stage_labels": STAGE_LABELS, "mode_labels": MODE_LABELS,
        "finding_labels": FINDING_LABELS, "method_labels": METHOD_LABELS,
        "level_labels": LEVEL_LABELS,
        "now_local": now().astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M"),
    }}


def refusal(exc: Exception) -> dict[str, str]:
    """The Chinese message(s) for a refused step."""
    if isinstance(exc, Invalid):
        return zh_errors(exc)
    if isinstance(exc, IllegalTransition | ReasonRequired | Refused):
        return {"status": exc.message_zh}
    if isinstance(exc, DossierProblem):
        return {"status": exc.zh}
    raise exc


REFUSALS = (Invalid, IllegalTransition, ReasonRequired, Refused, DossierProblem)


async def _case_step(request: Request, sessions: WriterDep, settings: Settings, login: Login,
                     case_id: str, step: Callable[[Session, Case], None]) -> Response:
    """Run ``step`` on the case in one transaction; a refusal comes back on the case page."""
    from api.pages import case_page_response

    def run() -> None:
        with transaction(sessions) as session:
            case = session.get(Case, case_id) if is_id(case_id) else None
            if case is None:
                raise HTTPException(status_code=404, detail="case not found")
            step(session, case)

    try:
        await run_in_threadpool(run)
    except REFUSALS as exc:
        with sessions() as session:
            return case_page_response(request, session, settings, login, case_id,
                                      refusal(exc), status_code=422)
    return see(f"/cases/{case_id}#handling")


def _flag(value: str) -> bool:
    return value in {"1", "on", "true"}


@router.post("/cases/{case_id}/dispatch", response_class=HTMLResponse)
async def dispatch_page(case_id: str, request: Request, sessions: WriterDep,
                        settings: SettingsDep, login: CaseWorker) -> Response:
    async with request.form() as raw:
        form = form_values(raw)
        assists = [v for v in raw.getlist("assist_unit_ids") if isinstance(v, str) and v]
    rules = get_rules(request)

    def step(session: Session, case: Case) -> None:
        if not form.get("category"):
            raise Invalid({"category": FieldError("请选择类别", "a category is required")})
        if not form.get("lead_unit_id"):
            raise Invalid({"lead_unit_id": FieldError("请选择主办单位", "choose the lead unit")})
        try:
            mode = Mode(form.get("mode", "transfer"))
        except ValueError:
            raise Invalid({"mode": FieldError("办理方式不正确", "unknown mode")}) from None
        routing.confirm(session, model_cache(request), case, form["category"],
                        login.username, now())
        handling.dispatch(session, case, handling.DispatchOrder(
            lead_unit_id=form["lead_unit_id"], mode=mode, assist_unit_ids=assists,
            instructions=form.get("instructions", ""), category=form["category"],
            complex_case=_flag(form.get("complex_case", "")),
            complained_unit_id=form.get("complained_unit_id", "")),
            login.username, now(), rules)

    return await _case_step(request, sessions, settings, login, case_id, step)


@router.post("/cases/{case_id}/approval", response_class=HTMLResponse)
async def approval_page(case_id: str, request: Request, sessions: WriterDep,
                        settings: SettingsDep, login: CaseWorker) -> Response:
    form = form_values(await request.form())
    action = form.get("action", "")

    def step(session: Session, case: Case) -> None:
        if action == "submit":
            handling.submit_approval(session, case, login.username, now(), form.get("note", ""))
            return
        if login.role != "supervisor":
            raise HTTPException(status_code=403, detail="only a supervisor may approve")
        handling.decide_approval(session, case, action == "approve", login.username, now(),
                                 form.get("note", ""))

    return await _case_step(request, sessions, settings, login, case_id, step)


@router.post("/cases/{case_id}/review", response_class=HTMLResponse)
async def review_page(case_id: str, request: Request, sessions: WriterDep,
                      settings: SettingsDep, login: Supervisor) -> Response:
    form = form_values(await request.form())
    return await _case_step(request, sessions, settings, login, case_id, lambda s, c:
                            handling.review(s, c, _flag(form.get("passed", "")),
                                            form.get("note", ""), login.username, now()))


@router.post("/extensions/{extension_id}/decision", response_class=HTMLResponse)
async def extension_page(extension_id: str, request: Request, sessions: WriterDep,
                         settings: SettingsDep, login: Supervisor) -> Response:
    form = form_values(await request.form())
    with sessions() as session:
        extension = session.get(Extension, extension_id) if is_id(extension_id) else None
        if extension is None:
            raise HTTPException(status_code=404, detail="extension not found")
        case_id = extension.case_id

    def step(session: Session, case: Case) -> None:
        row = session.get(Extension, extension_id)
        assert row is not None
        handling.decide_extension(session, case, row, _flag(form.get("approve", "")),
                                  form.get("note", ""), login.username, now())

    return await _case_step(request, sessions, settings, login, case_id, step)


@router.post("/cases/{case_id}/feedback", response_class=HTMLResponse)
async def feedback_page(case_id: str, request: Request, sessions: WriterDep,
                        settings: SettingsDep, login: CaseWorker) -> Response:
    form = form_values(await request.form())
    zone = ZoneInfo(settings.timezone)

    def step(session: Session, case: Case) -> None:
        try:
            method = Method(form.get("method", ""))
            level = Level(form["satisfaction"]) if form.get("satisfaction") else None
        except ValueError:
            raise Invalid({"method": FieldError("回访方式或满意度不正确",
                                                "unknown method or level")}) from None
        try:
            told = dt.datetime.fromisoformat(form["told_at"]).replace(tzinfo=zone) \
                if form.get("told_at") else now()
        except ValueError:
            raise Invalid({"told_at": FieldError("回访时间格式不正确",
                                                 "bad time")}) from None
        feedback.give_feedback(session, case, method, told, form.get("note", ""), level,
                               login.username, now())

    return await _case_step(request, sessions, settings, login, case_id, step)


@router.post("/cases/{case_id}/conclusion", response_class=HTMLResponse)
async def conclusion_page(case_id: str, request: Request, sessions: WriterDep,
                          settings: SettingsDep, login: Supervisor) -> Response:
    form = form_values(await request.form())
    rules = get_rules(request)

    def step(session: Session, case: Case) -> None:
        if form.get("action") == "reopen":
            handling.reopen(session, case, form.get("note", ""), login.username, now(), rules)
        else:
            handling.close(session, case, login.username, now(), form.get("note", ""))

    return await _case_step(request, sessions, settings, login, case_id, step)


@router.post("/cases/{case_id}/archive", response_class=HTMLResponse)
async def archive_page(case_id: str, request: Request, sessions: WriterDep,
                       settings: SettingsDep, login: Supervisor) -> Response:
    with case_archive.written_files() as written:
        return await _case_step(request, sessions, settings, login, case_id, lambda s, c:
                                archive_case(s, c, settings, login.username, written))


# -- the supervisor's overview ---------------------------------------------------------------

@router.get("/supervision", response_class=HTMLResponse)
def supervision_page(request: Request, session: SessionDep, settings: SettingsDep,
                     login: Supervisor) -> HTMLResponse:
    def with_status(*statuses: Status) -> list[Case]:
        return list(session.scalars(select(Case).where(
            Case.status.in_([s.value for s in statuses])).order_by(Case.registered_at)))

    pending = list(session.scalars(select(Extension).where(Extension.status == "pending")))
    return render(request, "supervision.html", login, settings,
                  overdue=supervision.overdue(session, get_rules(request), now()),
                  records=supervision.records(session, limit=50),
                  approvals=with_status(Status.PENDING_APPROVAL),
                  to_dispatch=with_status(Status.ACCEPTED, Status.APPROVED),
                  to_review=with_status(Status.REPLIED),
                  to_feedback=with_status(Status.REVIEWED),
                  extensions=[(e, session.get(Case, e.case_id)) for e in pending],
                  dissatisfied=feedback.awaiting_reopen(session),
                  stage_labels=STAGE_LABELS, level_labels=LEVEL_LABELS)


# -- units and the catalogue -----------------------------------------------------------------

def _units_page(request: Request, session: Session, settings: Settings, login: Login,
                errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "units.html", login, settings, status_code=status_code,
                  errors=errors or {}, units=units.list_units(session, False),
                  members={u.id: units.members(session, u.id)
                           for u in units.list_units(session, False)},
                  catalogue=units.catalogue(session), kinds=units.UNIT_KIND_LABELS,
                  categories=_known_categories(request))


def _known_categories(request: Request) -> list[str]:
    model = model_cache(request).model()
    return list(model.labels) if model else []


@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, session: SessionDep, settings: SettingsDep,
               login: Supervisor) -> HTMLResponse:
    return _units_page(request, session, settings, login)


async def _units_change(request: Request, sessions: WriterDep, settings: Settings,
                        login: Login, change: Callable[[Session], None]) -> Response:
    def run() -> None:
        with transaction(sessions) as session:
            change(session)

    try:
        await run_in_threadpool(run)
    except Invalid as exc:
        with sessions() as session:
            return _units_page(request, session, settings, login, zh_errors(exc), 422)
    return see("/units")


@router.post("/units", response_class=HTMLResponse)
async def units_create(request: Request, sessions: WriterDep, settings: SettingsDep,
                       login: Supervisor) -> Response:
    form = form_values(await request.form())

    def change(session: Session) -> None:
        units.create_unit(session, form.get("name", ""), form.get("kind", ""), now())

    return await _units_change(request, sessions, settings, login, change)


@router.post("/units/{unit_id}/members", response_class=HTMLResponse)
async def units_member(unit_id: str, request: Request, sessions: WriterDep,
                       settings: SettingsDep, login: Supervisor) -> Response:
    form = form_values(await request.form())

    def change(session: Session) -> None:
        user = session.scalar(select(User).where(User.username == form.get("username", "")))
        unit = session.get(Unit, unit_id) if is_id(unit_id) else None
        if user is None or unit is None:
            raise Invalid({"username": FieldError("没有该用户或单位", "no such user or unit")})
        units.add_member(session, user, unit)

    return await _units_change(request, sessions, settings, login, change)


@router.post("/catalogue", response_class=HTMLResponse)
async def catalogue_set(request: Request, sessions: WriterDep, settings: SettingsDep,
                        login: Supervisor) -> Response:
    form = form_values(await request.form())

    def change(session: Session) -> None:
        unit = units.active_unit(session, form.get("unit_id", ""))
        units.set_catalogue(session, form.get("category", ""), unit, login.username, now())

    return await _units_change(request, sessions, settings, login, change)


# -- the handling unit's portal --------------------------------------------------------------

@router.get("/unit", response_class=HTMLResponse)
def unit_home(request: Request, session: SessionDep, settings: SettingsDep,
              login: UnitHandler) -> HTMLResponse:
    unit = own_unit(session, login)
    items = [(item, unit_portal.title_for(item.case, unit.id))
             for item in unit_portal.cases_of(session, unit.id)]
    return render(request, "unit_home.html", login, settings, unit=unit, items=items,
                  records=supervision.records(session, unit_id=unit.id, limit=50))


def _unit_case_page(request: Request, session: Session, settings: Settings, login: Login,
                    case_id: str, errors: dict[str, str] | None = None,
                    status_code: int = 200) -> HTMLResponse:
    case, unit = own_case(session, login, case_id)
    seen = unit_portal.view(session, case, unit.id)
    grant = replay.active_grant(session, unit.id, [case.id], now())
    return render(request, "unit_case.html", login, settings, status_code=status_code,
                  errors=errors or {}, unit=unit, seen=seen, finding_labels=FINDING_LABELS,
                  grant=grant, granted=replay.recordings_of(session, case) if grant else [],
                  extensions=[e for e in handling.extensions(session, case.id)
                              if e.unit_id == unit.id])


@router.get("/unit/cases/{case_id}", response_class=HTMLResponse)
def unit_case(case_id: str, request: Request, session: SessionDep, settings: SettingsDep,
              login: UnitHandler) -> HTMLResponse:
    return _unit_case_page(request, session, settings, login, case_id)


@router.post("/unit/cases/{case_id}/{step}", response_class=HTMLResponse)
async def unit_step(case_id: str, step: str, request: Request, sessions: WriterDep,
                    settings: SettingsDep, login: UnitHandler) -> Response:
    form = form_values(await request.form())
    rules = get_rules(request)

    def run() -> None:
        with transaction(sessions) as session:
            case, unit = own_case(session, login, case_id)
            _unit_action(session, case, unit, step, form, login, rules)

    try:
        await run_in_threadpool(run)
    except REFUSALS as exc:
        with sessions() as session:
            return _unit_case_page(request, session, settings, login, case_id, refusal(exc),
                                   422)
    return see("/unit" if step == "return" else f"/unit/cases/{case_id}")


def _unit_action(session: Session, case: Case, unit: Unit, step: str, form: dict[str, str],
                 login: Login, rules: stage_clocks.Rules) -> None:
    actor, at = login.username, now()
    if step == "sign":
        handling.sign(session, case, unit.id, actor, at)
    elif step == "start":
        handling.start_work(session, case, unit.id, actor, at)
    elif step == "return":
        handling.unit_return(session, case, unit.id, form.get("reason", ""), actor, at, rules)
    elif step == "reply":
        try:
            finding = Finding(form.get("finding", ""))
        except ValueError:
            raise Invalid({"finding": FieldError("请选择核实结论", "choose a finding")}) from None
        handling.reply(session, case, unit.id, handling.ReplyIn(
            form.get("facts", ""), finding, form.get("measures", ""),
            form.get("responsible_handling", "")), actor, at, rules)
    elif step == "extension":
        try:
            days = int(form.get("days", ""))
        except ValueError:
            raise Invalid({"days": FieldError("请填写延期天数", "days must be a number")}) from None
        handling.request_extension(session, case, unit.id, days, form.get("reason", ""),
                                   actor, at, rules)
    else:
        raise HTTPException(status_code=404, detail="no such step")
