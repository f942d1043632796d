"""The acceptance decision and 并单 on a registered case, as the page and the JSON API both
apply them: each door parses its input into these arguments and calls the same function."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dispatch.cases.models import Case
from dispatch.cases.registration import Decision, FieldError, Invalid
from dispatch.deadlines.stage_clocks import Rules
from dispatch.intake import case_lookup, case_store


@dataclass(frozen=True)
class DecisionOrder:
    """受理, 不予受理 (reason, the body to turn to, the reply) or 即办 (the answer, given
    in words or taken from the chosen knowledge entry)."""

    decision: Decision
    reason: str = ""
    refer_to: str = ""
    reply_text: str = ""
    knowledge_entry_id: str = ""


def parse_decision(value: str) -> Decision:
    """A decision named on a form; no decision (or an unknown one) is a field error."""
    try:
        decision = Decision(value)
    except ValueError:
        decision = Decision.PENDING
    if decision is Decision.PENDING:
        raise Invalid({"decision": FieldError("请选择受理意见", "choose a decision")})
    return decision


def decide(
    session: Session,
    case: Case,
    order: DecisionOrder,
    actor: str,
    now: dt.datetime,
    rules: Rules | None,
) -> None:
    """Apply the decision to ``case``; the knowledge entry chosen for 即办 must be active."""
    if order.decision is Decision.PENDING:
        raise Invalid({"decision": FieldError("请选择受理意见", "choose a decision")})
    entry = case_store.knowledge_entry(session, order.knowledge_entry_id.strip())
    case_store.decide(
        session,
        case,
        order.decision,
        actor,
        now,
        reason=order.reason.strip(),
        refer_to=order.refer_to.strip(),
        reply_text=order.reply_text.strip(),
        entry=entry,
        rules=rules,
    )


def merge(
    session: Session, case: Case, into_key: str, reason: str, actor: str, now: dt.datetime
) -> None:
    """并单 into the case numbered (or with the id) ``into_key``. A case named in the form
    that does not exist is a field error, not a missing page."""
    try:
        into = case_lookup.find(session, into_key.strip())
    except case_lookup.CaseNotFound:
        raise Invalid({"merge_into": FieldError("找不到该编号的案件", "no such case")}) from None
    case_store.merge(session, case, into, reason, actor, now)
