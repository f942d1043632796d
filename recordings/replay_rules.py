"""Who may hear a recording, and under which reason. Pure: the caller gathers the facts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.models import Role

OPERATOR_OWN_CALL = "话务员复听本人受理的来电"
INVESTIGATORS = frozenset({Role.SUPERVISOR, Role.INVESTIGATOR})
MAY_EVER_LISTEN = INVESTIGATORS | {Role.OPERATOR, Role.UNIT_HANDLER}


@dataclass(frozen=True)
class Listener:
    username: str
    role: Role
    phone: str = ""


@dataclass(frozen=True)
class Facts:
    """What is known about one recording, for one listener."""

    call_started_at: dt.datetime
    call_operator: str | None  # the SIP endpoint that answered; None: nobody did
    case_ids: tuple[str, ...] = ()  # the cases registered from this call
    registered_by: tuple[str, ...] = ()  # who registered them
    reason: str | None = None  # the listener's 调听事由 still in force for a case of it
    reason_case_id: str | None = None
    grant_reason: str | None = None  # a supervisor's grant to the listener's unit
    grant_case_id: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    case_id: str | None = None
    refusal_en: str = ""
    refusal_zh: str = ""


def handled_by(listener: Listener, facts: Facts) -> bool:
    """An operator handled a call they answered, a case of it they registered, or a
    message nobody answered (the pool's work)."""
    if listener.username in facts.registered_by:
        return True
    if facts.call_operator is None:
        return True
    return bool(listener.phone) and facts.call_operator == listener.phone


def decide(listener: Listener, facts: Facts, now: dt.datetime,
           operator_days: int) -> Decision:
    if listener.role in INVESTIGATORS:
        if facts.reason:
            return Decision(True, facts.reason, facts.reason_case_id)
        return Decision(False, refusal_en="give a reason (调听事由) for one of the recording's "
                        "cases first", refusal_zh="请先在案件中填写调听事由")
    if listener.role is Role.OPERATOR:
        if not handled_by(listener, facts):
            return Decision(False, refusal_en="operators may replay only the calls they "
                            "handled", refusal_zh="话务员只能复听本人受理的来电")
        if now - facts.call_started_at > dt.timedelta(days=operator_days):
            return Decision(False, refusal_en=f"operators may replay their calls for "
                            f"{operator_days} days", refusal_zh=f"超过 {operator_days} 天的来电"
                            "须由督查员调听")
        return Decision(True, OPERATOR_OWN_CALL, facts.case_ids[0] if facts.case_ids else None)
    if listener.role is Role.UNIT_HANDLER and facts.grant_reason:
        return Decision(True, facts.grant_reason, facts.grant_case_id)
    return Decision(False, refusal_en="your role may not hear recordings",
                    refusal_zh="您的角色无权调听录音")
