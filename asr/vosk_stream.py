"""Live recognition with Vosk's own streaming: one KaldiRecognizer per stream.

Vosk decodes as audio comes and decides itself where an utterance ends (its endpointing needs
trailing silence *in the audio*). Asterisk sends nothing while a direction is silent, so:

- a short gap in arrival (under ``GAP_PAUSE_SECONDS``) is fed as digital silence of the same
  length: Vosk's timeline stays the stream's, and its endpointing sees the pause;
- a longer gap feeds nothing: the utterance under way is closed with ``FinalResult`` (at the
  next chunk, or at a ``tick`` once the pause has lasted ``GAP_PAUSE_SECONDS``), and the
  audio that follows is anchored at its arrival time.

Vosk's times count the samples it was fed since the recogniser was made; a table of anchors
(sample fed → stream time) maps them back to the stream.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path
from typing import Any

from asr.engine import ModelError, check_model_folder, model_name
from asr.streaming import (
    SAMPLE_RATE,
    ArrivalClock,
    Heard,
    Partial,
    Utterance,
)
from asr.transcript_data import Word

ENGINE = "vosk"
GAP_PAUSE_SECONDS = 0.6  # as the voice-activity detector's pause (asr.vad.END_PAUSE_SECONDS)


class VoskStreamFactory:
    """Loads a Vosk model once; a Vosk model is shared safely by recognisers in several
    threads (each recogniser is used by one thread at a time)."""

    engine = ENGINE

    def __init__(self, model_path: Path) -> None:
        missing = check_model_folder(model_path)
        if missing:
            raise ModelError(
                f"{model_path} is not a complete Vosk model: missing " + ", ".join(missing)
            )
        import vosk  # noqa: PLC0415 - the Vosk native library loads only when a model is used

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model = model_name(model_path)
        self._model = vosk.Model(str(model_path))

    def new_stream(self) -> VoskStream:
        recognizer = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        recognizer.SetWords(True)
        recognizer.SetPartialWords(True)
        return VoskStream(recognizer, self.model)


class _Anchors:
    """Sample offsets fed to the recogniser → seconds into the stream (piecewise linear)."""

    def __init__(self) -> None:
        self._samples: list[int] = []
        self._times: list[float] = []

    def add(self, sample: int, at: float) -> None:
        if self._samples and self._samples[-1] == sample:
            self._times[-1] = at
            return
        self._samples.append(sample)
        self._times.append(at)

    def time(self, seconds_fed: float) -> float:
        sample = round(seconds_fed * SAMPLE_RATE)
        index = max(0, bisect.bisect_right(self._samples, sample) - 1)
        if not self._samples:
            return seconds_fed
        return self._times[index] + (sample - self._samples[index]) / SAMPLE_RATE


class VoskStream:
    engine = ENGINE

    def __init__(self, recognizer: Any, model: str) -> None:
        self.model = model
        self._recognizer = recognizer
        self._clock = ArrivalClock()
        self._anchors = _Anchors()
        self._fed = 0  # samples fed to the recogniser
        self._pending = False  # audio fed since the last final result
        self._partial = ""

    def accept(self, pcm: bytes, at: float) -> list[Heard]:
        start, gap = self._clock.place(pcm, at)
        heard: list[Heard] = []
        if gap >= GAP_PAUSE_SECONDS:
            heard += self._final()
            self._anchors.add(self._fed, start)
        elif gap > 0.0:
            self._feed(bytes(round(gap * SAMPLE_RATE) * 2))
        else:
            if self._fed == 0:
                self._anchors.add(0, start)
        if self._feed(pcm[: len(pcm) - len(pcm) % 2]):
            heard += self._utterance(json.loads(self._recognizer.Result()))
        else:
            heard += self._partial_result()
        return heard

    def tick(self, now: float) -> list[Heard]:
        end = self._clock.end
        if self._pending and end is not None and now - end >= GAP_PAUSE_SECONDS:
            return self._final()
        return []

    def finish(self) -> list[Heard]:
        return self._final() if self._pending else []

    def _feed(self, data: bytes) -> bool:
        if not data:
            return False
        self._fed += len(data) // 2
        self._pending = True
        return bool(self._recognizer.AcceptWaveform(data))

    def _final(self) -> list[Heard]:
        if not self._pending:
            return []
        return self._utterance(json.loads(self._recognizer.FinalResult()))

    def _partial_result(self) -> list[Heard]:
        result = json.loads(self._recognizer.PartialResult())
        text = str(result.get("partial", "")).strip()
        if not text or text == self._partial:
            return []
        self._partial = text
        words = result.get("partial_result") or []
        start = self._anchors.time(float(words[0]["start"])) if words else self._round_start()
        return [Partial(start=round(start, 3), text=text)]

    def _round_start(self) -> float:
        end = self._clock.end
        return end if end is not None else 0.0

    def _utterance(self, result: dict[str, Any]) -> list[Heard]:
        self._pending = False
        self._partial = ""
        words = tuple(
            Word(
                text=str(w["word"]),
                start=round(self._anchors.time(float(w["start"])), 3),
                end=round(self._anchors.time(float(w["end"])), 3),
                confidence=float(w.get("conf", 0.0)),
            )
            for w in result.get("result", [])
        )
        if not words:
            return []
        text = str(result.get("text") or " ".join(w.text for w in words))
        return [Utterance(start=words[0].start, end=words[-1].end, text=text, words=words)]
