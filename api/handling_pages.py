"""The console's pages for dispatch and handling: the handling panel of a case's page, the
supervisor's overview (overdue, approvals, reviews, extensions, dissatisfied citizens), units
and the dispatch catalogue. The handling unit's portal is in ``api.unit_pages``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from accounts.models import is_leader
from api.auth import CaseWorker, Login, Supervisor
from api.deps import SessionDep, SettingsDep, WriterDep, get_rules, now
from api.handling import leader_only, model_cache
from api.handling_context import LIST_FIELDS, Typed
from api.pages import case_page_response, form_values, render, see, zh_errors
from api.stored_files import StorageDep
from core.db import transaction
from core.settings import Settings
from custody import case_archive
from custody.dossier import DossierProblem
from dispatch.cases.lifecycle import IllegalTransition, ReasonRequired
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines.stage_clocks import STAGE_LABELS
from dispatch.feedback import feedback_step, visits
from dispatch.feedback.scale import LEVEL_LABELS, Level
from dispatch.feedback.visits import Method
from dispatch.handling import board, case_steps, steps, supervision, unit_members
from dispatch.handling.steps import Mode, Refused
from dispatch.routing import units

router = APIRouter(include_in_schema=False)


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


def typed(form: str, raw: FormData) -> Typed:
    """What was typed into a handling form, to show it again if the step is refused."""
    lists = {
        name: [v for v in raw.getlist(name) if isinstance(v, str) and v] for name in LIST_FIELDS
    }
    return Typed(form, form_values(raw), lists)


async def _case_step(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    case_id: str,
    step: Callable[[Session, Case], None],
    sent: Typed,
) -> Response:
    """Run ``step`` on the case in one transaction; a refusal comes back on the case page
    with the form as it was sent and each message at its field."""
    try:
        await run_in_threadpool(case_steps.run, sessions, case_id, step)
    except case_steps.LeaderOnly as exc:
        raise leader_only(exc) from None
    except REFUSALS as exc:
        return _refused(request, sessions, settings, login, case_id, sent, exc)
    return see(f"/cases/{case_id}#handling")


def _refused(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    case_id: str,
    sent: Typed,
    exc: Exception,
) -> Response:
    errors = refusal(exc)
    with sessions() as session:
        return case_page_response(
            request,
            session,
            settings,
            login,
            case_id,
            errors,
            status_code=422,
            handling_form=sent.with_errors(errors),
        )


def _flag(value: str) -> bool:
    return value in {"1", "on", "true"}


def _order(form: dict[str, str], assists: list[str]) -> steps.DispatchOrder:
    """A dispatch order as the dispatch form sent it."""
    try:
        mode = Mode(form.get("mode", "transfer"))
    except ValueError:
        raise Invalid({"mode": FieldError("办理方式不正确", "unknown mode")}) from None
    return steps.DispatchOrder(
        lead_unit_id=form.get("lead_unit_id", ""),
        mode=mode,
        assist_unit_ids=assists,
        instructions=form.get("instructions", ""),
        category=form.get("category", ""),
        complex_case=_flag(form.get("complex_case", "")),
        complained_unit_id=form.get("complained_unit_id", ""),
        category_offered=form.get("category_offered", ""),
    )


@router.post("/cases/{case_id}/dispatch", response_class=HTMLResponse)
async def dispatch_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    async with request.form() as raw:
        sent = typed("dispatch", raw)
    rules = get_rules(request)

    def step(session: Session, case: Case) -> None:
        order = _order(dict(sent.values), list(sent.lists["assist_unit_ids"]))
        case_steps.dispatch(
            session, case, order, model_cache(request), login.username, now(), rules
        )

    return await _case_step(request, sessions, settings, login, case_id, step, sent)


@router.post("/cases/{case_id}/approval", response_class=HTMLResponse)
async def approval_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    async with request.form() as raw:
        form = form_values(raw)
        sent = typed("submit-approval" if form.get("action") == "submit" else "approval", raw)
    return await _case_step(
        request,
        sessions,
        settings,
        login,
        case_id,
        lambda s, c: case_steps.approval(
            s,
            c,
            form.get("action", ""),
            form.get("note", ""),
            login.username,
            is_leader(login.role),
            now(),
        ),
        sent,
    )


@router.post("/cases/{case_id}/reassignment", response_class=HTMLResponse)
async def reassignment_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    """改派 to another unit, or 收回 only, with the reason."""
    async with request.form() as raw:
        sent = typed("reassign", raw)
    form = dict(sent.values)
    rules = get_rules(request)

    def step(session: Session, case: Case) -> None:
        chosen = case_steps.redirection(form.get("action", ""))
        if chosen is case_steps.Redirection.RECALL:
            steps.recall(session, case, form.get("reason", ""), login.username, now(), rules)
            return
        order = case_steps.reassignment_order(
            session,
            case,
            form.get("lead_unit_id", ""),
            form.get("category", ""),
            form.get("instructions", ""),
            form.get("category_offered", ""),
        )
        case_steps.reassign(
            session,
            case,
            order,
            form.get("reason", ""),
            model_cache(request),
            login.username,
            now(),
            rules,
        )

    return await _case_step(request, sessions, settings, login, case_id, step, sent)


@router.post("/cases/{case_id}/reminders", response_class=HTMLResponse)
async def reminder_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    """催办 by a supervisor, with the reason the unit will read."""
    async with request.form() as raw:
        sent = typed("remind", raw)

    def step(session: Session, case: Case) -> None:
        supervision.remind(session, case, sent.values.get("reason", ""), login.username, now())

    return await _case_step(request, sessions, settings, login, case_id, step, sent)


@router.post("/cases/{case_id}/review", response_class=HTMLResponse)
async def review_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    async with request.form() as raw:
        sent = typed("review", raw)
    form = sent.values
    return await _case_step(
        request,
        sessions,
        settings,
        login,
        case_id,
        lambda s, c: steps.review(
            s, c, _flag(form.get("passed", "")), form.get("note", ""), login.username, now()
        ),
        sent,
    )


@router.post("/extensions/{extension_id}/decision", response_class=HTMLResponse)
async def extension_page(
    extension_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    login: Supervisor,
) -> Response:
    async with request.form() as raw:
        sent = typed(f"extension:{extension_id}", raw)
    form = sent.values
    with sessions() as session:
        case_id = case_steps.extension_case(session, extension_id)

    def decide() -> None:
        case_steps.decide_extension(
            sessions,
            extension_id,
            _flag(form.get("approve", "")),
            form.get("note", ""),
            login.username,
            now(),
        )

    try:
        await run_in_threadpool(decide)
    except REFUSALS as exc:
        return _refused(request, sessions, settings, login, case_id, sent, exc)
    return see(f"/cases/{case_id}#handling")


@router.post("/cases/{case_id}/feedback", response_class=HTMLResponse)
async def feedback_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    async with request.form() as raw:
        sent = typed("feedback", raw)
    form = sent.values
    zone = ZoneInfo(settings.timezone)

    def step(session: Session, case: Case) -> None:
        try:
            method = Method(form.get("method", ""))
            level = Level(form["satisfaction"]) if form.get("satisfaction") else None
        except ValueError:
            raise Invalid(
                {"method": FieldError("回访方式或满意度不正确", "unknown method or level")}
            ) from None
        try:
            told = dt.datetime.fromisoformat(form["told_at"]) if form.get("told_at") else None
        except ValueError:
            raise Invalid({"told_at": FieldError("回访时间格式不正确", "bad time")}) from None
        feedback_step.give(
            session, case, method, told, zone, form.get("note", ""), level, login.username, now()
        )

    return await _case_step(request, sessions, settings, login, case_id, step, sent)


@router.post("/cases/{case_id}/conclusion", response_class=HTMLResponse)
async def conclusion_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    async with request.form() as raw:
        sent = typed("conclusion", raw)
    form = sent.values
    rules = get_rules(request)

    def step(session: Session, case: Case) -> None:
        chosen = case_steps.conclusion(form.get("action", ""))
        case_steps.conclude(
            session, case, chosen, form.get("note", ""), login.username, now(), rules
        )

    return await _case_step(request, sessions, settings, login, case_id, step, sent)


@router.post("/cases/{case_id}/withdrawal", response_class=HTMLResponse)
async def withdrawal_page(
    case_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    """撤回: the citizen withdrew the request (the reason is required)."""
    async with request.form() as raw:
        sent = typed("withdrawal", raw)

    def step(session: Session, case: Case) -> None:
        steps.withdraw(session, case, sent.values.get("reason", ""), login.username, now())

    return await _case_step(request, sessions, settings, login, case_id, step, sent)


@router.post("/cases/{case_id}/archive", response_class=HTMLResponse)
async def archive_page(
    case_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    storage: StorageDep,
    login: Supervisor,
) -> Response:
    with case_archive.written_files() as written:
        return await _case_step(
            request,
            sessions,
            settings,
            login,
            case_id,
            lambda s, c: case_archive.archive_case(
                s,
                c,
                storage,
                login.username,
                now(),
                written,
                ZoneInfo(settings.timezone),
            ),
            Typed("archive", {}),
        )


# -- the supervisor's overview ---------------------------------------------------------------


@router.get("/supervision", response_class=HTMLResponse)
def supervision_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: Supervisor
) -> HTMLResponse:
    waiting = board.board(session, get_rules(request), now())
    return render(
        request,
        "supervision.html",
        login,
        settings,
        overdue=waiting.overdue,
        records=waiting.records,
        approvals=waiting.approvals,
        to_dispatch=waiting.to_dispatch,
        to_review=waiting.to_review,
        to_feedback=waiting.to_feedback,
        extensions=[(p.extension, p.case) for p in waiting.extensions],
        dissatisfied=visits.awaiting_reopen(session),
        stage_labels=STAGE_LABELS,
        level_labels=LEVEL_LABELS,
    )


# -- units and the catalogue -----------------------------------------------------------------


def _units_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "units.html",
        login,
        settings,
        status_code=status_code,
        errors=errors or {},
        values=values or {},
        units=units.list_units(session, False),
        members={u.id: units.members(session, u.id) for u in units.list_units(session, False)},
        catalogue=units.catalogue(session),
        kinds=units.UNIT_KIND_LABELS,
        categories=_known_categories(request),
    )


def _known_categories(request: Request) -> list[str]:
    model = model_cache(request).model()
    return list(model.labels) if model else []


@router.get("/units", response_class=HTMLResponse)
def units_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: Supervisor
) -> HTMLResponse:
    return _units_page(request, session, settings, login)


async def _units_change(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    change: Callable[[Session], None],
    values: dict[str, str] | None = None,
) -> Response:
    def run() -> None:
        with transaction(sessions) as session:
            change(session)

    try:
        await run_in_threadpool(run)
    except Invalid as exc:
        with sessions() as session:
            return _units_page(request, session, settings, login, zh_errors(exc), 422, values)
    return see("/units")


@router.post("/units", response_class=HTMLResponse)
async def units_create(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    form = form_values(await request.form())

    def change(session: Session) -> None:
        # The form has no default type: one not chosen is asked for (as well as any name error).
        kind = form.get("kind", "")
        try:
            units.create_unit(session, form.get("name", ""), kind, now())
        except Invalid as exc:
            chosen = {} if kind else {"kind": FieldError("请选择单位类型", "choose a unit kind")}
            raise Invalid({**exc.errors, **chosen}) from None

    return await _units_change(request, sessions, settings, login, change, form)


@router.post("/units/{unit_id}/members", response_class=HTMLResponse)
async def units_member(
    unit_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    form = form_values(await request.form())

    def change(session: Session) -> None:
        unit_members.add_member(session, unit_id, form.get("username", ""))

    return await _units_change(request, sessions, settings, login, change)


@router.post("/catalogue", response_class=HTMLResponse)
async def catalogue_set(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    form = form_values(await request.form())

    def change(session: Session) -> None:
        unit = units.active_unit(session, form.get("unit_id", ""))
        units.set_catalogue(session, form.get("category", ""), unit, login.username, now())

    return await _units_change(request, sessions, settings, login, change)


@router.post("/catalogue/remove", response_class=HTMLResponse)
async def catalogue_remove(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: Supervisor
) -> Response:
    form = form_values(await request.form())

    def change(session: Session) -> None:
        if not units.remove_catalogue(session, form.get("category", "")):
            raise Invalid({"category": FieldError("目录中没有该类别", "no such category")})

    return await _units_change(request, sessions, settings, login, change)
