"""The automatic satisfaction call-back (满意度自动回访) in the database: scheduling, claiming
due calls for a dialer, and retrying or giving up. The key the citizen pressed is kept and
applied to the case by ``callback_answers``.

No telephony here (see ``callback_dialer`` and ``callback_survey`` beside it).
Functions take a Session; the caller owns the transaction (on SQLite a write transaction
from ``core.db.transaction``). Every attempt is its own row: a failed attempt stays as
``no_answer`` with its reason and the next attempt is a new ``pending`` row, so the history
of tries is kept; the last failed attempt is marked ``gave_up`` and left to a human.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from dispatch.cases.registration import normalise_phone
from dispatch.cases.survey_models import SatisfactionCall

log = logging.getLogger(__name__)

DIALLABLE = re.compile(r"\d{3,20}")


class CallStatus(StrEnum):
    PENDING = "pending"
    DIALLING = "dialling"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    GAVE_UP = "gave_up"


OPEN_STATUSES = frozenset({CallStatus.PENDING, CallStatus.DIALLING})


class NotDialling(LookupError):
    """The call is unknown, or no longer being dialled (settled by someone else)."""


@dataclass(frozen=True)
class DueCall:
    """A call a dialer has claimed and must now place."""

    id: str
    case_id: str
    phone: str
    case_number: str
    attempt: int


def dial_number(phone: str) -> str:
    """The digits to dial for a stored phone number (``021-12345678`` → ``02112345678``);
    ``ValueError`` when it is not a number a trunk can dial."""
    digits = normalise_phone(phone).replace("-", "")
    if not DIALLABLE.fullmatch(digits):
        raise ValueError(f"not a diallable phone number: {phone!r}")
    return digits


def open_call(session: Session, case_id: str) -> SatisfactionCall | None:
    """The case's call-back that is waiting or under way, if any."""
    return session.scalar(
        select(SatisfactionCall)
        .where(
            SatisfactionCall.case_id == case_id,
            SatisfactionCall.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .order_by(SatisfactionCall.attempt.desc())
        .limit(1)
    )


def schedule(
    session: Session, case_id: str, phone: str, case_number: str, now: dt.datetime
) -> SatisfactionCall:
    """Call the citizen back as soon as a dialer is free. A case that already has a call-back
    waiting or under way keeps that one (returned as it is)."""
    existing = open_call(session, case_id)
    if existing is not None:
        return existing
    row = SatisfactionCall(
        case_id=case_id,
        phone=dial_number(phone),
        case_number=case_number.strip(),
        attempt=1,
        status=CallStatus.PENDING.value,
        due_at=now,
        digit="",
        outcome="",
    )
    session.add(row)
    session.flush()
    return row


def move_status(session: Session, call_id: str, source: CallStatus, **values: Any) -> bool:
    """Conditional UPDATE: move the row out of ``source``; False when it was not there, so
    of two callers settling the same call only one succeeds."""
    result = session.execute(
        update(SatisfactionCall)
        .where(SatisfactionCall.id == call_id, SatisfactionCall.status == source.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def claim_due(session: Session, now: dt.datetime, limit: int = 10) -> list[DueCall]:
    """Move pending calls that are due to ``dialling`` and return them. Each row is moved by
    its own conditional UPDATE, so when two dialers race for a row only one gets it."""
    candidates = session.scalars(
        select(SatisfactionCall)
        .where(SatisfactionCall.status == CallStatus.PENDING.value, SatisfactionCall.due_at <= now)
        .order_by(SatisfactionCall.due_at)
        .limit(limit)
    ).all()
    claimed = []
    for row in candidates:
        if move_status(
            session, row.id, CallStatus.PENDING, status=CallStatus.DIALLING.value, started_at=now
        ):
            claimed.append(DueCall(row.id, row.case_id, row.phone, row.case_number, row.attempt))
    session.expire_all()
    return claimed


def record_failure(
    session: Session,
    call_id: str,
    reason: str,
    now: dt.datetime,
    retry_minutes: float,
    max_attempts: int,
) -> SatisfactionCall | None:
    """The attempt failed (no answer, busy, no key…): keep the reason and schedule the next
    attempt ``retry_minutes`` later, or give up after ``max_attempts``. Returns the next
    attempt's row, ``None`` when given up; ``NotDialling`` if the call was settled already."""
    row = session.get(SatisfactionCall, call_id)
    if row is None:
        raise NotDialling(call_id)
    give_up = row.attempt >= max_attempts
    status = CallStatus.GAVE_UP if give_up else CallStatus.NO_ANSWER
    note = reason.strip()[:500] or "failed"
    if give_up:
        note = f"{note}; gave up after {row.attempt} attempts, needs a human call-back"
    if not move_status(
        session, call_id, CallStatus.DIALLING, status=status.value, finished_at=now, outcome=note
    ):
        raise NotDialling(call_id)
    session.expire(row)
    if give_up:
        return None
    retry = SatisfactionCall(
        case_id=row.case_id,
        phone=row.phone,
        case_number=row.case_number,
        attempt=row.attempt + 1,
        status=CallStatus.PENDING.value,
        due_at=now + dt.timedelta(minutes=retry_minutes),
        digit="",
        outcome="",
    )
    session.add(retry)
    session.flush()
    return retry


def recover_stale(
    session: Session,
    now: dt.datetime,
    older_than: dt.timedelta,
    retry_minutes: float,
    max_attempts: int,
) -> list[str]:
    """Calls left ``dialling`` for longer than any call lasts (the dialer or the call flow
    died before an outcome was known) count as failed attempts. Returns their ids."""
    stale = session.scalars(
        select(SatisfactionCall.id).where(
            SatisfactionCall.status == CallStatus.DIALLING.value,
            SatisfactionCall.started_at < now - older_than,
        )
    ).all()
    recovered = []
    for call_id in stale:
        try:
            record_failure(
                session, call_id, "no outcome: the call was lost", now, retry_minutes, max_attempts
            )
        except NotDialling:
            continue
        recovered.append(call_id)
    return recovered


def get(session: Session, call_id: str) -> SatisfactionCall | None:
    return session.get(SatisfactionCall, call_id)


def calls_for_case(session: Session, case_id: str) -> list[SatisfactionCall]:
    """Every attempt for the case, first attempt first."""
    return list(
        session.scalars(
            select(SatisfactionCall)
            .where(SatisfactionCall.case_id == case_id)
            .order_by(SatisfactionCall.attempt)
        )
    )


def given_up(session: Session, limit: int = 100) -> list[SatisfactionCall]:
    """Citizens the automatic call-back could not reach: a human should call them."""
    return list(
        session.scalars(
            select(SatisfactionCall)
            .where(SatisfactionCall.status == CallStatus.GAVE_UP.value)
            .order_by(SatisfactionCall.finished_at.desc())
            .limit(limit)
        )
    )
