"""The live recogniser for a model folder: Vosk's own streaming for a Vosk model, Whisper cut by
the voice-activity detector for a Whisper (CTranslate2) one."""

from __future__ import annotations

import os
from pathlib import Path

from asr.model_kind import ModelKind, kind_of
from asr.streaming import RecogniserFactory
from asr.vosk_stream import VoskStreamFactory
from asr.whisper_stream import WhisperStreamFactory
from core.settings import Settings


class UnknownModel(ValueError):
    pass


def recogniser_factory(model_path: Path, settings: Settings) -> RecogniserFactory:
    """The factory of live recognisers for the model in ``model_path`` (loaded once). A Whisper
    decode may use every core: the decodes of several streams queue for the one model."""
    del settings  # no engine option is a setting yet; the listener passes them all the same
    kind = kind_of(model_path)
    if kind is ModelKind.VOSK:
        return VoskStreamFactory(model_path)
    if kind is ModelKind.WHISPER:
        return WhisperStreamFactory(model_path, threads=os.cpu_count() or 1)
    raise UnknownModel(f"{model_path} holds neither a Vosk nor a Whisper (CTranslate2) model")
