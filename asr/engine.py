"""Vosk speech recognition of WAV files, one recogniser per channel, streamed in blocks.

The model always comes from a local folder: ``vosk.Model(lang=...)`` downloads and calls
``sys.exit`` on failure, so it is never used.
"""

from __future__ import annotations

import array
import json
import math
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr.engine_common import (
    EMPTY_REASON,
    SILENT_REASON,
    AudioError,
    completeness,
    open_wav,
    result,
)
from asr.transcript_data import Segment, Transcript, TranscriptStatus, Word
from core.settings import Resampling

ENGINE = "vosk"
REQUIRED_MODEL_PARTS = ("am/final.mdl", "conf/model.conf")
GRAPH_PARTS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
SILENCE_RMS = 60.0  # 16-bit PCM; telephone line noise sits below this
BLOCK_SECONDS = 0.5


class ModelError(RuntimeError):
    pass


def check_model_folder(path: Path) -> list[str]:
    """What is missing from a Vosk model folder (empty when complete). Pure apart from stat."""
    missing = [part for part in REQUIRED_MODEL_PARTS if not (path / part).is_file()]
    if not any(all((path / p).is_file() for p in variant) for variant in GRAPH_PARTS):
        missing.append("graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst")
    return missing


def model_name(path: Path) -> str:
    """A model's identity: its folder name (the parent's when the folder is just 'model')."""
    return path.parent.name if path.name == "model" else path.name


def model_sample_rate(model_path: Path) -> int:
    """The rate the model was trained at, from ``conf/mfcc.conf`` (16 kHz if unstated)."""
    try:
        conf = (model_path / "conf" / "mfcc.conf").read_text()
    except OSError:
        return 16000
    found = re.search(r"--sample-frequency=(\d+)", conf)
    return int(found.group(1)) if found else 16000


@dataclass(frozen=True)
class Channel:
    """One speaker's channel of a recording; speech before ``from_seconds`` is not theirs
    (hold music, prompts) and is skipped. Times stay relative to the recording's start."""

    name: str
    index: int = 0
    from_seconds: float = 0.0


def as_channels(channels: Sequence[Channel | str]) -> tuple[Channel, ...]:
    """Channels as given; a bare name is the channel at its position (0, 1, ...)."""
    return tuple(c if isinstance(c, Channel) else Channel(c, i) for i, c in enumerate(channels))


@dataclass
class _ChannelDecoder:
    channel: Channel
    recognizer: Any
    segments: list[Segment] = field(default_factory=list)
    square_sum: float = 0.0
    samples: int = 0

    def feed(self, samples: array.array[int], offset_seconds: float) -> None:
        self.square_sum += math.fsum(float(s) * s for s in samples)
        self.samples += len(samples)
        if self.recognizer.AcceptWaveform(samples.tobytes()):
            self._keep(json.loads(self.recognizer.Result()), offset_seconds)

    def finish(self, offset_seconds: float) -> None:
        self._keep(json.loads(self.recognizer.FinalResult()), offset_seconds)

    def _keep(self, result: dict[str, Any], offset_seconds: float) -> None:
        segment = _segment(result, self.channel.name, offset_seconds)
        if segment is not None:
            self.segments.append(segment)

    @property
    def rms(self) -> float:
        return math.sqrt(self.square_sum / self.samples) if self.samples else 0.0


class VoskEngine:
    def __init__(
        self,
        model_path: Path,
        resampling: Resampling = Resampling.VOSK,
        max_audio_seconds: float = 4 * 3600,
    ) -> None:
        missing = check_model_folder(model_path)
        if missing:
            raise ModelError(
                f"{model_path} is not a complete Vosk model: missing " + ", ".join(missing)
            )
        import vosk  # noqa: PLC0415 - the Vosk native library loads only when an engine is built

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.model_path = model_path
        self.model_name = model_name(model_path)
        self.resampling = resampling
        self.sample_rate = model_sample_rate(model_path)
        self.max_audio_seconds = max_audio_seconds
        self.model = vosk.Model(str(model_path))

    def transcribe(self, path: Path, channels: Sequence[Channel | str]) -> Transcript:
        """Transcribe the given channels of a 16-bit PCM WAV file (names alone mean channels
        0, 1, … in order). Bad audio gives a status and a reason, never an exception."""
        started = time.monotonic()
        wanted = as_channels(channels)
        try:
            if self.resampling is Resampling.SOX:
                with tempfile.TemporaryDirectory(prefix="hotline-resample-") as tmp:
                    source = self._resampled(path, Path(tmp))
                    return self._transcribe(source, wanted, started)
            return self._transcribe(path, wanted, started)
        except AudioError as exc:
            return result(ENGINE, self.model_name, exc.status, str(exc), 0.0, started)

    def _resampled(self, path: Path, work: Path) -> Path:
        info = open_wav(path)
        rate = info.getframerate()
        info.close()
        if rate == self.sample_rate:
            return path
        out = work / "resampled.wav"
        done = subprocess.run(
            ["sox", str(path), "-r", str(self.sample_rate), str(out), "rate", "-v"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise AudioError(TranscriptStatus.CORRUPT, f"sox cannot resample: {done.stderr}")
        return out

    def _transcribe(self, path: Path, wanted: tuple[Channel, ...], started: float) -> Transcript:
        with open_wav(path) as audio:
            if audio.getsampwidth() != 2:
                raise AudioError(TranscriptStatus.CORRUPT, "only 16-bit PCM WAV is supported")
            rate, count, declared = audio.getframerate(), audio.getnchannels(), audio.getnframes()
            decoders = [
                _ChannelDecoder(c, self._recognizer(rate)) for c in wanted if c.index < count
            ]
            block = max(1, int(rate * BLOCK_SECONDS))
            limit = int(self.max_audio_seconds * rate)
            frames = 0
            while frames < limit:
                data = audio.readframes(min(block, limit - frames))
                usable = len(data) - len(data) % (2 * count)
                if usable == 0:
                    break
                samples = array.array("h", data[:usable])
                for decoder in decoders:
                    start_frame = int(decoder.channel.from_seconds * rate)
                    mine = samples[decoder.channel.index :: count]
                    if frames + len(mine) <= start_frame:
                        continue
                    skip = max(0, start_frame - frames)
                    decoder.feed(mine[skip:], start_frame / rate)
                frames += usable // (2 * count)
            too_long = frames >= limit and bool(audio.readframes(1))
        seconds = frames / rate if rate else 0.0
        total_seconds = declared / rate if rate else 0.0
        if frames == 0:
            return result(
                ENGINE, self.model_name, TranscriptStatus.EMPTY, EMPTY_REASON, 0.0, started
            )
        names = tuple(d.channel.name for d in decoders)
        heard = [d for d in decoders if d.rms >= SILENCE_RMS]
        if not heard:
            return result(
                ENGINE,
                self.model_name,
                TranscriptStatus.SILENT,
                SILENT_REASON,
                seconds,
                started,
                names,
            )
        for decoder in heard:
            decoder.finish(int(decoder.channel.from_seconds * rate) / rate)
        segments = tuple(
            sorted((s for d in heard for s in d.segments), key=lambda s: (s.start, s.channel))
        )
        status, reason = completeness(seconds, total_seconds, too_long)
        return result(ENGINE, self.model_name, status, reason, seconds, started, names, segments)

    def _recognizer(self, rate: int) -> Any:
        recognizer = self._vosk.KaldiRecognizer(self.model, rate)
        recognizer.SetWords(True)
        return recognizer


def _segment(result: dict[str, Any], channel: str, offset: float) -> Segment | None:
    words = tuple(
        Word(
            text=w["word"],
            start=round(offset + float(w["start"]), 3),
            end=round(offset + float(w["end"]), 3),
            confidence=float(w.get("conf", 0.0)),
        )
        for w in result.get("result", [])
    )
    if not words:
        return None
    return Segment(
        channel=channel,
        start=words[0].start,
        end=words[-1].end,
        text=result.get("text", " ".join(w.text for w in words)),
        words=words,
    )
