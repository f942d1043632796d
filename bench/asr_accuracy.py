"""Benchmark: character error rate of the installed model over a manifest.

Each clip is decoded as it is and after a telephone channel (8 kHz G.711 mu-law round trip);
telephone audio is decoded both ways (Vosk's own resampling, sox before Vosk).

    .venv/bin/python bench/asr_accuracy.py --manifest ../shared/audio/samples/manifest.tsv \
        [--model PATH]   # default: HOTLINE_VOSK_MODEL, else the installed model

Prints corpus CER (character edit distance / reference characters, spaces and punctuation
ignored; the Chinese clean-up is applied to the hypothesis) for each condition.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import tempfile
import time
from pathlib import Path

from asr.engine import VoskEngine, model_name
from asr.metrics import character_errors
from asr.model_install import active_model
from asr.normalize import clean
from core.settings import Resampling, load_settings


def read_manifest(path: Path) -> list[tuple[Path, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [(path.parent / row["file"], row["reference"]) for row in rows]


def to_pcm16(source: Path, target: Path) -> None:
    subprocess.run(
        ["sox", str(source), "-c", "1", "-b", "16", "-e", "signed-integer", str(target)], check=True
    )


def telephone(source: Path, work: Path) -> Path:
    """8 kHz G.711 mu-law and back to 16-bit PCM, like a call through the PBX."""
    ulaw, pcm = work / f"{source.stem}.ulaw.wav", work / f"{source.stem}.tel.wav"
    subprocess.run(
        ["sox", str(source), "-r", "8000", "-c", "1", "-e", "u-law", str(ulaw)], check=True
    )
    subprocess.run(["sox", str(ulaw), "-b", "16", "-e", "signed-integer", str(pcm)], check=True)
    return pcm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="Print each hypothesis")
    args = parser.parse_args()
    settings = load_settings()
    model = args.model or active_model(settings)
    if model is None:
        raise SystemExit("no model: pass --model or install one with 'hotline asr install-model'")
    clips = read_manifest(args.manifest)
    engines = {mode: VoskEngine(model, mode) for mode in Resampling}
    totals: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="hotline-cer-") as tmp:
        work = Path(tmp)
        for clip, reference in clips:
            as_is = work / f"{clip.stem}.pcm.wav"
            to_pcm16(clip, as_is)
            tel = telephone(clip, work)
            runs = [
                ("as is", engines[Resampling.VOSK], as_is),
                ("telephone, Vosk resamples", engines[Resampling.VOSK], tel),
                ("telephone, sox resamples first", engines[Resampling.SOX], tel),
            ]
            for label, engine, audio in runs:
                started = time.monotonic()
                result = engine.transcribe(audio, ("speaker",))
                hypothesis = clean(result.text)
                errors, length = character_errors(reference, hypothesis)
                total = totals.setdefault(label, [0, 0, 0.0, 0.0])
                total[0] += errors
                total[1] += length
                total[2] += time.monotonic() - started
                total[3] += result.audio_seconds
                if args.show:
                    print(f"{clip.name} [{label}] {hypothesis!r} vs {reference!r}")
    print(f"model {model_name(model)}: {len(clips)} clips from {args.manifest}")
    for label, (wrong, chars, seconds, audio_seconds) in totals.items():
        print(
            f"  {label:<32} CER {100 * wrong / chars:6.2f} %  ({int(wrong)}/{int(chars)}"
            f" chars)  RTF {seconds / audio_seconds:.3f}"
        )


if __name__ == "__main__":
    main()
