"""A call's transcript while the call is up, as server-sent events for the call page: each
utterance as it is stored, the registration form's suggestions as the text grows, and the
final transcript once it is stored (then the stream ends). The rule and the access log are
``custody.live_transcript``'s; this module only streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from api.auth import CaseWorker
from api.deps import SettingsDep, now
from api.evidence import http_error, requester
from custody import live_transcript
from custody.errors import CustodyError

router = APIRouter(tags=["calls"])
POLL_SECONDS = 0.15
KEEPALIVE_SECONDS = 15.0

EVENTS_DOC = (
    "Server-sent events (text/event-stream):\n\n"
    "- `utterance` (its `id:`, sent back as `Last-Event-ID` on reconnection, is the last "
    "final row shown before the first partial): "
    '`{"id", "stream", "speaker": "caller"|"operator", "final", "start", "end", "text", '
    '"raw"}`; times in seconds from the recording\'s start; a later row of the same '
    "`stream` replaces a partial one (`final: false`).\n"
    '- `retract`: `{"id", "stream"}`: that partial was deleted with nothing in its place.\n'
    '- `suggestions`: `{"form": {case_type, complainant_phone, subject_unit, title, content, '
    'transcript_text}, "type_reason", "subjects", "numbers", "from_final"}`, after each '
    "final utterance.\n"
    '- `final`: `{"segments": [{"speaker", "start", "end", "text", "raw"}]}`: the call\'s '
    "transcript is stored; the stream ends.\n\n"
    "A comment line every 15 s keeps the connection open."
)


def _event(kind: str, data: object, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(request: Request, view: live_transcript.View, after: int) -> AsyncIterator[str]:
    sessions = request.app.state.sessions
    cursor = live_transcript.Cursor(after)
    quiet = 0.0
    while not await request.is_disconnected():
        update = await asyncio.to_thread(live_transcript.poll, sessions, view, cursor)
        cursor = update.cursor
        for spoken in update.gone:
            yield _event("retract", {"id": spoken.id, "stream": spoken.stream})
        for spoken in update.utterances:
            # The event's id is where a reconnection resumes: past the finals shown.
            yield _event("utterance", asdict(spoken), cursor.after)
            quiet = 0.0
        if update.suggestions is not None:
            yield _event("suggestions", asdict(update.suggestions))
        if update.final is not None:
            yield _event("final", {"segments": update.final})
            return
        await asyncio.sleep(POLL_SECONDS)
        quiet += POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet = 0.0


@router.get(
    "/api/calls/{call_id}/live",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": EVENTS_DOC},
        403: {"description": "this person may not read the call's transcript"},
        404: {"description": "no such call"},
    },
)
async def live(
    call_id: str,
    request: Request,
    settings: SettingsDep,
    login: CaseWorker,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The call's transcript as it is spoken, for as long as the call's final transcript is
    not stored: the call page's, so for operators and supervisors (other roles: 403). Who of
    them may follow it: as for the transcript (operators the calls they answer or that nobody
    has answered yet, supervisors after giving a reason for one of its cases). Each opened
    stream, allowed or refused, is one entry in the access log (action ``transcript``); a
    refusal is a 403 before any event."""
    try:
        view = await asyncio.to_thread(
            live_transcript.open_view,
            request.app.state.sessions,
            settings,
            requester(login, request),
            call_id,
            now(),
        )
    except CustodyError as exc:
        raise http_error(exc) from None
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    return StreamingResponse(
        _stream(request, view, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
