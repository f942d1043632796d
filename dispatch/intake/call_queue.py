"""The operator's work: calls waiting to be registered, the callback list with the outcome
of every attempt, calls judged to need no case, and a caller's earlier calls and cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.models import CallbackAttempt, CallDismissal, Case
from dispatch.cases.registration import FieldError, Invalid, clean_text
from ivr.models import Call, CallbackRequest

WAITING_OUTCOMES = ("message_left", "answered")


class CallbackOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    DECLINED = "declined"


CALLBACK_LABELS = {
    CallbackOutcome.REACHED: "已接通",
    CallbackOutcome.NO_ANSWER: "无人接听",
    CallbackOutcome.BUSY: "占线",
    CallbackOutcome.WRONG_NUMBER: "空号或错号",
    CallbackOutcome.DECLINED: "来电人表示无需处理",
}
FINAL_OUTCOMES = frozenset(
    {CallbackOutcome.REACHED, CallbackOutcome.WRONG_NUMBER, CallbackOutcome.DECLINED}
)


@dataclass(frozen=True)
class WaitingCall:
    call: Call
    known_name: str  # the caller's name from the call or an earlier real-name case

    @property
    def real_name(self) -> bool:
        return bool(self.known_name)


def _known_names(session: Session, numbers: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    if not numbers:
        return names
    rows = session.execute(
        select(Case.complainant_phone, Case.complainant_name)
        .where(
            Case.complainant_phone.in_(numbers),
            Case.complainant_name != "",
            Case.anonymous.is_(False),
        )
        .order_by(Case.registered_at)
    )
    for phone, name in rows:
        names[phone] = name  # the latest wins
    return names


def waiting_calls(session: Session, limit: int = 200) -> list[WaitingCall]:
    """Messages and answered calls with no case and not dismissed: real-name callers
    first (署实名优先), newest first within each group."""
    rows = list(
        session.scalars(
            select(Call)
            .outerjoin(Case, Case.call_id == Call.id)
            .outerjoin(CallDismissal, CallDismissal.call_id == Call.id)
            .where(
                Case.id.is_(None),
                CallDismissal.call_id.is_(None),
                Call.outcome.in_(WAITING_OUTCOMES),
            )
            .order_by(Call.started_at.desc())
            .limit(limit)
        )
    )
    names = _known_names(session, {c.caller_number for c in rows if c.caller_number})
    items = [WaitingCall(c, c.caller_name or names.get(c.caller_number, "")) for c in rows]
    return sorted(items, key=lambda item: not item.real_name)


@dataclass(frozen=True)
class Callback:
    request: CallbackRequest
    call: Call
    attempts: list[CallbackAttempt]


def callbacks(session: Session, include_done: bool = False, limit: int = 200) -> list[Callback]:
    """漏接回拨: abandoned calls to call back, oldest first, with every attempt so far."""
    query = (
        select(CallbackRequest, Call)
        .join(Call, Call.id == CallbackRequest.call_id)
        .order_by(CallbackRequest.created_at)
        .limit(limit)
    )
    if not include_done:
        query = query.where(CallbackRequest.status == "pending")
    pairs = [(row[0], row[1]) for row in session.execute(query)]
    attempts: dict[str, list[CallbackAttempt]] = {}
    if pairs:
        for attempt in session.scalars(
            select(CallbackAttempt)
            .where(CallbackAttempt.request_id.in_([r.id for r, _c in pairs]))
            .order_by(CallbackAttempt.id)
        ):
            attempts.setdefault(attempt.request_id, []).append(attempt)
    return [Callback(request, call, attempts.get(request.id, [])) for request, call in pairs]


def record_attempt(
    session: Session,
    request_id: str,
    outcome: str,
    note: str,
    actor: str,
    now: dt.datetime,
    case_id: str | None = None,
) -> CallbackAttempt:
    request = session.get(CallbackRequest, request_id)
    if request is None:
        raise LookupError("callback request not found")
    try:
        result = CallbackOutcome(outcome)
    except ValueError:
        raise Invalid({"outcome": FieldError("请选择回拨结果", "choose an outcome")}) from None
    if request.status != "pending":
        raise Invalid({"outcome": FieldError("该回拨已完成", "this callback is done already")})
    attempt = CallbackAttempt(
        request_id=request.id,
        at=now,
        actor=actor,
        outcome=result.value,
        note=clean_text(note)[:1000],
        case_id=case_id,
    )
    session.add(attempt)
    if result in FINAL_OUTCOMES:
        request.status = "done"
    session.flush()
    return attempt


def dismiss(
    session: Session, call_id: str, reason: str, actor: str, now: dt.datetime
) -> CallDismissal:
    """Take a call off the queue without a case (silent, wrong number, test call…)."""
    reason = clean_text(reason)
    if not reason:
        raise Invalid({"reason": FieldError("请填写无需登记的原因", "a reason is required")})
    if session.get(Call, call_id) is None:
        raise LookupError("call not found")
    if session.get(CallDismissal, call_id) is not None:
        raise Invalid(
            {"reason": FieldError("该来电已标记为无需登记", "this call was dismissed already")}
        )
    dismissal = CallDismissal(call_id=call_id, at=now, actor=actor, reason=reason[:1000])
    session.add(dismissal)
    session.flush()
    return dismissal


def earlier_calls(session: Session, number: str, before: dt.datetime, limit: int = 5) -> list[Call]:
    if not number:
        return []
    return list(
        session.scalars(
            select(Call)
            .where(Call.caller_number == number, Call.started_at < before)
            .order_by(Call.started_at.desc())
            .limit(limit)
        )
    )


def earlier_cases(session: Session, number: str, limit: int = 5) -> list[Case]:
    if not number:
        return []
    return list(
        session.scalars(
            select(Case)
            .where(Case.complainant_phone == number)
            .order_by(Case.registered_at.desc())
            .limit(limit)
        )
    )
