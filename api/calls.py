"""Calls: the JSON list, one call, its recording's audio, and the first page."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.orm import Session

from api.auth import CallReader, LoginDep
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.evidence import http_error, requester
from api.labels import OVERFLOW_OUTCOME_LABELS
from api.schemas import CallPublic, CallTranscript
from asr.model_install import active_model
from asr.model_kind import kind_of
from core.settings import Settings
from custody import transcript_reads
from custody.errors import CustodyError
from ivr import call_store
from ivr.models import Call
from recordings import lookup

router = APIRouter()

OUTCOME_LABELS: dict[str | None, str] = {
    "answered": "已接听",
    "message_left": "已留言",
    "abandoned": "排队中挂断（待回拨）",
    "hung_up_during_notice": "提示音期间挂断",
    "failed": "故障",
    None: "通话中",
    **OVERFLOW_OUTCOME_LABELS,  # Issue 18, H7
}

TRANSCRIPT_LABELS: dict[str | None, str] = {
    "ok": "",
    "silent": "静音，无语音",
    "empty": "录音为空",
    "truncated": "录音不完整，已转写现有部分",
    "corrupt": "录音损坏，无法转写",
    "too_long": "录音过长，仅转写前段",
    "queued": "等待转写",
    "running": "正在转写",
    "parked": "转写失败，待人工处理",
}


NO_MODEL = "未安装语音模型，本通话不会自动转写（安装模型后将自动补转写）"


def transcription_off(settings: Settings) -> bool:
    """No speech model is installed (or the configured folder holds none): recordings are
    kept and their jobs wait, and nothing is transcribed live."""
    path = active_model(settings)
    return path is None or kind_of(path) is None


def transcript_labels(settings: Settings) -> dict[str | None, str]:
    """What a transcript's state is called in the console: a job waiting while no model is
    installed says so, instead of "waiting" for ever."""
    if not transcription_off(settings):
        return TRANSCRIPT_LABELS
    return {**TRANSCRIPT_LABELS, "queued": "未安装语音模型，不会自动转写"}


def call_public(session: Session, call: Call) -> CallPublic:
    return CallPublic.of(call, lookup.of_call(session, call.id))


def calls_public(session: Session, calls: Sequence[Call]) -> list[CallPublic]:
    """The calls with their recordings, found in one query."""
    found = lookup.of_calls(session, [c.id for c in calls])
    return [CallPublic.of(c, found.get(c.id)) for c in calls]


@router.get("/api/calls/{call_id}", response_model=CallPublic, tags=["calls"])
def get_call(call_id: str, session: SessionDep, _login: CallReader) -> CallPublic:
    call = call_store.get_call(session, call_id)
    if call is None:
        raise HTTPException(status_code=404, detail="call not found")
    return call_public(session, call)


@router.get("/api/calls/{call_id}/transcript", response_model=CallTranscript, tags=["calls"])
def get_transcript(
    call_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: LoginDep
) -> CallTranscript:
    """The call's transcript by speaker with word times; ``transcript`` is null (and ``job``
    says why) until it is ready. Who may read it: as for the recording (operators the calls
    they handled within ``operator_replay_days``, supervisors and investigators after giving
    a reason for one of its cases, a unit's handlers with a grant). Every request for a
    recorded call, allowed or refused, is in the access log (action ``transcript``)."""
    try:
        found = transcript_reads.read_call_transcript(
            sessions, settings, requester(login, request), call_id, transcript_reads.API, now()
        )
    except CustodyError as exc:
        raise http_error(exc) from None
    return CallTranscript.of(found)
