"""What the batch engines share: opening a WAV file, the status and reason a recording's
audio earns (empty, silent, cut short, too long), and the transcript they return."""

from __future__ import annotations

import time
import wave
from pathlib import Path

from asr.transcript_data import Segment, Transcript, TranscriptStatus

EMPTY_REASON = "the recording holds no audio"
SILENT_REASON = "no speech: the audio is silent"


class AudioError(ValueError):
    """Audio an engine cannot read: becomes the transcript's status and reason."""

    def __init__(self, status: TranscriptStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def open_wav(path: Path) -> wave.Wave_read:
    try:
        return wave.open(str(path), "rb")
    except (wave.Error, EOFError) as exc:
        raise AudioError(TranscriptStatus.CORRUPT, f"not a readable WAV file: {exc}") from exc
    except FileNotFoundError as exc:
        raise AudioError(TranscriptStatus.CORRUPT, f"no such file: {path}") from exc


def completeness(
    seconds: float, total_seconds: float, too_long: bool
) -> tuple[TranscriptStatus, str]:
    """OK, or why only part of the audio was heard: the length limit, or a file shorter
    than its header says."""
    if too_long:
        return TranscriptStatus.TOO_LONG, (
            f"only the first {clock(seconds)} of {clock(total_seconds)} were "
            "transcribed: longer recordings exceed the limit (HOTLINE_ASR_MAX_AUDIO_SECONDS)"
        )
    if seconds < total_seconds:
        return TranscriptStatus.TRUNCATED, (
            f"the file ends after {seconds:.2f}s of the {total_seconds:.2f}s its header announces"
        )
    return TranscriptStatus.OK, ""


def result(
    engine: str,
    model: str,
    status: TranscriptStatus,
    reason: str,
    seconds: float,
    started: float,
    channels: tuple[str, ...] = (),
    segments: tuple[Segment, ...] = (),
) -> Transcript:
    """The transcript, timed from ``started`` (``time.monotonic()`` when decoding began)."""
    return Transcript(
        status=status,
        reason=reason,
        engine=engine,
        model=model,
        audio_seconds=seconds,
        decode_seconds=time.monotonic() - started,
        channels=channels,
        segments=segments,
    )


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
