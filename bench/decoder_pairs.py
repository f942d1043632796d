"""Benchmark: how long the pair of decodes left at a hang-up takes, by decoders and threads.

At hang-up both speakers of a call usually have an utterance left, and the final transcript
waits for both decodes. This runs pairs of sample clips (after a telephone channel) through two
live Whisper streams at once, the way the listener's two stream threads do, for each layout of
the one loaded model: ``decoders`` decodes at once, each on ``threads`` threads. Prints, per
layout, the wall time of a pair (mean, max) and of a lone decode (mean).

    .venv/bin/python -m bench.decoder_pairs [--model PATH] [--pairs 4] [--layouts 1x2 2x1 2x2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from asr.streaming import SAMPLE_RATE
from asr.vad import Speech
from asr.whisper_stream import WhisperStream, WhisperStreamFactory
from bench.calls import load_average, whisper_model
from bench.stream_rtf import MANIFEST, pcm_of, read_manifest, telephone


def speech_of(path: Path) -> Speech:
    samples = np.frombuffer(pcm_of(path), dtype=np.int16)
    seconds = len(samples) / SAMPLE_RATE
    return Speech(start=0.0, end=seconds, audio_start=0.0, audio=samples)


def layout(text: str) -> tuple[int, int]:
    decoders, _, threads = text.partition("x")
    return int(decoders), int(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="A Whisper model folder (default: base)")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--layouts", nargs="+", default=["1x2", "2x1", "2x2"])
    args = parser.parse_args()
    model = args.model or whisper_model()
    with tempfile.TemporaryDirectory(prefix="decoder-pairs-") as tmp:
        clips = [speech_of(telephone(path, Path(tmp))) for path, _ in read_manifest(MANIFEST)]
    pairs = [
        (clips[i % len(clips)], clips[(i + 1) % len(clips)]) for i in range(0, 2 * args.pairs, 2)
    ]
    print(f"model {model}; {len(pairs)} pairs of clips; {load_average()}", flush=True)
    for decoders, threads in map(layout, args.layouts):
        factory = WhisperStreamFactory(model, threads=threads, decoders=decoders)
        caller, operator = factory.new_stream(), factory.new_stream()

        def both(
            pair: tuple[Speech, Speech], one: WhisperStream = caller, two: WhisperStream = operator
        ) -> float:
            began = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                list(
                    pool.map(
                        lambda job: job[0].transcribe(job[1]), ((one, pair[0]), (two, pair[1]))
                    )
                )
            return time.perf_counter() - began

        together = [both(pair) for pair in pairs]
        alone = []
        for pair in pairs:
            began = time.perf_counter()
            caller.transcribe(pair[0])
            alone.append(time.perf_counter() - began)
        print(
            f"{decoders} decoders x {threads} threads: a pair at once mean "
            f"{statistics.mean(together):.2f} s, max {max(together):.2f} s; one alone mean "
            f"{statistics.mean(alone):.2f} s; {load_average()}",
            flush=True,
        )


if __name__ == "__main__":
    main()
