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
