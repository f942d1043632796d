"""Each handling step at the centre as one function, the same for the console's forms and
the JSON API; and the runner every step goes through: find the case, lock it, run the step
in one transaction (the step writes its history entry through the lifecycle table)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.ids import is_id
from dispatch.cases.handling_models import Extension
from dispatch.cases.models import Case
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines.stage_clocks import Rules
from dispatch.handling import steps
from dispatch.intake import case_lookup
from dispatch.intake.case_store import NotFound
from dispatch.routing import suggestions

T = TypeVar("T")
Step = Callable[[Session, Case], T]


class ExtensionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("extension not found")


class LeaderOnly(PermissionError):
    """Only a leader (a supervisor) may approve or deny a case for dispatch."""

    def __init__(self) -> None:
        super().__init__("only a supervisor may do this")


def run(
    sessions: sessionmaker[Session], case_key: str, step: Step[T], unit_id: str | None = None
) -> tuple[str, T]:
    """Run ``step`` on the case ``case_key`` (id or number), locked, in one transaction;
    returns the case's id and what the step returned. With ``unit_id``, a case not assigned
    to that unit is not found, as if it did not exist."""
    with transaction(sessions) as session:
        case = case_lookup.find(session, case_key, lock=True)
        if unit_id is not None:
            try:
                steps.unit_assignment(session, case, unit_id)
            except steps.Refused:
                raise case_lookup.CaseNotFound from None
        return case.id, step(session, case)


# -- the centre's steps ------------------------------------------------------------------


class ApprovalAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    DENY = "deny"


def approval(
    session: Session, case: Case, action: str, note: str, actor: str, leader: bool, now: dt.datetime
) -> None:
    """报批: anyone at the centre submits; only a leader approves or denies."""
    try:
        chosen = ApprovalAction(action)
    except ValueError:
        raise Invalid({"action": FieldError("审批操作不正确", "submit, approve or deny")}) from None
    if chosen is ApprovalAction.SUBMIT:
        steps.submit_approval(session, case, actor, now, note)
        return
    if not leader:
        raise LeaderOnly
    steps.decide_approval(session, case, chosen is ApprovalAction.APPROVE, actor, now, note)


class Conclusion(StrEnum):
    """After the feedback (or a dissatisfied citizen's review): 重办 or 办结."""

    REOPEN = "reopen"
    CLOSE = "close"


def conclusion(action: str) -> Conclusion:
    """The conclusion a form chose; anything else (missing or mistyped) is a field error."""
    try:
        return Conclusion(action)
    except ValueError:
        raise Invalid({"action": FieldError("办结操作不正确", "reopen or close")}) from None


def conclude(
    session: Session,
    case: Case,
    chosen: Conclusion,
    note: str,
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> None:
    """重办 (back to dispatch, ``note`` the reason) or 办结 (``note`` optional)."""
    if chosen is Conclusion.REOPEN:
        steps.reopen(session, case, note, actor, now, rules)
    else:
        steps.close(session, case, actor, now, note)


def dispatch(
    session: Session,
    case: Case,
    order: steps.DispatchOrder,
    cache: suggestions.ModelCache,
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> None:
    """交办 under the category the dispatcher confirms (kept as the routing model's training
    example) to the lead unit and any assisting units."""
    steps.check_order(order)
    suggestions.check_category(session, order.category, order.lead_unit_id, order.category_offered)
    suggestions.confirm(session, cache, case, order.category.strip(), actor, now)
    steps.dispatch(session, case, order, actor, now, rules)


class Redirection(StrEnum):
    """What the centre does with a case its unit has: 改派 to another unit, or 收回 only."""

    REASSIGN = "reassign"
    RECALL = "recall"


def redirection(action: str) -> Redirection:
    try:
        return Redirection(action)
    except ValueError:
        raise Invalid({"action": FieldError("改派操作不正确", "reassign or recall")}) from None


def reassignment_order(
    session: Session,
    case: Case,
    lead_unit_id: str,
    category: str,
    instructions: str = "",
    category_offered: str = "",
) -> steps.DispatchOrder:
    """The order a 改派 sends: the new lead unit, category and instructions; the mode, the
    complexity and the unit complained about as the dispatch it replaces had them (自办
    becomes 转办: the new unit is not the centre's own)."""
    current = next((a for a in steps.assignments(session, case.id) if a.role == "lead"), None)
    mode = steps.Mode(current.mode) if current else steps.Mode.TRANSFER
    return steps.DispatchOrder(
        lead_unit_id=lead_unit_id,
        mode=steps.Mode.TRANSFER if mode is steps.Mode.SELF else mode,
        instructions=instructions,
        category=category,
        complex_case=case.complex_case,
        complained_unit_id=case.complained_unit_id or "",
        category_offered=category_offered,
    )


def reassign(
    session: Session,
    case: Case,
    order: steps.DispatchOrder,
    reason: str,
    cache: suggestions.ModelCache,
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> None:
    """改派: taken back from its unit and dispatched to another, under the category the
    dispatcher confirms (as for a dispatch)."""
    try:
        suggestions.check_category(
            session, order.category, order.lead_unit_id, order.category_offered
        )
    except Invalid as exc:
        steps.check_reassignment(session, case, order, reason, exc.errors)
        raise  # (nothing else was wrong)
    steps.reassign(session, case, order, reason, actor, now, rules)
    suggestions.confirm(session, cache, case, order.category.strip(), actor, now)


def decide_extension(
    sessions: sessionmaker[Session],
    extension_id: str,
    approve: bool,
    note: str,
    actor: str,
    now: dt.datetime,
) -> Extension:
    """A supervisor's decision on a unit's request for more time, on its case locked."""
    with transaction(sessions) as session:
        found = session.get(Extension, extension_id) if is_id(extension_id) else None
        if found is None:
            raise ExtensionNotFound
        case = case_lookup.find(session, found.case_id, lock=True)
        steps.decide_extension(session, case, found, approve, note, actor, now)
        return found


def extension_case(session: Session, extension_id: str) -> str:
    """The id of the case an extension request belongs to."""
    found = session.get(Extension, extension_id) if is_id(extension_id) else None
    if found is None:
        raise ExtensionNotFound
    return found.case_id
