"""Speak one text into a WAV file with espeak-ng, through pyttsx3's espeak binding.

    python -m ivr.tts VOICE RATE OUTPUT.wav < text

pyttsx3 2.99's espeak *driver* (``engine.save_to_file`` + ``runAndWait``) is unreliable for
files: it writes the WAV when the end-of-message event arrives, before the audio delivered in
that same callback is appended, and the espeak thread's timing decides whether a file is empty
(seen here: empty prompts under load). This module uses the same pyttsx3 binding to libespeak-ng
in synchronous mode instead: every sample is collected before the file is written. It runs as
its own process because espeak can be initialised only once per process.
"""

from __future__ import annotations

import ctypes
import sys
import wave
from typing import Any


class SynthesisError(RuntimeError):
    pass


def synthesise(text: str, voice: str, rate: int) -> tuple[bytes, int]:
    """Return 16-bit mono PCM and its sample rate."""
    from pyttsx3.drivers import _espeak  # noqa: PLC0415 - libespeak-ng loads only when a prompt is synthesised

    sample_rate = int(_espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 500))
    if sample_rate <= 0:
        raise SynthesisError("could not initialise espeak-ng")
    chunks: list[bytes] = []

    def collect(wav: Any, samples: int, _events: Any) -> int:
        if samples > 0:
            chunks.append(ctypes.string_at(wav, samples * ctypes.sizeof(ctypes.c_short)))
        return 0

    _espeak.SetSynthCallback(collect)
    if _espeak.SetVoiceByName(voice.encode()) != _espeak.EE_OK:
        raise SynthesisError(f"espeak-ng has no {voice!r} voice (apt-get install espeak-ng)")
    _espeak.SetParameter(_espeak.RATE, rate, 0)
    if _espeak.Synth(text, flags=_espeak.CHARS_UTF8 | _espeak.ENDPAUSE) != _espeak.EE_OK:
        raise SynthesisError("espeak-ng refused the text")
    _espeak.Synchronize()
    audio = b"".join(chunks)
    if not audio:
        raise SynthesisError("espeak-ng produced no audio")
    return audio, sample_rate


def main() -> None:
    voice, rate, output = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        audio, sample_rate = synthesise(sys.stdin.read(), voice, rate)
    except SynthesisError as exc:
        raise SystemExit(str(exc)) from exc
    with wave.open(output, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(audio)


if __name__ == "__main__":
    main()
