"""漏接回拨: the callback list as its own page, where an operator calls a caller back through
their own phone with one button (一键回拨) and sees how it went, or records the outcome of a
call made some other way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.auth import CaseWorker, Login
from api.callback_api import request_dial
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.pages import record_attempt, render, see
from core.settings import Settings
from dispatch.cases.registration import Invalid
from dispatch.feedback import operator_dial
from dispatch.intake import call_queue

router = APIRouter(include_in_schema=False)
RECENT = dt.timedelta(hours=24)


def _callbacks_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    row_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    items = call_queue.callbacks(session)
    dials = operator_dial.dials_of(session, [item.request.id for item in items])
    recent = operator_dial.recent(session, now() - RECENT)
    open_dials = [
        r.dial.id for r in recent if r.dial.status in {s.value for s in operator_dial.OPEN_STATUSES}
    ]
    return render(
        request,
        "callbacks.html",
        login,
        settings,
        status_code=status_code,
        callbacks=items,
        dials=dials,
        recent=recent,
        open_dials=open_dials,
        open_statuses={s.value for s in operator_dial.OPEN_STATUSES},
        describe=operator_dial.describe,
        callback_labels=call_queue.CALLBACK_LABELS,
        trunk=bool(settings.outbound_sip_target),
        row_errors=row_errors or {},
    )


@router.get("/callbacks", response_class=HTMLResponse)
def callbacks_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: CaseWorker
) -> HTMLResponse:
    return _callbacks_page(request, session, settings, login)


async def _change(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    request_id: str,
    change: Callable[[], object],
) -> Response:
    try:
        await run_in_threadpool(change)
    except LookupError:
        raise HTTPException(status_code=404, detail="callback request not found") from None
    except Invalid as exc:
        message = "；".join(err.zh for err in exc.errors.values())
        with sessions() as session:
            return _callbacks_page(
                request, session, settings, login, {request_id: message}, status_code=422
            )
    return see(f"/callbacks#callback-{request_id}")


@router.post("/callbacks/{request_id}/dial", response_class=HTMLResponse)
async def dial(
    request_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    """一键回拨: ring the operator's phone, then the caller (``POST /api/callbacks/{id}/dial``)."""

    def change() -> None:
        request_dial(sessions, settings, request_id, login)

    return await _change(request, sessions, settings, login, request_id, change)


@router.post("/callbacks/{request_id}/outcome", response_class=HTMLResponse)
async def record_outcome(
    request_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: CaseWorker
) -> Response:
    """The outcome of a callback made some other way (as ``POST /api/callbacks/{id}/attempts``)."""
    form = await request.form()

    def change() -> None:
        record_attempt(sessions, request_id, form, login.username)

    return await _change(request, sessions, settings, login, request_id, change)
