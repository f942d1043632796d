"""What a transcript holds: per channel, segments with times and words. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# The choice is a setting (HOTLINE_ASR_RESAMPLING), so core defines it; asr names it here too.


class TranscriptStatus(StrEnum):
    OK = "ok"
    SILENT = "silent"
    EMPTY = "empty"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Segment:
    channel: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    status: TranscriptStatus
    reason: str
    engine: str
    model: str
    audio_seconds: float
    decode_seconds: float
    channels: tuple[str, ...] = ()
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    def channel_segments(self, channel: str) -> list[Segment]:
        return [s for s in self.segments if s.channel == channel]

    @property
    def text(self) -> str:
        """The whole call's text, segments of every channel in time order."""
        ordered = sorted(self.segments, key=lambda s: (s.start, s.channel))
        return " ".join(s.text for s in ordered if s.text)

    @property
    def real_time_factor(self) -> float:
        return self.decode_seconds / self.audio_seconds if self.audio_seconds else 0.0
