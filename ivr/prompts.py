"""Spoken prompts: synthesised with pyttsx3 (espeak-ng's Mandarin voice), converted to the
8 kHz mono 16-bit WAV Asterisk plays, and regenerated only when their text changes."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from core import wav
from ivr import dialplan_variables as dv

log = logging.getLogger(__name__)

VOICE = "cmn"
SPEECH_RATE = 190
SAMPLE_RATE = 8000
MANIFEST = "prompts.json"
MOH_PAUSE_SECONDS = 4.0


class PromptError(RuntimeError):
    pass


def fingerprint(text: str, voice: str = VOICE, rate: int = SPEECH_RATE) -> str:
    payload = json.dumps({"text": text, "voice": voice, "rate": rate, "sr": SAMPLE_RATE})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def stale(wanted: Mapping[str, str], manifest: Mapping[str, str], present: set[str]) -> list[str]:
    """Names of prompts whose audio is missing or was made from other text. Pure."""
    return sorted(
        name
        for name, text in wanted.items()
        if name not in present or manifest.get(name) != fingerprint(text)
    )


def prompt_path(sounds_dir: Path, name: str) -> Path:
    return sounds_dir / dv.PROMPT_DIR / f"{name}.wav"


def _sox(*args: str) -> None:
    if shutil.which("sox") is None:
        raise PromptError("sox is not installed (apt-get install sox)")
    result = subprocess.run(["sox", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PromptError(f"sox {' '.join(args)} failed: {result.stderr.strip()}")


def _synthesise(texts: Mapping[str, str], workdir: Path) -> dict[str, Path]:
    raw = {name: workdir / f"{name}.raw.wav" for name in texts}
    for name, text in texts.items():
        result = subprocess.run(
            [sys.executable, "-m", "ivr.tts", VOICE, str(SPEECH_RATE), str(raw[name])],
            input=text,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0 or not raw[name].exists() or raw[name].stat().st_size <= 44:
            detail = (result.stderr.strip().splitlines() or ["no audio written"])[-1]
            raise PromptError(f"speech synthesis failed for prompt {name!r}: {detail}")
    return raw


def ensure_prompts(sounds_dir: Path, texts: Mapping[str, str]) -> list[str]:
    """Make every prompt's audio current; return the names that were (re)generated."""
    prompt_dir = sounds_dir / dv.PROMPT_DIR
    prompt_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = prompt_dir / MANIFEST
    manifest: dict[str, str] = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    present = {p.stem for p in prompt_dir.glob("*.wav")}
    todo = stale(texts, manifest, present)
    if todo:
        with tempfile.TemporaryDirectory(prefix="hotline-tts-") as tmp:
            raw = _synthesise({name: texts[name] for name in todo}, Path(tmp))
            for name in todo:
                _convert(raw[name], prompt_path(sounds_dir, name))
                manifest[name] = fingerprint(texts[name])
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    _ensure_beep(sounds_dir)
    _ensure_hold_music(sounds_dir, regenerate="hold" in todo)
    return todo


def _convert(raw: Path, target: Path) -> None:
    """Convert synthesised speech to the WAV Asterisk plays, replacing ``target`` at once."""
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".new.wav", dir=target.parent)
    os.close(fd)
    staged = Path(name)
    try:
        _sox(
            str(raw),
            "-r",
            str(SAMPLE_RATE),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(staged),
            "norm",
            "-3",
        )
        staged.replace(target)
    finally:
        staged.unlink(missing_ok=True)


def synthesise_prompt(text: str, target: Path) -> None:
    """Speak one text into ``target`` (8 kHz mono 16-bit WAV), e.g. a prompt that names a
    case. Blocking: runs a synthesis process and sox."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hotline-tts-") as tmp:
        raw = _synthesise({target.stem: text}, Path(tmp))
        _convert(raw[target.stem], target)


def _ensure_beep(sounds_dir: Path) -> None:
    beep = prompt_path(sounds_dir, dv.BEEP)
    if not beep.exists():
        _sox(
            "-n",
            "-r",
            str(SAMPLE_RATE),
            "-c",
            "1",
            "-b",
            "16",
            str(beep),
            "synth",
            "0.4",
            "sine",
            "1000",
            "vol",
            "0.5",
        )


def _ensure_hold_music(sounds_dir: Path, regenerate: bool) -> None:
    """Music on hold is the hold prompt followed by a pause, looped by Asterisk."""
    moh = sounds_dir / "moh"
    moh.mkdir(parents=True, exist_ok=True)
    target = moh / "hold.wav"
    hold = prompt_path(sounds_dir, "hold")
    if hold.exists() and (regenerate or not target.exists()):
        _sox(str(hold), str(target), "pad", "0", str(MOH_PAUSE_SECONDS))


def duration_seconds(path: Path) -> float:
    return wav.inspect(path).duration_seconds
