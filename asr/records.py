"""Between the engine's Transcript and the stored TranscriptRecord. Pure."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from asr.models import TranscriptRecord
from asr.normalize import clean
from asr.transcript_data import Transcript
from core.settings import Resampling


def to_record(
    transcript: Transcript, sha256: str, resampling: Resampling, now: dt.datetime
) -> TranscriptRecord:
    segments: list[dict[str, Any]] = []
    for segment in transcript.segments:
        entry = dataclasses.asdict(segment)
        entry["clean_text"] = clean(segment.text)
        segments.append(entry)
    return TranscriptRecord(
        recording_sha256=sha256,
        model=transcript.model,
        engine=transcript.engine,
        status=transcript.status.value,
        reason=transcript.reason,
        resampling=resampling.value,
        audio_seconds=round(transcript.audio_seconds, 3),
        decode_seconds=round(transcript.decode_seconds, 3),
        channels=list(transcript.channels),
        segments=segments,
        text=transcript.text,
        clean_text=clean_text(segments),
        created_at=now,
    )


def clean_text(segments: list[dict[str, Any]]) -> str:
    """The whole call's cleaned text: each segment cleaned, joined in time order."""
    return " ".join(s["clean_text"] for s in segments if s["clean_text"])
