"""The operator's work over JSON: the queue of calls to register, the callback list and its
attempts, dismissing a call, a recording's waveform (under the rule for hearing it), and
the live feed of calls ringing at the operator's phone (server-sent events)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import CaseWorker, Login, LoginDep
from api.calls import OUTCOME_LABELS, calls_public
from api.case_schemas import (
    CallbackAttemptIn,
    CallbackAttemptPublic,
    CallbackPublic,
    DismissalIn,
    WaitingCallPublic,
    WaveformPublic,
)
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.evidence import http_error, requester
from api.schemas import CallPublic
from api.stored_files import StorageDep, store_errors
from core.db import transaction
from custody import access, listening
from custody.errors import CustodyError
from dispatch.cases.lifecycle import STATUS_LABELS, Status
from dispatch.intake import call_queue, console_feed
from recordings import waveform
from recordings.objects import ObjectMissing

router = APIRouter(tags=["work"])
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


@router.get("/api/queue", response_model=list[WaitingCallPublic])
def queue(
    session: SessionDep, _login: CaseWorker, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[WaitingCallPublic]:
    """Calls waiting to be registered (messages, answered calls without a case):
    real-name callers first, then newest first."""
    waiting = call_queue.waiting_calls(session, limit)
    calls = calls_public(session, [item.call for item in waiting])
    return [
        WaitingCallPublic(call=call, known_name=item.known_name, real_name=item.real_name)
        for item, call in zip(waiting, calls, strict=True)
    ]


def callback_public(item: call_queue.Callback, call: CallPublic) -> CallbackPublic:
    return CallbackPublic(
        id=item.request.id,
        status=item.request.status,
        created_at=item.request.created_at,
        call=call,
        attempts=[CallbackAttemptPublic.model_validate(a) for a in item.attempts],
    )


@router.get("/api/callbacks", response_model=list[CallbackPublic])
def callbacks(
    session: SessionDep, _login: CaseWorker, include_done: bool = False
) -> list[CallbackPublic]:
    """漏接回拨: abandoned calls to call back, with every attempt's outcome."""
    items = call_queue.callbacks(session, include_done=include_done)
    calls = calls_public(session, [item.call for item in items])
    return [callback_public(item, call) for item, call in zip(items, calls, strict=True)]


@router.post(
    "/api/callbacks/{request_id}/attempts", response_model=CallbackAttemptPublic, status_code=201
)
def record_attempt(
    request_id: str, body: CallbackAttemptIn, sessions: WriterDep, login: CaseWorker
) -> CallbackAttemptPublic:
    """Record one callback attempt. reached, wrong_number and declined close the request;
    no_answer and busy keep it on the list."""
    with transaction(sessions) as session:
        try:
            attempt = call_queue.record_attempt(
                session, request_id, body.outcome, body.note, login.username, now()
            )
        except LookupError:
            raise HTTPException(status_code=404, detail="callback request not found") from None
        return CallbackAttemptPublic.model_validate(attempt)


@router.post("/api/calls/{call_id}/dismissal", status_code=204)
def dismiss(call_id: str, body: DismissalIn, sessions: WriterDep, login: CaseWorker) -> None:
    """Take a call off the queue without a case (silent, wrong number…), with the reason."""
    with transaction(sessions) as session:
        try:
            call_queue.dismiss(session, call_id, body.reason, login.username, now())
        except LookupError:
            raise HTTPException(status_code=404, detail="call not found") from None


@router.get(
    "/api/recordings/{recording_id}/waveform", response_model=WaveformPublic, tags=["recordings"]
)
def recording_waveform(
    recording_id: str,
    request: Request,
    sessions: WriterDep,
    settings: SettingsDep,
    storage: StorageDep,
    login: LoginDep,
    buckets: Annotated[int, Query(ge=10, le=4000)] = 800,
) -> WaveformPublic:
    """Peaks per channel (0..1) for drawing the waveform. The peaks show that a recording
    exists and how loud it is, so the rule for hearing it decides, and every request is in
    the access log (action ``waveform``), as for the audio."""
    try:
        heard = listening.listen(
            sessions,
            requester(login, request),
            recording_id,
            access.WAVEFORM,
            now(),
            storage,
            settings.operator_replay_days,
        )
    except CustodyError as exc:
        raise http_error(exc) from None
    if storage.remote is None and heard.stored.local is not None:
        peaks = waveform.peaks(heard.stored.local, buckets)
    else:  # the bytes may be only in the object store: read them from a scratch copy
        with tempfile.TemporaryDirectory(prefix="hotline-waveform-") as scratch, store_errors():
            try:
                peaks = waveform.peaks(storage.fetch(heard.stored.key, Path(scratch)), buckets)
            except ObjectMissing:
                raise HTTPException(status_code=404, detail="recording file missing") from None
    return WaveformPublic(duration_seconds=peaks.duration_seconds, channels=peaks.channels)


def _event_payload(item: console_feed.Ringing, zone: ZoneInfo) -> dict[str, object]:
    call = item.call

    def local(at: dt.datetime) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return {
        "kind": item.kind,
        "at": item.at.isoformat(),
        "call_id": call.id,
        "caller_number": call.caller_number,
        "caller_name": item.caller_name,
        "real_name": item.real_name,
        "started_at": call.started_at.isoformat(),
        "started_at_local": local(call.started_at),
        "earlier_calls": [
            {
                "id": c.id,
                "started_at": c.started_at.isoformat(),
                "started_at_local": local(c.started_at),
                "outcome": c.outcome,
                "outcome_label": OUTCOME_LABELS.get(c.outcome, c.outcome or ""),
            }
            for c in item.earlier_calls
        ],
        "earlier_cases": [
            {
                "id": c.id,
                "number": c.number,
                "status": c.status,
                "status_label": STATUS_LABELS.get(Status(c.status), c.status),
                "title": c.title,
            }
            for c in item.earlier_cases
        ],
    }


def _new_events(
    request: Request, phone: str, after: int, shown: set[str]
) -> tuple[int, list[dict[str, object]], list[str]]:
    """The phone's new calls, and which of the calls shown so far have ended since."""
    zone = ZoneInfo(request.app.state.settings.timezone)
    with request.app.state.sessions() as session:
        after, found = console_feed.since(session, phone, after)
        return (
            after,
            [_event_payload(item, zone) for item in found],
            console_feed.ended(session, shown),
        )


def _start_after(request: Request, phone: str) -> int:
    with request.app.state.sessions() as session:
        return console_feed.start_after(session, phone, now())


async def _stream(request: Request, login: Login) -> AsyncIterator[str]:
    after = await asyncio.to_thread(_start_after, request, login.phone)
    yield f"event: hello\ndata: {json.dumps({'phone': login.phone})}\n\n"
    quiet = 0.0
    shown: set[str] = set()  # calls announced and not yet ended
    while not await request.is_disconnected():
        after, payloads, ended = await asyncio.to_thread(
            _new_events, request, login.phone, after, set(shown)
        )
        for call_id in ended:
            shown.discard(call_id)
            yield f"event: ended\ndata: {json.dumps({'call_id': call_id})}\n\n"
        for payload in payloads:
            shown.add(str(payload["call_id"]))
            yield f"event: call\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
        if payloads or ended:
            quiet = 0.0
        await asyncio.sleep(POLL_SECONDS)
        quiet += POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet = 0.0


@router.get("/api/console/events", response_class=StreamingResponse)
async def console_events(request: Request, login: CaseWorker) -> StreamingResponse:
    """Server-sent events: ``call`` when a hotline call rings at, or is answered by, the
    logged-in operator's phone (from the AMI listener), with the caller's earlier calls and
    cases (times also as ``started_at_local``, in the configured time zone); ``ended``
    (``{"call_id"}``) when such a call has ended. A stream opened during a call (a reload)
    announces it again; a call that has ended is never announced."""
    if not login.phone:
        raise HTTPException(status_code=409, detail="no phone is set for this user")
    return StreamingResponse(
        _stream(request, login),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
