"""Loading a Whisper model (CTranslate2 form) for faster-whisper, and the text it gives.

One loaded model serves both the batch engine (asr.whisper_engine) and the live recogniser
(asr.whisper_stream): load it once per process with ``load_whisper`` and hand it to both.
Whisper writes Mandarin in traditional or simplified characters as it pleases;
``to_simplified`` turns its text into the simplified characters the console shows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

WHISPER_ENGINE = "faster-whisper"
LANGUAGE = "zh"
SAMPLE_RATE = 16000  # what Whisper's feature extractor expects
DEFAULT_BEAM_SIZE = 1
COMPUTE_TYPE = "int8"


def load_whisper(path: Path, cpu_threads: int, workers: int = 1) -> WhisperModel:
    """The model in ``path`` loaded for int8 inference on the CPU (a few hundred ms).

    ``workers``: how many decodes run at once, each on ``cpu_threads`` threads (CTranslate2
    keeps a replica per worker, about 80 MB each for Whisper base); more callers queue."""
    from faster_whisper import WhisperModel  # noqa: PLC0415 - CTranslate2 loads only when used

    return WhisperModel(
        str(path),
        device="cpu",
        compute_type=COMPUTE_TYPE,
        cpu_threads=max(1, cpu_threads),
        num_workers=max(1, workers),
    )


def to_simplified(text: str) -> str:
    """The text with traditional Chinese characters turned into simplified ones."""
    return str(_converter().convert(text))


@cache
def _converter() -> Any:
    import opencc  # noqa: PLC0415 - the conversion tables load only when text is converted

    return opencc.OpenCC("t2s")
