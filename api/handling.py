"""Dispatch and handling over JSON, for the centre: units and the catalogue, routing
suggestions, approval, dispatch, review, extensions, feedback, reopening, closing, and
supervision."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.orm import Session

from accounts.models import is_leader
from api.auth import CaseWorker, Supervisor
from api.cases import find_case
from api.deps import RulesDep, SessionDep, SettingsDep, WriterDep, now
from api.handling_schemas import (
    ApprovalIn,
    AssignmentPublic,
    CatalogueIn,
    CataloguePublic,
    CloseIn,
    DeadlinePublic,
    DispatchIn,
    ExtensionDecisionIn,
    ExtensionPublic,
    FeedbackIn,
    FeedbackPublic,
    HandlingPublic,
    IssuedPublic,
    MemberIn,
    OverduePublic,
    ReasonIn,
    ReassignIn,
    ReplyPublic,
    ReviewIn,
    RoutingPublic,
    SuggestionPublic,
    SupervisionPublic,
    UnitIn,
    UnitPublic,
)
from api.stored_files import StorageDep
from core.db import transaction
from custody import case_archive
from dispatch.cases.models import Case
from dispatch.deadlines import stage_clocks
from dispatch.feedback import feedback_step, visits
from dispatch.handling import case_steps, steps, supervision, unit_members
from dispatch.routing import suggestions, units

router = APIRouter(tags=["dispatch"])


# -- units and the catalogue -----------------------------------------------------------------


@router.get("/api/units", response_model=list[UnitPublic])
def list_units(session: SessionDep, _login: CaseWorker) -> list[UnitPublic]:
    return [UnitPublic.model_validate(u) for u in units.list_units(session, False)]


@router.post("/api/units", response_model=UnitPublic, status_code=201)
def create_unit(body: UnitIn, sessions: WriterDep, _login: Supervisor) -> UnitPublic:
    with transaction(sessions) as session:
        return UnitPublic.model_validate(units.create_unit(session, body.name, body.kind, now()))


@router.post("/api/units/{unit_id}/members", status_code=204)
def add_member(unit_id: str, body: MemberIn, sessions: WriterDep, _login: Supervisor) -> None:
    """Put a unit handler's account in the unit."""
    with transaction(sessions) as session:
        unit_members.add_member(session, unit_id, body.username)


@router.get("/api/catalogue", response_model=list[CataloguePublic])
def catalogue(session: SessionDep, _login: CaseWorker) -> list[CataloguePublic]:
    return [
        CataloguePublic(category=e.category, unit_id=e.unit_id, unit_name=e.unit.name)
        for e in units.catalogue(session)
    ]


@router.put("/api/catalogue/{category}", response_model=CataloguePublic)
def set_catalogue(
    category: str, body: CatalogueIn, sessions: WriterDep, login: Supervisor
) -> CataloguePublic:
    with transaction(sessions) as session:
        unit = units.active_unit(session, body.unit_id)
        entry = units.set_catalogue(session, category, unit, login.username, now())
        return CataloguePublic(category=entry.category, unit_id=unit.id, unit_name=unit.name)


@router.delete("/api/catalogue/{category}", status_code=204)
def remove_catalogue(category: str, sessions: WriterDep, _login: Supervisor) -> None:
    with transaction(sessions) as session:
        if not units.remove_catalogue(session, category):
            raise HTTPException(status_code=404, detail="no such category")


# -- a case at the centre --------------------------------------------------------------------


def model_cache(request: Request) -> suggestions.ModelCache:
    cache: suggestions.ModelCache = request.app.state.routing
    return cache


@router.get("/api/cases/{case_key}/routing", response_model=RoutingPublic)
def routing_suggestions(
    case_key: str, request: Request, session: SessionDep, _login: CaseWorker
) -> RoutingPublic:
    """The three likeliest categories from the classifier, each with the catalogue's unit."""
    cache = model_cache(request)
    found = suggestions.suggest(session, cache, find_case(session, case_key))
    return RoutingPublic(
        suggestions=[SuggestionPublic(**s.__dict__) for s in found], model_error=cache.error
    )


def handling_public(session: Session, case: Case) -> HandlingPublic:
    return HandlingPublic(
        case_id=case.id,
        status=case.status,
        category=case.category,
        satisfaction=case.satisfaction,
        reopen_review=case.reopen_review,
        assignments=[
            AssignmentPublic.model_validate(a)
            for a in steps.assignments(session, case.id, active_only=False)
        ],
        deadlines=[
            DeadlinePublic.model_validate(d) for d in stage_clocks.all_deadlines(session, case.id)
        ],
        extensions=[ExtensionPublic.model_validate(e) for e in steps.extensions(session, case.id)],
        replies=[ReplyPublic.model_validate(r) for r in steps.replies(session, case.id)],
        feedback=[FeedbackPublic.model_validate(f) for f in visits.history(session, case.id)],
        supervision=[
            SupervisionPublic.model_validate(r) for r in supervision.records(session, case.id)
        ],
    )


@router.get("/api/cases/{case_key}/handling", response_model=HandlingPublic)
def case_handling(case_key: str, session: SessionDep, _login: CaseWorker) -> HandlingPublic:
    """Assignments, each stage's deadline, extensions, replies, feedback, supervision."""
    return handling_public(session, find_case(session, case_key))


def _step(
    sessions: WriterDep, case_key: str, step: Callable[[Session, Case], object]
) -> HandlingPublic:
    """Apply ``step`` to the case and answer with its handling record."""
    case_id, _ = case_steps.run(sessions, case_key, step)
    with sessions() as session:
        return handling_public(session, find_case(session, case_id))


def leader_only(exc: case_steps.LeaderOnly) -> HTTPException:
    return HTTPException(status_code=403, detail=str(exc))


@router.post("/api/cases/{case_key}/approval", response_model=HandlingPublic)
def approval(
    case_key: str, body: ApprovalIn, sessions: WriterDep, login: CaseWorker
) -> HandlingPublic:
    """报批: anyone at the centre submits; only a supervisor (leader) approves or denies."""
    try:
        return _step(
            sessions,
            case_key,
            lambda s, c: case_steps.approval(
                s, c, body.action, body.note, login.username, is_leader(login.role), now()
            ),
        )
    except case_steps.LeaderOnly as exc:
        raise leader_only(exc) from None


@router.post("/api/cases/{case_key}/dispatch", response_model=HandlingPublic)
def dispatch_case(
    case_key: str,
    body: DispatchIn,
    request: Request,
    sessions: WriterDep,
    rules: RulesDep,
    login: CaseWorker,
) -> HandlingPublic:
    """交办 under a category to one lead unit (主办) and any assisting units (协办); starts
    the unit's handling clock from acceptance and its window to return the case."""
    order = steps.DispatchOrder(
        lead_unit_id=body.lead_unit_id,
        mode=body.mode,
        assist_unit_ids=body.assist_unit_ids,
        instructions=body.instructions,
        category=body.category,
        complex_case=body.complex_case,
        complained_unit_id=body.complained_unit_id,
    )
    return _step(
        sessions,
        case_key,
        lambda s, c: case_steps.dispatch(
            s, c, order, model_cache(request), login.username, now(), rules
        ),
    )


@router.post("/api/cases/{case_key}/recall", response_model=HandlingPublic)
def recall(
    case_key: str, body: ReasonIn, sessions: WriterDep, rules: RulesDep, login: Supervisor
) -> HandlingPublic:
    """收回: the case is taken back from its unit (which no longer sees it) to be dispatched
    again, with the reason; the next dispatch starts the new unit's clock afresh."""
    return _step(
        sessions,
        case_key,
        lambda s, c: steps.recall(s, c, body.reason, login.username, now(), rules),
    )


@router.post("/api/cases/{case_key}/reassignment", response_model=HandlingPublic)
def reassignment(
    case_key: str,
    body: ReassignIn,
    request: Request,
    sessions: WriterDep,
    rules: RulesDep,
    login: Supervisor,
) -> HandlingPublic:
    """改派: taken back from its unit and dispatched to another lead unit, with the reason;
    the new unit's handling clock starts on the day of the 改派."""

    def step(session: Session, case: Case) -> None:
        order = case_steps.reassignment_order(
            session, case, body.lead_unit_id, body.category, body.instructions
        )
        case_steps.reassign(
            session, case, order, body.reason, model_cache(request), login.username, now(), rules
        )

    return _step(sessions, case_key, step)


@router.post("/api/cases/{case_key}/reminders", response_model=HandlingPublic)
def remind(case_key: str, body: ReasonIn, sessions: WriterDep, login: Supervisor) -> HandlingPublic:
    """催办 by a supervisor: a reminder with the reason to the unit handling the case,
    recorded among the supervision records and in the case's history."""
    return _step(
        sessions,
        case_key,
        lambda s, c: supervision.remind(s, c, body.reason, login.username, now()),
    )


@router.post("/api/cases/{case_key}/review", response_model=HandlingPublic)
def review(case_key: str, body: ReviewIn, sessions: WriterDep, login: Supervisor) -> HandlingPublic:
    """审核 of the unit's reply: passed, or returned with the reasons."""
    return _step(
        sessions,
        case_key,
        lambda s, c: steps.review(s, c, body.passed, body.note, login.username, now()),
    )


@router.post("/api/extensions/{extension_id}/decision", response_model=ExtensionPublic)
def decide_extension(
    extension_id: str, body: ExtensionDecisionIn, sessions: WriterDep, login: Supervisor
) -> ExtensionPublic:
    """Approve (the new date and a notice for the citizen) or refuse with reasons."""
    return ExtensionPublic.model_validate(
        case_steps.decide_extension(
            sessions, extension_id, body.approve, body.note, login.username, now()
        )
    )


@router.post("/api/cases/{case_key}/feedback", response_model=HandlingPublic)
def give_feedback(
    case_key: str, body: FeedbackIn, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> HandlingPublic:
    """回访: how and when the citizen was told (local time unless a zone is given), with
    their satisfaction if given."""
    zone = ZoneInfo(settings.timezone)
    return _step(
        sessions,
        case_key,
        lambda s, c: feedback_step.give(
            s,
            c,
            body.method,
            body.told_at,
            zone,
            body.note,
            body.satisfaction,
            login.username,
            now(),
        ),
    )


@router.post("/api/cases/{case_key}/reopen", response_model=HandlingPublic)
def reopen(
    case_key: str, body: ReasonIn, sessions: WriterDep, rules: RulesDep, login: Supervisor
) -> HandlingPublic:
    """重办: back to dispatch, with the reason."""
    return _step(
        sessions,
        case_key,
        lambda s, c: case_steps.conclude(
            s, c, case_steps.Conclusion.REOPEN, body.reason, login.username, now(), rules
        ),
    )


@router.post("/api/cases/{case_key}/close", response_model=HandlingPublic)
def close(
    case_key: str, body: CloseIn, sessions: WriterDep, rules: RulesDep, login: Supervisor
) -> HandlingPublic:
    return _step(
        sessions,
        case_key,
        lambda s, c: case_steps.conclude(
            s, c, case_steps.Conclusion.CLOSE, body.note, login.username, now(), rules
        ),
    )


@router.post("/api/cases/{case_key}/withdrawal", response_model=HandlingPublic)
def withdraw(
    case_key: str, body: ReasonIn, sessions: WriterDep, login: CaseWorker
) -> HandlingPublic:
    return _step(
        sessions, case_key, lambda s, c: steps.withdraw(s, c, body.reason, login.username, now())
    )


@router.post("/api/cases/{case_key}/archive", response_model=HandlingPublic)
def archive(
    case_key: str,
    sessions: WriterDep,
    settings: SettingsDep,
    storage: StorageDep,
    login: Supervisor,
) -> HandlingPublic:
    """立卷归档: the closed case and its bundle (registration form, history, unit replies,
    feedback, recordings, transcripts, evidence files) go to the archive store."""
    with case_archive.written_files() as written:
        case_id, _ = case_steps.run(
            sessions,
            case_key,
            lambda s, c: case_archive.archive_case(
                s,
                c,
                storage,
                login.username,
                now(),
                written,
                ZoneInfo(settings.timezone),
            ),
        )
    with sessions() as session:
        return handling_public(session, find_case(session, case_id))


# -- supervision -----------------------------------------------------------------------------


@router.get("/api/supervision/overdue", response_model=list[OverduePublic])
def overdue(session: SessionDep, rules: RulesDep, _login: Supervisor) -> list[OverduePublic]:
    """Running deadlines already past, with their card (yellow, red)."""
    return [
        OverduePublic(
            case_id=o.case.id,
            case_number=o.case.number,
            title=o.case.title,
            stage=o.deadline.stage,
            unit=o.unit,
            due_on=o.deadline.due_on,
            provisional=o.deadline.provisional,
            card=o.card.value,
            days_late=o.days_late,
        )
        for o in supervision.overdue(session, rules, now())
    ]


@router.post("/api/supervision/run", response_model=list[IssuedPublic])
def run_supervision(sessions: WriterDep, rules: RulesDep, _login: Supervisor) -> list[IssuedPublic]:
    """Run the supervision job now (it also runs on its own schedule)."""
    with transaction(sessions) as session:
        return [
            IssuedPublic(case_number=i.case_number, stage=i.stage, kind=i.kind.value, unit=i.unit)
            for i in supervision.run(session, rules, now())
        ]
