"""WAV facts and repair, on the 16-bit PCM files Asterisk writes."""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path

HEADER_BYTES = 44


class WavError(ValueError):
    pass


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_seconds(self) -> float:
        return self.frames / float(self.sample_rate) if self.sample_rate else 0.0


def inspect(path: Path) -> WavInfo:
    try:
        with wave.open(str(path), "rb") as handle:
            return WavInfo(handle.getframerate(), handle.getnchannels(), handle.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WavError(f"{path.name} is not a readable WAV file: {exc}") from exc


def repair_header(path: Path) -> bool:
    """Fix the RIFF and data sizes of a canonical 44-byte-header WAV whose writer died before
    closing it (a PBX crash). Returns True when the header was changed."""
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise WavError(f"{path.name} is shorter than a WAV header ({size} bytes)")
    with open(path, "r+b") as handle:
        header = handle.read(HEADER_BYTES)
        if header[0:4] != b"RIFF" or header[8:12] != b"WAVE" or header[36:40] != b"data":
            raise WavError(f"{path.name} does not have a canonical WAV header")
        block_align = struct.unpack_from("<H", header, 32)[0] or 1
        data_size = (size - HEADER_BYTES) // block_align * block_align
        riff_size = HEADER_BYTES - 8 + data_size
        current = struct.unpack_from("<I", header, 4)[0], struct.unpack_from("<I", header, 40)[0]
        if current == (riff_size, data_size):
            return False
        handle.seek(4)
        handle.write(struct.pack("<I", riff_size))
        handle.seek(40)
        handle.write(struct.pack("<I", data_size))
    return True


def declare_interleaved_stereo(path: Path) -> bool:
    """MixMonitor's ``D`` option writes caller and far side sample-interleaved, but
    Asterisk's WAV writer still labels the file mono. Label it as the 2-channel file it is.
    Returns True when the header was changed; a file already labelled stereo is left alone."""
    with open(path, "r+b") as handle:
        header = handle.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES or header[12:16] != b"fmt ":
            raise WavError(f"{path.name} does not have a canonical WAV header")
        fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", header, 20)
        if fmt != 1 or bits != 16:
            raise WavError(f"{path.name} is not 16-bit PCM")
        if channels == 2:
            return False
        if channels != 1:
            raise WavError(f"{path.name} has {channels} channels")
        handle.seek(20)
        handle.write(struct.pack("<HHIIHH", 1, 2, rate, rate * 4, 4, 16))
    return True
