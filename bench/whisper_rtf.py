"""Benchmark: real-time factor and CER of WhisperEngine on the Mandarin clips.

Each clip is decoded as it is (16 kHz) and after a telephone channel (8 kHz G.711 u-law round
trip, resampled back to 16 kHz by the engine), for each beam size and thread count asked.

    .venv/bin/python bench/whisper_rtf.py [--model PATH] [--beams 1 5] [--threads 1 2] \
        [--manifest ../shared/audio/samples/manifest.tsv]

``--model`` defaults to the model in use (HOTLINE_VOSK_MODEL, else the installed one; it must
be a Whisper model). Prints, per condition: corpus CER (clean text against the reference,
spaces and punctuation ignored), total audio seconds, decode seconds (wall clock), RTF
(decode / audio), and CPU seconds per audio second (process CPU time, all threads).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from asr.metrics import character_errors
from asr.model_install import active_model
from asr.normalize import clean
from asr.whisper_engine import WhisperEngine
from asr.whisper_model import load_whisper
from bench.asr_accuracy import read_manifest
from core.settings import PROJECT_ROOT, load_settings


def telephone(source: Path, work: Path) -> Path:
    ulaw, pcm = work / f"{source.stem}.ulaw.wav", work / f"{source.stem}.8k.wav"
    subprocess.run(["sox", str(source), "-r", "8000", "-e", "u-law", str(ulaw)], check=True)
    subprocess.run(["sox", str(ulaw), "-b", "16", "-e", "signed-integer", str(pcm)], check=True)
    return pcm


def run(engine: WhisperEngine, clips: list[tuple[Path, str]]) -> tuple[float, float, float, float]:
    """(CER, audio seconds, wall seconds, CPU seconds) over the clips."""
    errors = length = 0
    audio = wall = cpu = 0.0
    for path, reference in clips:
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        transcript = engine.transcribe(path, ("caller",))
        wall += time.perf_counter() - wall_before
        cpu += time.process_time() - cpu_before
        audio += transcript.audio_seconds
        wrong, chars = character_errors(reference, clean(transcript.text))
        errors += wrong
        length += chars
    return errors / length, audio, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path)
    parser.add_argument(
        "--manifest",
        type=Path,
        default=PROJECT_ROOT.parent / "shared" / "audio" / "samples" / "manifest.tsv",
    )
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    args = parser.parse_args()
    model_path = args.model or active_model(load_settings())
    if model_path is None:
        raise SystemExit("no model: give --model or install one (hotline asr install-model)")
    clips = read_manifest(args.manifest)
    print(f"model {model_path}; {len(clips)} clips from {args.manifest}")
    print(
        f"{'audio':<10} {'beam':>4} {'threads':>7} {'CER':>7} {'audio s':>8} "
        f"{'wall s':>7} {'RTF':>6} {'CPU/s':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="whisper-rtf-") as tmp:
        phone = [(telephone(path, Path(tmp)), reference) for path, reference in clips]
        for threads in args.threads:
            model = load_whisper(model_path, threads)
            for beam in args.beams:
                engine = WhisperEngine(model_path, beam_size=beam, model=model)
                engine.transcribe(clips[0][0], ("caller",))  # warm up
                for label, chosen in (("16k", clips), ("8k-g711", phone)):
                    cer, audio, wall, cpu = run(engine, chosen)
                    print(
                        f"{label:<10} {beam:>4} {threads:>7} {cer:>7.1%} {audio:>8.1f} "
                        f"{wall:>7.1f} {wall / audio:>6.3f} {cpu / audio:>6.3f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
