"""Response schemas of the JSON API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from asr.call_transcript import CallTranscriptView
from ivr.models import Call
from recordings.models import Recording


class RecordingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    sha256: str
    size_bytes: int
    duration_seconds: float
    sample_rate: int
    channels: int
    status: str


class CallPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    asterisk_uniqueid: str
    caller_number: str
    caller_name: str
    dialled_number: str
    started_at: dt.datetime
    notice_finished_at: dt.datetime | None
    recording_started_at: dt.datetime | None
    queued_at: dt.datetime | None
    answered_at: dt.datetime | None
    message_started_at: dt.datetime | None
    ended_at: dt.datetime | None
    outcome: str | None
    operator: str | None
    hangup_cause: int | None
    failure_reason: str | None
    recording_problem: str | None
    recording: RecordingPublic | None

    @classmethod
    def of(cls, call: Call, recording: Recording | None) -> CallPublic:
        """A call and its recording (``recordings.lookup``: the call row does not hold it)."""
        values = {name: getattr(call, name) for name in cls.model_fields if name != "recording"}
        return cls.model_validate(
            {
                **values,
                "recording": RecordingPublic.model_validate(recording) if recording else None,
            }
        )

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class WordPublic(BaseModel):
    text: str
    start: float
    end: float
    confidence: float


class SegmentPublic(BaseModel):
    channel: str
    start: float
    end: float
    text: str
    clean_text: str
    words: list[WordPublic]


class TranscriptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: str
    status: str
    reason: str
    engine: str
    model: str
    resampling: str
    audio_seconds: float
    decode_seconds: float
    channels: list[str]
    segments: list[SegmentPublic]
    text: str
    clean_text: str
    created_at: dt.datetime


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


class CallTranscript(BaseModel):
    """A call's transcript, or where its transcription job stands."""

    call_id: str
    recording_id: str | None
    job: JobPublic | None
    transcript: TranscriptPublic | None

    @classmethod
    def of(cls, view: CallTranscriptView) -> CallTranscript:
        return cls(
            call_id=view.call_id,
            recording_id=view.recording_id,
            job=JobPublic.model_validate(view.job) if view.job else None,
            transcript=TranscriptPublic.model_validate(view.transcript)
            if view.transcript
            else None,
        )
