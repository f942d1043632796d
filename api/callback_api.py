"""Dialling a callback through the operator's phone, over JSON: ask for it, then follow it.

The API never talks to Asterisk: the request is a row (``dispatch.feedback.operator_dial``)
that the ivr service's dialer picks up; it rings the operator's bound phone, then the
citizen, and records the outcome on the row and, for the citizen's answer, no answer or
busy, as an attempt on the callback list."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session, sessionmaker

from api.auth import CaseWorker, Login
from api.deps import SessionDep, SettingsDep, WriterDep, now
from core.db import transaction
from core.ids import is_id
from core.settings import Settings
from dispatch.feedback import operator_dial
from dispatch.feedback.operator_dial import DialStatus
from dispatch.feedback.operator_dial_models import OperatorDial

router = APIRouter(tags=["work"])


class DialPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    callback_request_id: str
    operator: str
    phone: str
    number: str
    status: DialStatus
    failed_leg: str
    reason: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    operator_answered_at: dt.datetime | None
    answered_at: dt.datetime | None
    finished_at: dt.datetime | None
    ended_at: dt.datetime | None
    attempt_id: int | None


def request_dial(
    sessions: sessionmaker[Session], settings: Settings, request_id: str, login: Login
) -> OperatorDial:
    """The one use case both doors call: a dial request for the operator's bound phone.
    ``LookupError`` for an unknown callback, ``Invalid`` (field ``dial``) when refused."""
    if not is_id(request_id):
        raise LookupError("callback request not found")
    with transaction(sessions) as session:
        return operator_dial.request_dial(
            session,
            request_id,
            login.username,
            login.phone,
            now(),
            trunk=bool(settings.outbound_sip_target),
        )


@router.post("/api/callbacks/{request_id}/dial", response_model=DialPublic, status_code=201)
def dial(
    request_id: str, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> DialPublic:
    """Call the caller back through your phone: the hotline rings your bound phone and,
    once you answer, dials the caller through the outbound trunk. Follow it at
    ``GET /api/operator-dials/{id}``; the caller's answer, no answer or busy is also recorded
    as an attempt on the callback. 422 (field ``dial``) when it cannot be dialled: no phone
    bound, no outbound trunk, the callback done, a number that cannot be dialled, or a dial
    already under way for it or at your phone."""
    try:
        row = request_dial(sessions, settings, request_id, login)
    except LookupError:
        raise HTTPException(status_code=404, detail="callback request not found") from None
    return DialPublic.model_validate(row)


@router.get("/api/operator-dials/{dial_id}", response_model=DialPublic)
def dial_state(dial_id: str, session: SessionDep, _login: CaseWorker) -> DialPublic:
    """Where a dial stands: pending, calling_operator, calling_citizen, then answered,
    no_answer, busy or failed (``failed_leg``: operator, citizen or system; ``reason``)."""
    row = operator_dial.get(session, dial_id) if is_id(dial_id) else None
    if row is None:
        raise HTTPException(status_code=404, detail="dial not found")
    return DialPublic.model_validate(row)


@router.get("/api/operator-dials", response_model=list[DialPublic])
def recent_dials(
    session: SessionDep,
    _login: CaseWorker,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> list[DialPublic]:
    """Dials asked for in the last ``hours``, newest first."""
    since = now() - dt.timedelta(hours=hours)
    return [DialPublic.model_validate(r.dial) for r in operator_dial.recent(session, since, 200)]
