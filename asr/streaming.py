"""Streaming recognition, engine-neutral: one recogniser per stream, fed audio as it arrives.

A recogniser takes 16 kHz 16-bit mono PCM with the time (seconds from the start of the
stream) at which each chunk began, and answers with what it heard so far: partial text while
the speaker talks, an :class:`Utterance` when they pause. ``tick`` lets a recogniser close an
utterance when no audio comes at all (Asterisk sends no frames for a silent direction).
Engines: ``asr.vosk_stream`` (native streaming) and ``asr.whisper_stream`` (utterances cut by
a voice-activity detector, each transcribed as it ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from asr.transcript_data import Word

SAMPLE_RATE = 16000
BYTES_PER_SECOND = 2 * SAMPLE_RATE
FRAME_SECONDS = 0.02  # what Asterisk sends for slin16: 640 bytes every 20 ms
# Arrival times jitter by a few ms; a chunk arriving later than this after the audio before it
# ended marks a gap (the direction went silent: Asterisk sends nothing then).
GAP_TOLERANCE_SECONDS = 0.1


@dataclass(frozen=True)
class Partial:
    """The engine's running guess at the utterance being spoken."""

    start: float
    text: str


@dataclass(frozen=True)
class Utterance:
    """A finished utterance: final text, with word times where the engine gives them."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


Heard = Partial | Utterance


class StreamRecogniser(Protocol):
    engine: str
    model: str

    def accept(self, pcm: bytes, at: float) -> list[Heard]:
        """Feed audio that began at ``at`` seconds into the stream."""

    def tick(self, now: float) -> list[Heard]:
        """No audio came up to ``now`` (seconds into the stream): close an utterance whose
        speaker has paused long enough."""

    def finish(self) -> list[Heard]:
        """The stream ended: whatever is left, final."""


class RecogniserFactory(Protocol):
    """Loads a model once and makes a recogniser per stream (shared across streams)."""

    engine: str
    model: str

    def new_stream(self) -> StreamRecogniser: ...


class ArrivalClock:
    """Where each chunk sits on the stream's timeline, from its arrival time. Pure.

    Chunks that follow one another closely (within ``GAP_TOLERANCE_SECONDS``) are taken as
    contiguous, so jitter in arrival does not stretch or squeeze the audio; a later chunk starts
    a new run at its arrival time, leaving a gap."""

    def __init__(self) -> None:
        self.end: float | None = None  # where the audio so far ends, seconds into the stream

    def place(self, pcm: bytes, at: float) -> tuple[float, float]:
        """(start, gap) of the chunk: where it begins, and the silence before it (0 when
        contiguous or first)."""
        expected = self.end
        start = at if expected is None or at > expected + GAP_TOLERANCE_SECONDS else expected
        gap = 0.0 if expected is None else max(0.0, start - expected)
        self.end = start + len(pcm) / BYTES_PER_SECOND
        return start, gap
