"""With a Chinese Vosk model installed: real Mandarin clips come back as Chinese text.

No Chinese model can be downloaded on these machines (../shared/models/README.md), so these
tests run only when HOTLINE_VOSK_MODEL points at one, e.g. an unpacked
vosk-model-small-cn-0.22; otherwise they are reported as skipped, with the reason.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
from pathlib import Path

import pytest

from asr.engine import VoskEngine
from asr.metrics import character_errors
from asr.model_install import is_chinese
from asr.normalize import clean
from tests.conftest import SAMPLES

# Read at import, before the autouse fixture hides the developer's HOTLINE_* variables.
CONFIGURED = os.environ.get("HOTLINE_VOSK_MODEL", "")


def _skip_reason() -> str | None:
    if not CONFIGURED:
        return (
            "no Chinese Vosk model: HOTLINE_VOSK_MODEL is not set, and none can be "
            "downloaded here (see ../shared/models/README.md)"
        )
    if not is_chinese(Path(CONFIGURED)):
        return f"HOTLINE_VOSK_MODEL={CONFIGURED} is not a Chinese Vosk model"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


@pytest.fixture(scope="module")
def engine() -> VoskEngine:
    return VoskEngine(Path(CONFIGURED))


def manifest() -> list[tuple[Path, str]]:
    with open(SAMPLES / "manifest.tsv", encoding="utf-8", newline="") as handle:
        return [
            (SAMPLES / row["file"], row["reference"])
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def corpus_cer(engine: VoskEngine, clips: list[tuple[Path, str]]) -> float:
    errors = length = 0
    for path, reference in clips:
        hypothesis = clean(engine.transcribe(path, ("caller",)).text)
        wrong, chars = character_errors(reference, hypothesis)
        errors += wrong
        length += chars
    return errors / length


def test_mandarin_clips_are_recognised(engine: VoskEngine) -> None:
    # The publisher gives 17-38 % CER for the small model on read and spontaneous speech.
    assert corpus_cer(engine, manifest()) < 0.45


def test_telephone_audio_is_recognised(engine: VoskEngine, tmp_path: Path) -> None:
    clips = []
    for path, reference in manifest():
        ulaw, pcm = tmp_path / f"{path.stem}.ulaw.wav", tmp_path / f"{path.stem}.wav"
        subprocess.run(["sox", str(path), "-r", "8000", "-e", "u-law", str(ulaw)], check=True)
        subprocess.run(["sox", str(ulaw), "-b", "16", "-e", "signed-integer", str(pcm)], check=True)
        clips.append((pcm, reference))
    assert corpus_cer(engine, clips) < 0.6


def test_clean_text_has_no_spaces_between_chinese_characters(engine: VoskEngine) -> None:
    path, _reference = manifest()[0]
    raw = engine.transcribe(path, ("caller",)).text
    assert raw.strip(), "the model heard something"
    assert re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", clean(raw)) is None
