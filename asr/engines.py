"""The batch engine for a model folder: Vosk or faster-whisper, by the kind of model it holds."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from asr.engine import ENGINE as VOSK_ENGINE
from asr.engine import Channel, ModelError, VoskEngine
from asr.model_kind import ModelKind, kind_of
from asr.transcript_data import Transcript
from asr.whisper_engine import WhisperEngine
from asr.whisper_model import WHISPER_ENGINE
from core.settings import Resampling, Settings


class BatchEngine(Protocol):
    """What transcribes a whole recording: VoskEngine and WhisperEngine alike."""

    model_path: Path
    model_name: str
    resampling: Resampling

    def transcribe(self, path: Path, channels: Sequence[Channel | str]) -> Transcript: ...


ENGINE_NAMES = {ModelKind.VOSK: VOSK_ENGINE, ModelKind.WHISPER: WHISPER_ENGINE}


def engine_name(path: Path) -> str | None:
    """The engine that runs the model in ``path`` (None when it is no model)."""
    kind = kind_of(path)
    return ENGINE_NAMES[kind] if kind is not None else None


def threads_per_worker(settings: Settings) -> int:
    """CPU threads for one worker's engine: the cores shared by the workers, at least one."""
    cores = os.cpu_count() or 1
    workers = settings.asr_workers or cores
    return max(1, cores // workers)


def batch_engine(path: Path, settings: Settings) -> BatchEngine:
    """The engine for the model in ``path``, loaded; ModelError when it is no usable model."""
    kind = kind_of(path)
    if kind is ModelKind.WHISPER:
        return WhisperEngine(
            path,
            settings.asr_resampling,
            settings.asr_max_audio_seconds,
            cpu_threads=threads_per_worker(settings),
        )
    if kind is ModelKind.VOSK:
        return VoskEngine(path, settings.asr_resampling, settings.asr_max_audio_seconds)
    raise ModelError(
        f"{path} holds no speech model: neither a Vosk model (am/final.mdl) nor a Whisper "
        "model in CTranslate2 form (model.bin)"
    )
