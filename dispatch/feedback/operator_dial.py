"""Callbacks dialled through the operator's phone (漏接回拨一键回拨), in the database.

The console writes a request (``request_dial``); the ivr service's dialer
(``operator_dialer``, beside this module) claims it, rings the operator's phone over AMI and,
once the operator answers, has Asterisk dial the citizen through the outbound trunk; what
Asterisk reports moves the row on. The citizen's outcome (answered, no answer, busy) is also
recorded as an attempt on the callback list (``dispatch.intake.call_queue``), by the operator
who asked, at the time Asterisk reported it; an answered callback settles the request.

No telephony here. Functions take a Session; the caller owns the transaction. Every move is
a conditional UPDATE from the statuses it may come from, so a report that arrives twice, or
late, changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from dispatch.cases.registration import FieldError, Invalid
from dispatch.feedback.callbacks import dial_number
from dispatch.feedback.operator_dial_models import OperatorDial
from dispatch.intake import call_queue
from dispatch.intake.call_queue import CallbackOutcome
from ivr.models import Call, CallbackRequest

log = logging.getLogger(__name__)

# A request nobody dialled within this long is dropped: the operator has moved on.
PENDING_TTL = dt.timedelta(seconds=60)


class DialStatus(StrEnum):
    PENDING = "pending"
    CALLING_OPERATOR = "calling_operator"
    CALLING_CITIZEN = "calling_citizen"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


OPEN_STATUSES = frozenset(
    {DialStatus.PENDING, DialStatus.CALLING_OPERATOR, DialStatus.CALLING_CITIZEN}
)
RINGING = (DialStatus.CALLING_OPERATOR, DialStatus.CALLING_CITIZEN)


class Leg(StrEnum):
    OPERATOR = "operator"
    CITIZEN = "citizen"
    SYSTEM = "system"


STATUS_LABELS = {
    DialStatus.PENDING: "等待拨号",
    DialStatus.CALLING_OPERATOR: "正在呼叫话务员分机",
    DialStatus.CALLING_CITIZEN: "话务员已接听，正在呼叫来电人",
    DialStatus.ANSWERED: "已接通",
    DialStatus.NO_ANSWER: "来电人无人接听",
    DialStatus.BUSY: "来电人占线",
    DialStatus.FAILED: "未能接通",
}
LEG_LABELS = {Leg.OPERATOR: "话务员分机", Leg.CITIZEN: "来电人号码", Leg.SYSTEM: "系统"}
REASON_LABELS = {
    "no answer": "无人接听",
    "busy": "忙",
    "rejected": "拒接",
    "rejected or hung up before answering": "拒接或未接听即挂断",
    "congestion or unreachable": "无法接通",
    "unreachable": "无法接通",
    "phone switched off or out of reach": "关机或不在服务区",
    "unallocated number": "空号",
    "invalid number": "号码无效",
    "no route to the number": "无法路由到该号码",
    "number changed": "号码已改",
    "could not be dialled": "无法呼出（分机未登录？）",
    "operator hung up before the citizen answered": "来电人接听前话务员已挂断",
    "not dialled in time": "超时未拨出（语音服务未运行？）",
    "no outcome: the call was lost": "呼叫中断，结果未知",
}
# Outcomes of the citizen's leg that are an attempt on the callback list.
ATTEMPT_OUTCOMES = {
    DialStatus.ANSWERED: CallbackOutcome.REACHED,
    DialStatus.NO_ANSWER: CallbackOutcome.NO_ANSWER,
    DialStatus.BUSY: CallbackOutcome.BUSY,
}
# Dial()'s DIALSTATUS for the citizen's leg.
DIAL_STATUSES = {
    "ANSWER": (DialStatus.ANSWERED, Leg.CITIZEN, "answered"),
    "NOANSWER": (DialStatus.NO_ANSWER, Leg.CITIZEN, "no answer"),
    "BUSY": (DialStatus.BUSY, Leg.CITIZEN, "busy"),
    "CONGESTION": (DialStatus.FAILED, Leg.CITIZEN, "congestion or unreachable"),
    "CHANUNAVAIL": (DialStatus.FAILED, Leg.CITIZEN, "unreachable"),
    "CANCEL": (DialStatus.FAILED, Leg.OPERATOR, "operator hung up before the citizen answered"),
}
# Q.850 causes that say more than CHANUNAVAIL/CONGESTION.
CAUSES = {1: "unallocated number", 20: "phone switched off or out of reach", 28: "invalid number"}


@dataclass(frozen=True)
class DueDial:
    """A dial the dialer claimed and must now place."""

    id: str
    operator: str
    phone: str
    number: str


def citizen_outcome(dial_status: str, cause: int | None = None) -> tuple[DialStatus, Leg, str]:
    """What the dial plan's report of the citizen's leg means: status, whose leg, reason."""
    status, leg, reason = DIAL_STATUSES.get(
        dial_status.strip().upper(),
        (DialStatus.FAILED, Leg.CITIZEN, f"failed (DIALSTATUS {dial_status or 'unknown'})"),
    )
    if status is DialStatus.FAILED and leg is Leg.CITIZEN and cause in CAUSES:
        reason = CAUSES[cause]
    return status, leg, reason


def describe(dial: OperatorDial) -> str:
    """The dial's state in the console's words."""
    status = DialStatus(dial.status)
    text = STATUS_LABELS[status]
    if status is DialStatus.FAILED:
        leg = next((label for value, label in LEG_LABELS.items() if value == dial.failed_leg), "")
        reason = REASON_LABELS.get(dial.reason, dial.reason)
        text = f"{text}：{leg}{reason}" if leg or reason else text
    return text


def _refuse(zh: str, en: str) -> Invalid:
    return Invalid({"dial": FieldError(zh, en)})


def open_dial(session: Session, request_id: str) -> OperatorDial | None:
    return session.scalar(
        select(OperatorDial)
        .where(
            OperatorDial.callback_request_id == request_id,
            OperatorDial.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .limit(1)
    )


def request_dial(
    session: Session,
    request_id: str,
    operator: str,
    phone: str,
    now: dt.datetime,
    trunk: bool,
) -> OperatorDial:
    """The operator at ``phone`` asks to call back the caller of ``request_id``: a pending
    row for the dialer. ``trunk``: whether an outbound trunk is configured.
    ``LookupError`` for an unknown request; ``Invalid`` (field ``dial``) when it cannot be
    dialled."""
    request = session.get(CallbackRequest, request_id, with_for_update=True)
    if request is None:
        raise LookupError("callback request not found")
    if not phone:
        raise _refuse(
            "您的账号未绑定话务分机，无法一键回拨，请联系系统管理员绑定",
            "your account has no phone bound: ask an administrator",
        )
    if not trunk:
        raise _refuse(
            "未配置外呼线路，无法一键回拨，请用其他电话回拨后记录结果",
            "no outbound trunk is configured (HOTLINE_OUTBOUND_SIP_TARGET)",
        )
    if request.status != "pending":
        raise _refuse("该回拨已完成", "this callback is done already")
    call = session.get(Call, request.call_id)
    try:
        number = dial_number(call.caller_number if call is not None else "")
    except ValueError:
        raise _refuse(
            "来电号码无法回拨（未显示号码或不是电话号码）", "the caller's number cannot be dialled"
        ) from None
    if open_dial(session, request_id) is not None:
        raise _refuse("该来电正在回拨中，请稍候", "this callback is being dialled already")
    busy = session.scalar(
        select(OperatorDial.id)
        .where(
            OperatorDial.phone == phone,
            OperatorDial.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .limit(1)
    )
    if busy is not None:
        raise _refuse(
            f"分机 {phone} 正在进行另一通回拨，请结束后再拨",
            f"phone {phone} is dialling another callback",
        )
    dial = OperatorDial(
        callback_request_id=request_id,
        operator=operator,
        phone=phone,
        number=number,
        status=DialStatus.PENDING.value,
        failed_leg="",
        reason="",
        requested_at=now,
    )
    session.add(dial)
    session.flush()
    return dial


def _move(session: Session, dial_id: str, sources: Iterable[DialStatus], **values: Any) -> bool:
    result = session.execute(
        update(OperatorDial)
        .where(
            OperatorDial.id == dial_id,
            OperatorDial.status.in_([s.value for s in sources]),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def claim_pending(
    session: Session, now: dt.datetime, limit: int = 5, phones: Collection[str] | None = None
) -> list[DueDial]:
    """Move pending dials to ``calling_operator`` and return them; requests older than
    ``PENDING_TTL`` fail instead (nobody waits that long in front of the console).
    ``phones``: only dials through these operators' phones (a node's own, issue 18); the
    expired requests of any phone fail all the same."""
    pending = OperatorDial.status == DialStatus.PENDING.value
    if phones is not None:
        pending = pending & or_(
            OperatorDial.phone.in_(sorted(phones)), OperatorDial.requested_at < now - PENDING_TTL
        )
    rows = session.scalars(
        select(OperatorDial).where(pending).order_by(OperatorDial.requested_at).limit(limit)
    ).all()
    claimed = []
    for row in rows:
        if row.requested_at < now - PENDING_TTL:
            if _move(
                session,
                row.id,
                [DialStatus.PENDING],
                status=DialStatus.FAILED.value,
                failed_leg=Leg.SYSTEM.value,
                reason="not dialled in time",
                finished_at=now,
            ):
                log.warning("operator dial %s expired before it was dialled", row.id)
            continue
        if _move(
            session,
            row.id,
            [DialStatus.PENDING],
            status=DialStatus.CALLING_OPERATOR.value,
            started_at=now,
        ):
            claimed.append(DueDial(row.id, row.operator, row.phone, row.number))
    session.expire_all()
    return claimed


def operator_answered(session: Session, dial_id: str, at: dt.datetime) -> bool:
    """The operator's phone answered: the citizen is being dialled."""
    return _move(
        session,
        dial_id,
        [DialStatus.CALLING_OPERATOR],
        status=DialStatus.CALLING_CITIZEN.value,
        operator_answered_at=at,
    )


def operator_failed(session: Session, dial_id: str, reason: str, at: dt.datetime) -> bool:
    """The operator's phone was not answered (or could not ring): nobody dialled the
    citizen, so no attempt is recorded."""
    return _finish(session, dial_id, DialStatus.FAILED, Leg.OPERATOR, reason, at)


def citizen_answered(session: Session, dial_id: str, at: dt.datetime) -> bool:
    """The citizen answered: the operator talks to them now."""
    return _finish(session, dial_id, DialStatus.ANSWERED, Leg.CITIZEN, "answered", at)


def citizen_ended(
    session: Session, dial_id: str, dial_status: str, cause: int | None, at: dt.datetime
) -> bool:
    """The dial plan's report of the citizen's leg (Dial()'s DIALSTATUS and cause)."""
    status, leg, reason = citizen_outcome(dial_status, cause)
    return _finish(session, dial_id, status, leg, reason, at)


def operator_hung_up(session: Session, dial_id: str, at: dt.datetime) -> bool:
    """The operator's channel ended. After an answered call that is the end of the call;
    while the citizen's phone still rang, the operator gave up."""
    ended = _move(session, dial_id, [DialStatus.ANSWERED], ended_at=at)
    if ended:
        return True
    return _finish(
        session,
        dial_id,
        DialStatus.FAILED,
        Leg.OPERATOR,
        "operator hung up before the citizen answered",
        at,
        sources=[DialStatus.CALLING_CITIZEN],
    )


def _finish(
    session: Session,
    dial_id: str,
    status: DialStatus,
    leg: Leg,
    reason: str,
    at: dt.datetime,
    sources: Iterable[DialStatus] = RINGING,
) -> bool:
    values: dict[str, Any] = {"status": status.value, "finished_at": at, "reason": reason[:500]}
    if status is DialStatus.ANSWERED:
        values["answered_at"] = at
    else:
        values["failed_leg"] = leg.value if status is DialStatus.FAILED else ""
    if not _move(session, dial_id, sources, **values):
        return False
    dial = session.get(OperatorDial, dial_id)
    assert dial is not None
    session.refresh(dial)
    if dial.operator_answered_at is None and leg is Leg.CITIZEN:
        dial.operator_answered_at = at  # its report came after the citizen's
    outcome = ATTEMPT_OUTCOMES.get(status)
    if outcome is not None:
        note = f"经分机 {dial.phone} 一键回拨" + (
            "，已接通" if outcome is CallbackOutcome.REACHED else ""
        )
        try:
            attempt = call_queue.record_attempt(
                session, dial.callback_request_id, outcome.value, note, dial.operator, at
            )
        except Invalid:  # settled by hand meanwhile: the dial keeps its own outcome
            log.info("operator dial %s: its callback was settled already", dial_id)
        else:
            dial.attempt_id = attempt.id
    session.flush()
    return True


def recover_stale(session: Session, now: dt.datetime, older_than: dt.timedelta) -> list[str]:
    """Dials still ringing long after any phone would have stopped (the ivr service or
    Asterisk died meanwhile) fail with an unknown outcome."""
    stale = session.scalars(
        select(OperatorDial.id).where(
            OperatorDial.status.in_([s.value for s in RINGING]),
            OperatorDial.started_at < now - older_than,
        )
    ).all()
    return [
        dial_id
        for dial_id in stale
        if _finish(
            session, dial_id, DialStatus.FAILED, Leg.SYSTEM, "no outcome: the call was lost", now
        )
    ]


def get(session: Session, dial_id: str) -> OperatorDial | None:
    return session.get(OperatorDial, dial_id)


def dials_of(session: Session, request_ids: Iterable[str]) -> dict[str, list[OperatorDial]]:
    """Each callback request's dials, newest first."""
    wanted = list(request_ids)
    found: dict[str, list[OperatorDial]] = {}
    if not wanted:
        return found
    for dial in session.scalars(
        select(OperatorDial)
        .where(OperatorDial.callback_request_id.in_(wanted))
        .order_by(OperatorDial.requested_at.desc())
    ):
        found.setdefault(dial.callback_request_id, []).append(dial)
    return found


@dataclass(frozen=True)
class RecentDial:
    dial: OperatorDial
    call: Call | None


def recent(session: Session, since: dt.datetime, limit: int = 50) -> list[RecentDial]:
    """Dials asked for since ``since``, newest first, with the call being returned."""
    rows = session.execute(
        select(OperatorDial, Call)
        .join(CallbackRequest, CallbackRequest.id == OperatorDial.callback_request_id)
        .outerjoin(Call, Call.id == CallbackRequest.call_id)
        .where(OperatorDial.requested_at >= since)
        .order_by(OperatorDial.requested_at.desc())
        .limit(limit)
    )
    return [RecentDial(row[0], row[1]) for row in rows]
