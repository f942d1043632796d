"""The operator's work: calls waiting to be registered, the callback list with the outcome
of every attempt, calls judged to need no case, and a caller's earlier calls and cases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.models import CallbackAttempt, CallDismissal, Case
from dispatch.cases.registration import (
    FieldError,
    Invalid,
    clean_text,
    normalise_phone,
    valid_phone,
)
from dispatch.intake import case_store
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
    case_name: str  # the name the caller gave on their latest real-name case (署实名)

    @property
    def real_name(self) -> bool:
        """A name the caller gave on a case, not the caller ID's display name (anyone can
        set that: it is shown, never counted as a real name)."""
        return bool(self.case_name)

    @property
    def known_name(self) -> str:
        return self.case_name or self.call.caller_name


def caller_phone(number: str) -> str:
    """The caller ID as a complainant's phone is written on a case ('' if it is no phone
    number: withheld, "anonymous", an internal extension). Not a mere digit test: "+86 139…"
    is the mobile 139… that the case holds, and "1001" is an extension, no citizen's phone."""
    phone = normalise_phone(number)
    return phone if valid_phone(phone) else ""


def known_names(session: Session, numbers: Iterable[str]) -> dict[str, str]:
    """Each caller number with the name of its latest real-name case (named, not anonymous);
    numbers with none are left out."""
    phones = {number: caller_phone(number) for number in numbers}
    wanted = set(phones.values()) - {""}
    if not wanted:
        return {}
    rows = session.execute(
        select(Case.complainant_phone, Case.complainant_name)
        .where(
            Case.complainant_phone.in_(wanted),
            Case.complainant_name != "",
            Case.anonymous.is_(False),
        )
        .order_by(Case.registered_at)
    )
    # the latest wins (a Result is not a mapping: dict(rows) would misread it)
    by_phone = {row.complainant_phone: row.complainant_name for row in rows}
    return {number: by_phone[phone] for number, phone in phones.items() if phone in by_phone}


def real_name(session: Session, call: Call) -> str:
    """The name the caller gave on their latest real-name case ('' if none)."""
    return known_names(session, [call.caller_number]).get(call.caller_number, "")


def known_name(session: Session, call: Call) -> str:
    """The caller's name for the form: their latest real-name case's, else the caller ID's
    display name (unverified)."""
    return real_name(session, call) or call.caller_name


def waiting_calls(session: Session, limit: int = 200) -> list[WaitingCall]:
    """Messages and answered calls with no case and not dismissed: real-name callers (a
    name given on an earlier case) first (署实名优先), newest first within each group."""
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
    names = known_names(session, {c.caller_number for c in rows})
    items = [WaitingCall(c, names.get(c.caller_number, "")) for c in rows]
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
    """The number's latest cases (an extension given on a case does not hide it)."""
    where = case_store.same_phone(number)
    if where is None:
        return []
    return list(
        session.scalars(select(Case).where(where).order_by(Case.registered_at.desc()).limit(limit))
    )
