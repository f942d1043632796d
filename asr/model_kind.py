"""Which engine a model folder is for, from the files it holds. Pure apart from stat.

- ``vosk``: a Kaldi model as Vosk packs it (``am/final.mdl``, ``conf/model.conf``, a graph);
- ``whisper``: a Whisper model in CTranslate2 form, as ``faster-whisper`` runs it
  (``model.bin``, ``config.json``, ``tokenizer.json``, a vocabulary).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class ModelKind(StrEnum):
    VOSK = "vosk"
    WHISPER = "whisper"


WHISPER_PARTS = ("model.bin", "config.json", "tokenizer.json")
WHISPER_VOCABULARIES = ("vocabulary.txt", "vocabulary.json")


def kind_of(path: Path) -> ModelKind | None:
    """The engine the folder's model is for; None when it looks like neither."""
    if (path / "am" / "final.mdl").is_file():
        return ModelKind.VOSK
    if (path / "model.bin").is_file():
        return ModelKind.WHISPER
    return None


def missing_whisper_parts(path: Path) -> list[str]:
    """What is missing from a Whisper (CTranslate2) model folder (empty when complete)."""
    missing = [part for part in WHISPER_PARTS if not (path / part).is_file()]
    if not any((path / name).is_file() for name in WHISPER_VOCABULARIES):
        missing.append(" or ".join(WHISPER_VOCABULARIES))
    return missing
