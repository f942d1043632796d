"""Whisper (faster-whisper, CTranslate2) recognition of WAV files, one pass per channel.

The same batch interface as ``asr.engine.VoskEngine``: ``transcribe(path, channels)`` gives a
``Transcript`` with the same statuses for bad, silent and too long audio, per-channel segments
with word times relative to the recording's start (a channel's audio before its
``from_seconds`` is not its speaker's and is skipped). Telephone audio (8 kHz) is resampled to
the 16 kHz Whisper expects; text comes out in simplified characters.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.engine import SILENCE_RMS, Channel, ModelError, as_channels, model_name
from asr.engine_common import (
    EMPTY_REASON,
    SILENT_REASON,
    AudioError,
    completeness,
    open_wav,
    result,
)
from asr.model_kind import missing_whisper_parts
from asr.transcript_data import Segment, Transcript, TranscriptStatus, Word
from asr.whisper_model import (
    DEFAULT_BEAM_SIZE,
    LANGUAGE,
    SAMPLE_RATE,
    WHISPER_ENGINE,
    load_whisper,
    to_simplified,
)
from core.settings import Resampling

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

DEFAULT_CPU_THREADS = 2


class WhisperEngine:
    def __init__(
        self,
        model_path: Path,
        resampling: Resampling = Resampling.VOSK,
        max_audio_seconds: float = 4 * 3600,
        beam_size: int = DEFAULT_BEAM_SIZE,
        cpu_threads: int = DEFAULT_CPU_THREADS,
        model: WhisperModel | None = None,
    ) -> None:
        """``model``: an already loaded model to share (asr.whisper_model.load_whisper)."""
        missing = missing_whisper_parts(model_path)
        if missing:
            raise ModelError(
                f"{model_path} is not a complete Whisper (CTranslate2) model: missing "
                + ", ".join(missing)
            )
        self.model_path = model_path
        self.model_name = model_name(model_path)
        self.resampling = resampling
        self.max_audio_seconds = max_audio_seconds
        self.beam_size = beam_size
        try:
            self.model = model if model is not None else load_whisper(model_path, cpu_threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"faster-whisper cannot load {model_path}: {exc}") from exc

    def transcribe(self, path: Path, channels: Sequence[Channel | str]) -> Transcript:
        """Transcribe the given channels of a 16-bit PCM WAV file (names alone mean channels
        0, 1, … in order). Bad audio gives a status and a reason, never an exception."""
        started = time.monotonic()
        wanted = as_channels(channels)
        try:
            audio = _read(path, self.max_audio_seconds)
        except AudioError as exc:
            return result(WHISPER_ENGINE, self.model_name, exc.status, str(exc), 0.0, started)
        if audio.frames == 0:
            return result(
                WHISPER_ENGINE, self.model_name, TranscriptStatus.EMPTY, EMPTY_REASON, 0.0, started
            )
        seconds = audio.frames / audio.rate
        mine = [c for c in wanted if c.index < audio.samples.shape[1]]
        names = tuple(c.name for c in mine)
        heard: list[tuple[Channel, int]] = []
        for channel in mine:
            start = min(audio.frames, int(channel.from_seconds * audio.rate))
            if _rms(audio.samples[start:, channel.index]) >= SILENCE_RMS:
                heard.append((channel, start))
        if not heard:
            return result(
                WHISPER_ENGINE,
                self.model_name,
                TranscriptStatus.SILENT,
                SILENT_REASON,
                seconds,
                started,
                names,
            )
        try:
            segments: list[Segment] = []
            for channel, start in heard:
                pcm = self._at_16k(audio.samples[start:, channel.index], audio.rate)
                segments.extend(self._decode(pcm, channel.name, start / audio.rate))
        except AudioError as exc:
            return result(
                WHISPER_ENGINE, self.model_name, exc.status, str(exc), seconds, started, names
            )
        status, reason = completeness(seconds, audio.declared / audio.rate, audio.too_long)
        ordered = tuple(sorted(segments, key=lambda s: (s.start, s.channel)))
        return result(
            WHISPER_ENGINE, self.model_name, status, reason, seconds, started, names, ordered
        )

    def _at_16k(self, samples: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
        """One channel as float32 in [-1, 1] at 16 kHz."""
        mono = samples.astype(np.float32) / 32768.0
        if rate == SAMPLE_RATE:
            return mono
        if self.resampling is Resampling.SOX:
            return _sox_resample(mono, rate)
        from scipy.signal import resample_poly  # noqa: PLC0415 - scipy loads only to resample

        factor = math.gcd(SAMPLE_RATE, rate)
        return np.asarray(
            resample_poly(mono, SAMPLE_RATE // factor, rate // factor), dtype=np.float32
        )

    def _decode(self, pcm: np.ndarray[Any, Any], channel: str, offset: float) -> list[Segment]:
        found, _info = self.model.transcribe(
            pcm,
            language=LANGUAGE,
            beam_size=self.beam_size,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=True,
        )
        segments = []
        for piece in found:
            words = tuple(
                Word(
                    text=to_simplified(w.word).strip(),
                    start=round(offset + float(w.start), 3),
                    end=round(offset + float(w.end), 3),
                    confidence=round(float(w.probability), 4),
                )
                for w in piece.words or ()
                if w.word.strip()
            )
            text = to_simplified(piece.text).strip()
            if not text:
                continue
            segments.append(
                Segment(
                    channel=channel,
                    start=words[0].start if words else round(offset + float(piece.start), 3),
                    end=words[-1].end if words else round(offset + float(piece.end), 3),
                    text=text,
                    words=words,
                )
            )
        return segments


class _Audio:
    def __init__(
        self, samples: np.ndarray[Any, Any], rate: int, declared: int, too_long: bool
    ) -> None:
        self.samples = samples  # frames x channels, int16
        self.rate = rate
        self.frames = samples.shape[0]
        self.declared = declared
        self.too_long = too_long


def _read(path: Path, max_seconds: float) -> _Audio:
    with open_wav(path) as audio:
        try:
            return _frames(audio, max_seconds)
        except (wave.Error, EOFError) as exc:
            raise AudioError(TranscriptStatus.CORRUPT, f"not a readable WAV file: {exc}") from exc


def _frames(audio: wave.Wave_read, max_seconds: float) -> _Audio:
    if audio.getsampwidth() != 2:
        raise AudioError(TranscriptStatus.CORRUPT, "only 16-bit PCM WAV is supported")
    rate, count, declared = audio.getframerate(), audio.getnchannels(), audio.getnframes()
    limit = int(max_seconds * rate)
    data = audio.readframes(limit)
    too_long = len(data) // (2 * count) >= limit and bool(audio.readframes(1))
    usable = len(data) - len(data) % (2 * count)
    samples = np.frombuffer(data[:usable], dtype="<i2").reshape(-1, count)
    return _Audio(samples, rate, declared, too_long)


def _rms(samples: np.ndarray[Any, Any]) -> float:
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))


def _sox_resample(mono: np.ndarray[Any, Any], rate: int) -> np.ndarray[Any, Any]:
    with tempfile.TemporaryDirectory(prefix="hotline-resample-") as tmp:
        source, out = Path(tmp) / "in.f32", Path(tmp) / "out.f32"
        mono.astype("<f4").tofile(source)
        raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
        command = ["sox", *raw, "-r", str(rate), str(source)]
        command += [*raw, "-r", str(SAMPLE_RATE), str(out), "rate", "-v"]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise AudioError(TranscriptStatus.CORRUPT, f"sox cannot resample: {done.stderr}")
        return np.fromfile(out, dtype="<f4")
