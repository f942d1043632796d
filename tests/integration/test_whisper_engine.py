"""WhisperEngine on real Mandarin, with Whisper base installed from the wheels: the batch
interface VoskEngine has (channels, offsets, word times, statuses for bad audio), and a
transcription worker that finds Whisper base in use."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.engine import Channel, ModelError, VoskEngine
from asr.engines import batch_engine, engine_name
from asr.model_install import WHISPER_BASE, install
from asr.models import JobStatus, TranscriptionJob, TranscriptRecord
from asr.transcript_data import TranscriptStatus
from asr.whisper_engine import WhisperEngine
from asr.worker import Worker
from core.settings import Resampling, Settings
from tests.builders import KOREAN_MODEL, T0, add_recorded_call, stereo_call
from tests.conftest import SAMPLES

SONG = SAMPLES / "aishell2_IT0011W0001.wav"  # 换一首歌, 1.99 s
CITY = SAMPLES / "aishell1_BAC009S0724W0123.wav"  # 相比于其他一线城市, 3.24 s
MARKET = SAMPLES / "aishell1_BAC009S0764W0121.wav"  # 甚至出现交易几乎停滞的情况, 4.20 s


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    install(WHISPER_BASE, settings)
    return settings


@pytest.fixture(scope="module")
def engine(settings: Settings) -> WhisperEngine:
    chosen = batch_engine(settings.data_dir / "models" / WHISPER_BASE, settings)
    assert isinstance(chosen, WhisperEngine)
    return chosen


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True)


def test_each_speaker_in_their_channel_from_their_start_with_word_times(
    engine: WhisperEngine, tmp_path: Path
) -> None:
    """8 kHz stereo as MixMonitor writes it: caller left, operator right. The right channel
    holds a prompt (MARKET, 0-4.2 s) before the operator's own speech (CITY from 5 s)."""
    names = ("left", "prompt", "city", "right", "stereo")
    left, prompt, city, right, stereo = (tmp_path / f"{n}.wav" for n in names)
    sox(SONG, "-r", "8000", left, "pad", "0", "6.25")
    sox(MARKET, "-r", "8000", prompt, "pad", "0", "0.8")
    sox(CITY, "-r", "8000", city)
    sox(prompt, city, right)  # concatenated: CITY from 5.0 s to 8.24 s
    sox("-M", left, right, stereo)
    channels = (Channel("caller", 0), Channel("operator", 1, from_seconds=4.6))
    transcript = engine.transcribe(stereo, channels)

    assert transcript.status == TranscriptStatus.OK, transcript.reason
    assert transcript.engine == "faster-whisper" and transcript.model == WHISPER_BASE
    assert transcript.channels == ("caller", "operator")
    assert transcript.audio_seconds == pytest.approx(8.24, abs=0.01)
    caller = "".join(s.text for s in transcript.channel_segments("caller"))
    operator = "".join(s.text for s in transcript.channel_segments("operator"))
    assert "一首歌" in caller and "其他" not in caller
    assert "其他一线" in operator
    assert "交易" not in operator, "speech before the operator's start is not theirs"
    words = [w for s in transcript.segments for w in s.words]
    assert all(w.start <= w.end for w in words)
    assert transcript.channel_segments("caller")[0].start < 1.0
    operator_words = [w for s in transcript.channel_segments("operator") for w in s.words]
    assert operator_words[0].start >= 4.9, "times are from the recording's start"
    assert operator_words[-1].end <= 8.3
    assert [w.start for w in operator_words] == sorted(w.start for w in operator_words)


def _wav(path: Path, frames: bytes, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(frames)
    return path


def test_bad_audio_gives_a_status_and_a_reason(engine: WhisperEngine, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"\x00\x01garbage" * 100)
    empty = _wav(tmp_path / "empty.wav", b"")
    silent = _wav(tmp_path / "silent.wav", b"\x00\x00" * 2 * 8000 * 3, channels=2)
    truncated = tmp_path / "cut.wav"
    sox(CITY, "-r", "8000", truncated)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])
    long = tmp_path / "long.wav"
    sox(CITY, "-r", "8000", long, "pad", "0", "5")

    limited = WhisperEngine(engine.model_path, max_audio_seconds=4.0, model=engine.model)
    results = {
        name: engine.transcribe(path, ("caller", "operator"))
        for name, path in [
            ("corrupt", corrupt),
            ("empty", empty),
            ("silent", silent),
            ("truncated", truncated),
            ("missing", tmp_path / "nothing.wav"),
        ]
    }
    results["too long"] = limited.transcribe(long, ("caller",))
    assert results["corrupt"].status == TranscriptStatus.CORRUPT
    assert "not a readable WAV" in results["corrupt"].reason
    assert results["empty"].status == TranscriptStatus.EMPTY
    assert results["silent"].status == TranscriptStatus.SILENT
    assert results["silent"].audio_seconds == pytest.approx(3.0)
    assert results["truncated"].status == TranscriptStatus.TRUNCATED
    assert "header announces" in results["truncated"].reason
    assert results["truncated"].segments, "what is there is still transcribed"
    assert results["missing"].status == TranscriptStatus.CORRUPT
    assert results["too long"].status == TranscriptStatus.TOO_LONG
    assert results["too long"].audio_seconds == pytest.approx(4.0)
    assert "其他一线" in results["too long"].text
    assert all(result.reason for result in results.values())


def test_sox_resampling_gives_the_same_words(engine: WhisperEngine, tmp_path: Path) -> None:
    phone = tmp_path / "phone.wav"
    sox(CITY, "-r", "8000", "-e", "u-law", tmp_path / "ulaw.wav")
    sox(tmp_path / "ulaw.wav", "-b", "16", "-e", "signed-integer", phone)
    with_sox = WhisperEngine(engine.model_path, Resampling.SOX, model=engine.model)
    assert "其他一线" in with_sox.transcribe(phone, ("caller",)).text
    assert "其他一线" in engine.transcribe(phone, ("caller",)).text


def test_the_engine_is_chosen_by_the_kind_of_model(settings: Settings, tmp_path: Path) -> None:
    assert isinstance(batch_engine(KOREAN_MODEL, settings), VoskEngine)
    assert engine_name(KOREAN_MODEL) == "vosk"
    assert engine_name(settings.data_dir / "models" / WHISPER_BASE) == "faster-whisper"
    assert engine_name(tmp_path) is None
    with pytest.raises(ModelError, match="holds no speech model"):
        batch_engine(tmp_path, settings)
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match=r"missing config.json, tokenizer.json"):
        batch_engine(tmp_path, settings)


def test_a_worker_transcribes_a_call_with_whisper_base_in_use(
    settings: Settings, db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    city = tmp_path / "city.wav"
    sox(CITY, "-r", "8000", city)
    call = stereo_call(tmp_path / "call.wav", city, 4.0)  # the operator says it again at 4 s
    _call, recording = add_recorded_call(sessions, tmp_path, "9.1", call, answered_after=3.5)
    in_use = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        vosk_model=settings.data_dir / "models" / WHISPER_BASE,
    )
    worker = Worker(in_use, sessions, "w1", clock=lambda: T0)
    assert worker.run_once()
    assert isinstance(worker.engine, WhisperEngine), "the engine follows the model in use"
    with sessions() as session:
        (transcript,) = session.scalars(select(TranscriptRecord)).all()
        job = session.scalars(
            select(TranscriptionJob).where(TranscriptionJob.recording_id == recording)
        ).one()
    assert job.status == JobStatus.DONE and job.transcript_id == transcript.id
    assert transcript.status == "ok" and transcript.model == WHISPER_BASE
    assert transcript.engine == "faster-whisper"
    assert transcript.channels == ["caller", "operator"]
    caller = [s for s in transcript.segments if s["channel"] == "caller"]
    operator = [s for s in transcript.segments if s["channel"] == "operator"]
    assert "其他一线" in "".join(s["text"] for s in caller)
    assert "其他一线" in "".join(s["text"] for s in operator)
    assert all(s["start"] >= 3.5 for s in operator), "times stay relative to the recording"
