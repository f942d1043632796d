"""Vosk speech recognition of WAV files, one recogniser per channel.

The model always comes from a local folder: ``vosk.Model(lang=...)`` downloads and calls
``sys.exit`` on failure, so it is never used.
"""

from __future__ import annotations

import array
import json
import math
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asr.transcript import Segment, Transcript, TranscriptStatus, Word

ENGINE = "vosk"
REQUIRED_MODEL_PARTS = ("am/final.mdl", "conf/model.conf")
GRAPH_PARTS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
SILENCE_RMS = 60.0  # 16-bit PCM; telephone line noise sits below this
CHUNK_SECONDS = 0.5


class ModelError(RuntimeError):
    pass


def check_model_folder(path: Path) -> list[str]:
    """What is missing from a Vosk model folder (empty when complete). Pure apart from stat."""
    missing = [part for part in REQUIRED_MODEL_PARTS if not (path / part).is_file()]
    if not any(all((path / p).is_file() for p in variant) for variant in GRAPH_PARTS):
        missing.append("graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst")
    return missing


@dataclass(frozen=True)
class PcmAudio:
    sample_rate: int
    channels: int
    frames: int
    declared_frames: int
    data: bytes

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    def channel(self, index: int) -> bytes:
        samples = array.array("h", self.data)
        return samples[index :: self.channels].tobytes()

    def rms(self) -> float:
        samples = array.array("h", self.data)
        if not samples:
            return 0.0
        return math.sqrt(sum(float(s) * s for s in samples) / len(samples))


class AudioError(ValueError):
    def __init__(self, status: TranscriptStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def read_pcm(path: Path) -> PcmAudio:
    """Read a 16-bit PCM WAV; a clear AudioError for anything else."""
    try:
        with wave.open(str(path), "rb") as handle:
            if handle.getsampwidth() != 2:
                raise AudioError(TranscriptStatus.CORRUPT, "only 16-bit PCM WAV is supported")
            declared = handle.getnframes()
            data = handle.readframes(declared)
            rate, channels = handle.getframerate(), handle.getnchannels()
    except (wave.Error, EOFError) as exc:
        raise AudioError(TranscriptStatus.CORRUPT, f"not a readable WAV file: {exc}") from exc
    except FileNotFoundError as exc:
        raise AudioError(TranscriptStatus.CORRUPT, f"no such file: {path}") from exc
    frame_bytes = 2 * channels
    usable = len(data) - len(data) % frame_bytes
    return PcmAudio(rate, channels, usable // frame_bytes, declared, data[:usable])


class VoskEngine:
    def __init__(self, model_path: Path) -> None:
        missing = check_model_folder(model_path)
        if missing:
            raise ModelError(f"{model_path} is not a complete Vosk model: missing "
                             + ", ".join(missing))
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model_path = model_path
        self.model_name = model_path.name if model_path.name != "model" else (
            model_path.parent.name)
        self.model = vosk.Model(str(model_path))

    def transcribe(self, path: Path, channel_names: Sequence[str]) -> Transcript:
        started = time.monotonic()
        try:
            audio = read_pcm(path)
        except AudioError as exc:
            return self._result(exc.status, str(exc), 0.0, started)
        if audio.frames == 0:
            return self._result(TranscriptStatus.EMPTY, "the recording holds no audio", 0.0,
                                started)
        names = list(channel_names)[: audio.channels]
        names += [f"channel{i + 1}" for i in range(len(names), audio.channels)]
        if audio.rms() < SILENCE_RMS:
            return self._result(TranscriptStatus.SILENT, "no speech: the audio is silent",
                                audio.seconds, started, tuple(names))
        segments: list[Segment] = []
        for index, name in enumerate(names):
            pcm = audio.channel(index) if audio.channels > 1 else audio.data
            segments.extend(self._decode(pcm, audio.sample_rate, name))
        status, reason = TranscriptStatus.OK, ""
        if audio.frames < audio.declared_frames:
            status = TranscriptStatus.TRUNCATED
            reason = (f"the file ends after {audio.seconds:.2f}s of the "
                      f"{audio.declared_frames / audio.sample_rate:.2f}s its header announces")
        return self._result(status, reason, audio.seconds, started, tuple(names),
                            tuple(sorted(segments, key=lambda s: (s.start, s.channel))))

    def _decode(self, pcm: bytes, rate: int, channel: str) -> Iterator[Segment]:
        recognizer = self._vosk.KaldiRecognizer(self.model, rate)
        recognizer.SetWords(True)
        step = int(rate * CHUNK_SECONDS) * 2
        for offset in range(0, len(pcm), step):
            if recognizer.AcceptWaveform(pcm[offset : offset + step]):
                segment = _segment(json.loads(recognizer.Result()), channel)
                if segment is not None:
                    yield segment
        segment = _segment(json.loads(recognizer.FinalResult()), channel)
        if segment is not None:
            yield segment

    def _result(self, status: TranscriptStatus, reason: str, seconds: float, started: float,
                channels: tuple[str, ...] = (), segments: tuple[Segment, ...] = ()) -> Transcript:
        return Transcript(status=status, reason=reason, engine=ENGINE, model=self.model_name,
                          audio_seconds=seconds, decode_seconds=time.monotonic() - started,
                          channels=channels, segments=segments)


def _segment(result: dict[str, Any], channel: str) -> Segment | None:
    words = tuple(
        Word(text=w["word"], start=float(w["start"]), end=float(w["end"]),
             confidence=float(w.get("conf", 0.0)))
        for w in result.get("result", [])
    )
    if not words:
        return None
    return Segment(channel=channel, start=words[0].start, end=words[-1].end,
                   text=result.get("text", " ".join(w.text for w in words)), words=words)
