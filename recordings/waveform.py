"""Peaks of a stored recording for the console's waveform: per channel, ``buckets`` values
in 0..1. Reads the WAV in blocks; memory stays flat for long calls."""

from __future__ import annotations

import array
import sys
import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Waveform:
    duration_seconds: float
    channels: list[list[float]]


def peaks(path: Path, buckets: int = 800) -> Waveform:
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM recordings have a waveform")
        channels, rate, frames = (handle.getnchannels(), handle.getframerate(), handle.getnframes())
        per_bucket = max(1, -(-frames // buckets))
        result: list[list[float]] = [[] for _ in range(channels)]
        while True:
            raw = handle.readframes(per_bucket)
            if not raw:
                break
            samples = array.array("h")
            samples.frombytes(raw[: len(raw) - len(raw) % 2])
            if sys.byteorder == "big":
                samples.byteswap()
            for index in range(channels):
                lane = samples[index::channels]
                top = max(max(lane, default=0), -min(lane, default=0))
                result[index].append(round(min(top, 32767) / 32767, 3))
    return Waveform(round(frames / rate, 3) if rate else 0.0, result)
