"""What a handling unit's portal shows: only the unit's own cases, with the complainant's
identity and evidence withheld as ``dispatch.handling.disclosure`` decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from dispatch.cases.handling_models import Assignment, Unit
from dispatch.cases.models import Case
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import Stage
from dispatch.handling import case_steps, disclosure, steps, supervision
from dispatch.intake import case_lookup
from dispatch.routing import units

T = TypeVar("T")


class NoUnit(PermissionError):
    """The handler's account belongs to no unit: no unit's portal is theirs."""

    def __init__(self) -> None:
        super().__init__("your account belongs to no unit")


def own_unit(session: Session, user_id: str) -> Unit:
    """The unit of a unit's handler; NoUnit if they belong to none."""
    unit = units.unit_of_user(session, user_id)
    if unit is None:
        raise NoUnit
    return unit


def own_case(session: Session, user_id: str, case_key: str) -> tuple[Case, Unit]:
    """A case (by id or number) of the handler's unit, and the unit; another unit's case is
    not found (CaseNotFound), as if it did not exist."""
    unit = own_unit(session, user_id)
    case = case_lookup.find(session, case_key)
    try:
        steps.unit_assignment(session, case, unit.id)
    except steps.Refused:
        raise case_lookup.CaseNotFound from None
    return case, unit


def run_step(
    sessions: sessionmaker[Session],
    user_id: str,
    case_key: str,
    step: Callable[[Session, Case, str], T],
) -> tuple[str, T]:
    """Run a unit's ``step`` (given the handler's unit id) on a case of that unit, through the
    centre's runner (locked, one transaction); another unit's case is not found."""
    with sessions() as session:
        unit_id = own_unit(session, user_id).id
    return case_steps.run(sessions, case_key, lambda s, c: step(s, c, unit_id), unit_id)


def parties(case: Case) -> disclosure.CaseParties:
    return disclosure.CaseParties(
        case.case_type,
        case.anonymous,
        case.confidential,
        case.identity_consent,
        case.complained_unit_id,
    )


@dataclass(frozen=True)
class View:
    """The case as the unit may see it."""

    case: Case
    assignment: Assignment
    identity_shown: bool
    evidence_withheld: bool
    complainant_name: str
    complainant_phone: str
    complainant_address: str
    subject_person: str
    title: str
    content: str
    request: str
    due_on: dt.date | None
    provisional: bool
    return_allowed_until: dt.date | None
    reminders: list[str]


def visible(case: Case, shown: disclosure.Disclosure, text: str) -> str:
    """``text`` of the case as a unit may read it."""
    if shown.identity:
        return text
    return disclosure.redact(
        text,
        case.complainant_name,
        case.complainant_phone,
        case.complainant_address,
        case.complainant_org,
    )


def title_for(case: Case, unit_id: str) -> str:
    return visible(case, disclosure.for_unit(parties(case), unit_id), case.title)


def view(session: Session, case: Case, unit_id: str) -> View:
    """The unit's view of ``case``; ``handling.Refused`` if it is not the unit's."""
    assignment = steps.unit_assignment(session, case, unit_id)
    shown = disclosure.for_unit(parties(case), unit_id)

    def safe(text: str) -> str:
        return visible(case, shown, text)

    hidden = "" if shown.identity else disclosure.HIDDEN_NAME
    deadline = stage_clocks.active(session, case.id, Stage.HANDLING)
    window = stage_clocks.active(session, case.id, Stage.RETURN)
    return View(
        case=case,
        assignment=assignment,
        identity_shown=shown.identity,
        evidence_withheld=not shown.evidence,
        complainant_name=("匿名" if case.anonymous else case.complainant_name)
        if shown.identity
        else hidden,
        complainant_phone=case.complainant_phone if shown.identity else "",
        complainant_address=case.complainant_address if shown.identity else "",
        subject_person=case.subject_person,
        title=safe(case.title),
        content=safe(case.content),
        request=safe(case.request),
        due_on=deadline.due_on if deadline else None,
        provisional=deadline.provisional if deadline else False,
        return_allowed_until=window.due_on
        if window and window.met_at is None and not window.cancelled
        else None,
        reminders=[r.message for r in supervision.records(session, case.id, unit_id)],
    )
