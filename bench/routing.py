"""How well and how fast the routing model suggests a complaint's category: held-out accuracy
and macro-F1 on clean messages, on messages with speech-recognition-like errors and on noisy
phone-call-length text, per-label F1, training time and memory, model size, speed.

    .venv/bin/python -m bench.routing [--test-fraction 0.2] [--seed 2020] [--rates 0.1,0.2]
                                      [--truncate 80]

The held-out part is a stratified split of ../shared/data/complaints/train.csv in which
near-duplicate re-posts stay on one side. Training runs in a child process so that its peak
memory (imports, data and fitting) is measured on its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from bench import routing_eval
from bench.asr_noise import add_asr_noise
from core.settings import PROJECT_ROOT
from dispatch.routing.classifier import Parameters, RoutingModel, read_labelled_csv, train

COMPLAINTS = PROJECT_ROOT.parent / "shared" / "data" / "complaints"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_peak_rss_mb() -> float:
    """This process's own peak: on Linux getrusage's figure also covers the memory of the
    parent it was forked from (kept across exec), so the child reads VmHWM instead."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return peak_rss_mb()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def _train_child(examples: list[tuple[str, str]], output: str, connection: Connection) -> None:
    started = time.perf_counter()
    model = train(examples, Parameters())
    seconds = time.perf_counter() - started
    model.save(Path(output))
    connection.send((seconds, own_peak_rss_mb()))
    connection.close()


def train_in_child(examples: list[tuple[str, str]], output: Path) -> tuple[float, float]:
    """(training seconds, peak RSS in MB of the training process)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_train_child, args=(examples, str(output), sender))
    process.start()
    sender.close()
    result: tuple[float, float] = receiver.recv()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"training failed (exit code {process.exitcode})")
    return result


def test_sets(
    texts: Sequence[str], rates: Sequence[float], truncate: int, seed: int
) -> dict[str, list[str]]:
    """The held-out texts as written, with recognition errors, and cut to phone length."""
    sets = {"clean": list(texts)}
    for rate in rates:
        rng = random.Random(f"{seed}-{rate}")
        sets[f"noise {rate:.0%}"] = [add_asr_noise(text, rate, rng) for text in texts]
    last = max(rates, default=0.0)
    if last:
        noisy = sets[f"noise {last:.0%}"]
        sets[f"noise {last:.0%}, first {truncate} chars"] = [text[:truncate] for text in noisy]
    sets[f"clean, first {truncate} chars"] = [text[:truncate] for text in texts]
    return sets


def report_quality(
    model: RoutingModel, sets: dict[str, list[str]], truth: list[str]
) -> dict[str, list[str]]:
    print("held-out quality (accuracy, macro-F1, label among top 3):")
    predictions: dict[str, list[str]] = {}
    for name, texts in sets.items():
        probabilities = model.probabilities(texts)
        ranked = (-probabilities).argsort(axis=1)
        predicted = [model.labels[row[0]] for row in ranked]
        in_top3 = sum(
            label in {model.labels[i] for i in row[:3]}
            for label, row in zip(truth, ranked, strict=True)
        ) / len(truth)
        predictions[name] = predicted
        print(
            f"  {name:<28} accuracy {routing_eval.accuracy(truth, predicted):.3f}  "
            f"macro-F1 {routing_eval.macro_f1(truth, predicted, model.labels):.3f}  "
            f"top-3 {in_top3:.3f}"
        )
    return predictions


def report_labels(
    model: RoutingModel, predictions: dict[str, list[str]], truth: list[str], names: list[str]
) -> None:
    print("per-label F1 (" + " | ".join(names) + "):")
    scores = [routing_eval.per_label_f1(truth, predictions[name], model.labels) for name in names]
    for label in model.labels:
        figures = " | ".join(f"{score[label]:.3f}" for score in scores)
        print(f"  n={truth.count(label):<4} {figures}  {label}")


def report_speed(model: RoutingModel, phone_texts: list[str], all_texts: list[str]) -> None:
    model.top(phone_texts[0], 3)
    timings = []
    for text in phone_texts:
        started = time.perf_counter()
        model.top(text, 3)
        timings.append(time.perf_counter() - started)
    print(
        f"top(text, 3), one phone-length case at a time: {len(timings)} cases, "
        f"{len(timings) / sum(timings):.0f} cases/s, median "
        f"{statistics.median(timings) * 1000:.2f} ms, p95 "
        f"{percentile(timings, 0.95) * 1000:.2f} ms"
    )
    for name, texts in (("phone-length", phone_texts), ("full messages", all_texts)):
        started = time.perf_counter()
        model.classify_many(texts)
        seconds = time.perf_counter() - started
        print(
            f"classify_many, {name}: {len(texts)} cases in {seconds:.2f} s, "
            f"{len(texts) / seconds:.0f} cases/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=COMPLAINTS / "train.csv")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--rates", default="0.1,0.2", help="character error rates of the noisy test sets"
    )
    parser.add_argument("--truncate", type=int, default=80, help="phone-call length in characters")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",") if rate]

    examples = read_labelled_csv(args.data)
    groups = routing_eval.near_duplicate_groups([text for text, _ in examples])
    train_set, test_set = routing_eval.stratified_split(
        examples, args.test_fraction, args.seed, groups=groups
    )
    print(
        f"data: {len(examples)} messages, {len(set(groups))} after merging near-duplicates;"
        f" training on {len(train_set)}, testing on {len(test_set)} (seed {args.seed})"
    )

    path = Path(tempfile.mkdtemp(prefix="bench-routing-")) / "model.npz"
    seconds, training_rss = train_in_child(train_set, path)
    started = time.perf_counter()
    model = RoutingModel.load(path)
    load_ms = (time.perf_counter() - started) * 1000
    print(f"model: {model.params}, {model.info['features']} kept n-gram buckets")
    print(f"training: {seconds:.1f} s, peak RSS of the training process {training_rss:.0f} MB")
    print(
        f"model file: {path.stat().st_size / 1e6:.1f} MB (+ "
        f"{path.with_suffix('.json').stat().st_size} B JSON), loads in {load_ms:.0f} ms"
    )

    truth = [label for _, label in test_set]
    sets = test_sets([text for text, _ in test_set], rates, args.truncate, args.seed)
    predictions = report_quality(model, sets, truth)
    phone_name = list(sets)[-2] if rates else list(sets)[-1]
    report_labels(model, predictions, truth, ["clean", phone_name])
    report_speed(model, sets[phone_name][:500], sets["clean"])
    print(f"peak RSS of this process (evaluation): {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
