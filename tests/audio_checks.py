"""Audio measurements used by the tests (numpy, on 16-bit PCM WAV files)."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


def read_channels(path: Path) -> tuple[NDArray[np.float64], int]:
    with wave.open(str(path), "rb") as handle:
        channels = handle.getnchannels()
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    return data.astype(np.float64).reshape(-1, channels), rate


def to_8k_mono(source: Path, target: Path) -> NDArray[np.float64]:
    subprocess.run(
        ["sox", str(source), "-r", "8000", "-c", "1", "-b", "16", str(target)], check=True
    )
    samples, _ = read_channels(target)
    return samples[:, 0]


def best_correlation(signal: NDArray[np.float64], reference: NDArray[np.float64]) -> float:
    """Peak normalised cross-correlation of the overlapping part, over all lags."""
    n = len(signal) + len(reference)
    spectrum = np.fft.rfft(signal, n) * np.conj(np.fft.rfft(reference, n))
    corr = np.fft.irfft(spectrum, n)
    k = int(np.argmax(np.abs(corr)))
    lag = k if k < n // 2 else k - n
    if lag >= 0:
        a, b = signal[lag:], reference
    else:
        a, b = signal, reference[-lag:]
    m = min(len(a), len(b))
    if m < 800:
        return 0.0
    return float(np.corrcoef(a[:m], b[:m])[0, 1])


def tone_ratio(samples: NDArray[np.float64], rate: int, hz: float) -> float:
    """Share of the signal's energy within ±30 Hz of ``hz``."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = (freqs > hz - 30) & (freqs < hz + 30)
    total = float(spectrum.sum())
    return float(spectrum[band].sum()) / total if total else 0.0


def rms(samples: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
