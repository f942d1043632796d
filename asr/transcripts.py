"""A call's transcript and the state of its job, for the CLI and the API."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from asr import jobs
from asr.models import TranscriptionJob, TranscriptRecord
from ivr.models import Call

_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class CallTranscriptView:
    call_id: str
    recording_id: str | None
    job: TranscriptionJob | None
    transcript: TranscriptRecord | None


def for_call(session: Session, call_id: str) -> CallTranscriptView | None:
    """None when there is no such call; otherwise whatever exists so far."""
    if not _ID.fullmatch(call_id):
        return None
    call = session.get(Call, call_id)
    if call is None:
        return None
    recording = call.recording
    if recording is None:
        return CallTranscriptView(call.id, None, None, None)
    return CallTranscriptView(call.id, recording.id, jobs.job_of(session, recording),
                              jobs.transcript_of(session, recording))
