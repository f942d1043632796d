"""Speak one text into a WAV file with pyttsx3 (espeak-ng). Run as its own process:

    python -m ivr.tts VOICE RATE OUTPUT.wav < text

pyttsx3 keeps one engine per driver for the life of a process, and its espeak driver stops
writing files after the first batch; a fresh process per prompt avoids that state entirely.
"""

from __future__ import annotations

import contextlib
import io
import sys


def speak_to_file(text: str, voice: str, rate: int, output: str) -> None:
    import pyttsx3

    engine = pyttsx3.init("espeak")
    voice_id = next(
        (v.id for v in engine.getProperty("voices") if v.id.split("/")[-1] == voice), None
    )
    if voice_id is None:
        raise SystemExit(f"espeak-ng has no {voice!r} voice (apt-get install espeak-ng)")
    engine.setProperty("voice", voice_id)
    engine.setProperty("rate", rate)
    engine.save_to_file(text, output)
    with contextlib.redirect_stdout(io.StringIO()):  # the driver prints each file name
        engine.runAndWait()


def main() -> None:
    voice, rate, output = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    speak_to_file(sys.stdin.read(), voice, rate, output)


if __name__ == "__main__":
    main()
