from __future__ import annotations

import csv
import datetime as dt
import io
import struct
import wave
from pathlib import Path

import pytest

from core import wav
from ivr import cdr
from recordings.store import store_path
from tests.audio_checks import read_channels


def write_wav(path: Path, frames: bytes, channels: int = 1, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(frames)


def test_repair_header_fixes_sizes_left_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    write_wav(path, b"\x01\x00" * 8000)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 4, 36)  # what a writer killed before closing leaves
    struct.pack_into("<I", data, 40, 0)
    path.write_bytes(bytes(data))
    assert wav.inspect(path).frames == 0
    assert wav.repair_header(path) is True
    assert wav.inspect(path).frames == 8000
    assert wav.repair_header(path) is False


def test_repair_refuses_what_is_not_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"not a wav" * 10)
    with pytest.raises(wav.WavError):
        wav.repair_header(path)
    (tmp_path / "tiny.wav").write_bytes(b"RIFF")
    with pytest.raises(wav.WavError, match="shorter"):
        wav.repair_header(tmp_path / "tiny.wav")


def test_interleaved_recording_is_labelled_stereo(tmp_path: Path) -> None:
    path = tmp_path / "d.wav"
    left, right = 1000, -2000
    write_wav(path, struct.pack("<hh", left, right) * 4000)  # mono label, stereo data
    assert wav.inspect(path) == wav.WavInfo(8000, 1, 8000)
    assert wav.declare_interleaved_stereo(path) is True
    assert wav.inspect(path) == wav.WavInfo(8000, 2, 4000)
    samples, _ = read_channels(path)
    assert (samples[:, 0] == 1000).all() and (samples[:, 1] == -2000).all()
    assert wav.declare_interleaved_stereo(path) is False


def test_store_path_is_by_utc_day() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    started = dt.datetime(2026, 11, 21, 2, 0, tzinfo=shanghai)
    assert store_path(started, "ab" * 16) == f"2026/11/20/{'ab' * 16}.wav"


def test_cdr_rows_from_asterisk() -> None:
    line = (
        '"","13800138002","12345","hotline-in",""""" <13800138002>",'
        '"PJSIP/callers-00000000","","AGI","agi://127.0.0.1:4573/hotline",'
        '"2026-11-21 07:17:56","2026-11-21 07:17:56","2026-11-21 07:18:12",16,16,'
        '"ANSWERED","DOCUMENTATION","1795245476.0",""\n'
        '"broken","row"\n'
    )
    records = list(cdr.parse_rows(csv.reader(io.StringIO(line))))
    assert len(records) == 1
    record = records[0]
    assert (record.src, record.dst, record.uniqueid, record.lastapp) == (
        "13800138002",
        "12345",
        "1795245476.0",
        "AGI",
    )
    assert record.end == dt.datetime(2026, 11, 21, 7, 18, 12, tzinfo=dt.UTC)
