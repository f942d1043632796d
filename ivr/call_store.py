"""Persist call state. Functions take a Session; the caller owns the transaction.

Several nodes (Asterisk + ivr) may share the database: each call row carries the node that
took it (``Call.node``, ``Settings.node_name``; "" for the single machine). What a node
reconciles after a restart (its open calls, its spool's recordings) is its own rows only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr import dialplan_variables as dv
from ivr.call_state import CallState, Outcome
from ivr.models import Call, CallbackRequest, ConsoleEvent

# The citizen reached nobody: they gave up waiting, or the hotline failed them.
CALLBACK_OUTCOMES = {Outcome.ABANDONED, Outcome.FAILED}


def needs_callback(state: CallState) -> bool:
    return (
        state.outcome in CALLBACK_OUTCOMES
        and state.ended_at is not None
        and state.answered_at is None
    )


def _fit(name: str, value: object) -> object:
    """Cut text to its column: the adapter bounds what comes from outside already; this is
    the last guard, so that no field can cost a call (PostgreSQL refuses a value that is too
    long, SQLite does not)."""
    length = getattr(Call.__table__.c[name].type, "length", None)
    if isinstance(value, str) and length is not None and len(value) > length:
        return value[:length]
    return value


def _fields(state: CallState) -> dict[str, object]:
    outcome = state.outcome
    values: dict[str, object] = {
        "linkedid": state.linkedid,
        "channel": state.channel,
        "caller_number": state.caller_number,
        "caller_name": state.caller_name,
        "dialled_number": state.dialled_number,
        "notice_finished_at": state.notice_finished_at,
        "recording_started_at": state.recording_started_at,
        "queued_at": state.queued_at,
        "answered_at": state.answered_at,
        "message_started_at": state.message_started_at,
        "ended_at": state.ended_at,
        "outcome": outcome.value if outcome else None,
        "operator": state.operator,
        "hangup_cause": state.hangup_cause,
        "failure_reason": state.failure_reason,
        "spool_path": state.recording_path,
        "overflow_of": state.overflow_of,
    }
    return {name: _fit(name, value) for name, value in values.items()}


def save_state(session: Session, state: CallState, node: str = "") -> Call:
    """Insert or update the call row for ``state``; also files the callback request. A new
    row is ``node``'s (the node that took the call); an existing row keeps its node."""
    if state.started_at is None:
        raise ValueError(f"call {state.uniqueid} has no start time")
    call = session.scalar(select(Call).where(Call.asterisk_uniqueid == state.uniqueid))
    if call is None:
        call = Call(asterisk_uniqueid=state.uniqueid, started_at=state.started_at, node=node)
        session.add(call)
    for name, value in _fields(state).items():
        setattr(call, name, value)
    _overflow_operator(session, call)
    session.flush()
    if needs_callback(state) and state.ended_at is not None:
        exists = session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call.id))
        if exists is None:
            session.add(CallbackRequest(call_id=call.id, created_at=state.ended_at))
    return call


def _overflow_operator(session: Session, call: Call) -> None:
    """Issue 18, H7: a caller passed on to another node and answered there is answered by
    that node's operator, named on the leg's row (the first node only learns that it was
    answered: ``dv.OVERFLOW_OPERATOR``). Whichever row is written last names the operator
    on the first node's row."""
    if call.operator == dv.OVERFLOW_OPERATOR:
        taken_by = session.scalar(
            select(Call.operator)
            .where(
                Call.overflow_of == call.asterisk_uniqueid,
                Call.answered_at.is_not(None),
                Call.operator.is_not(None),
            )
            .order_by(Call.answered_at)
            .limit(1)
        )
        if taken_by:
            call.operator = taken_by
    elif call.overflow_of and call.operator and call.answered_at is not None:
        session.execute(
            update(Call)
            .where(
                Call.asterisk_uniqueid == call.overflow_of,
                Call.operator == dv.OVERFLOW_OPERATOR,
            )
            .values(operator=call.operator)
            .execution_options(synchronize_session=False)
        )


def overflow_legs(session: Session, call: Call) -> list[Call]:
    """The rows other nodes wrote for this call's caller passed on to them (overflow)."""
    return list(
        session.scalars(
            select(Call)
            .where(Call.overflow_of == call.asterisk_uniqueid)
            .order_by(Call.started_at, Call.id)
        )
    )


def state_of(call: Call) -> CallState:
    """Rebuild the reducer's state from a stored row (used after a restart)."""
    return CallState(
        uniqueid=call.asterisk_uniqueid,
        linkedid=call.linkedid,
        channel=call.channel,
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        dialled_number=call.dialled_number,
        started_at=call.started_at,
        notice_finished_at=call.notice_finished_at,
        recording_started_at=call.recording_started_at,
        recording_path=call.spool_path,
        queued_at=call.queued_at,
        answered_at=call.answered_at,
        operator=call.operator,
        message_started_at=call.message_started_at,
        failure_reason=call.failure_reason,
        ended_at=call.ended_at,
        hangup_cause=call.hangup_cause,
        overflow_of=call.overflow_of,
    )


def open_calls(session: Session, node: str = "") -> list[Call]:
    """``node``'s calls not ended yet."""
    return list(session.scalars(select(Call).where(Call.node == node, Call.ended_at.is_(None))))


def calls_awaiting_recording(session: Session, node: str = "") -> list[Call]:
    """``node``'s ended calls whose spool file has not been moved into the store yet."""
    return list(
        session.scalars(
            select(Call).where(
                Call.node == node,
                Call.ended_at.is_not(None),
                Call.spool_path.is_not(None),
                Call.recording_problem.is_(None),
            )
        )
    )


def known_spool_paths(session: Session, node: str = "") -> set[str]:
    """The spool files ``node``'s calls name (paths on that node's disk)."""
    return {p for p in session.scalars(select(Call.spool_path).where(Call.node == node)) if p}


def list_calls(session: Session, limit: int = 100) -> list[Call]:
    """The citizens' calls, newest first: a call passed on to another node (overflow) once,
    as its first node's row (the leg is shown on that call's page)."""
    return list(
        session.scalars(
            select(Call)
            .where(Call.overflow_of.is_(None))
            .order_by(Call.started_at.desc())
            .limit(limit)
        )
    )


def get_call(session: Session, call_id: str) -> Call | None:
    return session.get(Call, call_id)


def is_settled(call: Call) -> bool:
    """Over, and its recording stored (or found unusable): nothing more will change it."""
    return call.ended_at is not None and (
        call.spool_path is None or call.recording_problem is not None
    )


def latest_call_from(session: Session, caller: str, since: dt.datetime) -> Call | None:
    return session.scalar(
        select(Call)
        .where(Call.caller_number == caller, Call.started_at >= since)
        .order_by(Call.started_at.desc())
        .limit(1)
    )


def known_uniqueids(session: Session, uniqueids: list[str], node: str | None = None) -> set[str]:
    """Those of ``uniqueids`` that have a call row (``node``'s only, if given)."""
    found: set[str] = set()
    for start in range(0, len(uniqueids), 500):
        chunk = uniqueids[start : start + 500]
        query = select(Call.asterisk_uniqueid).where(Call.asterisk_uniqueid.in_(chunk))
        if node is not None:
            query = query.where(Call.node == node)
        found.update(session.scalars(query))
    return found


def announce(session: Session, uniqueid: str, phone: str, kind: str, at: dt.datetime) -> None:
    """Record that a call rings at (or was answered by) an operator's phone, once per kind."""
    seen = session.scalar(
        select(ConsoleEvent.id).where(
            ConsoleEvent.call_uniqueid == uniqueid,
            ConsoleEvent.phone == phone,
            ConsoleEvent.kind == kind,
        )
    )
    if seen is None:
        session.add(ConsoleEvent(at=at, phone=phone, kind=kind, call_uniqueid=uniqueid))
