"""How fast the console's case logic is: registrations per second (one operator, and several
saving at once), knowledge-base search and similar-case lookup over real citizen messages
(../shared/data/complaints), and peak memory.

    .venv/bin/python -m bench.console [--cases 600] [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from core.db import make_engine, make_session_factory, transaction
from core.settings import PROJECT_ROOT
from dispatch.intake import case_store, register
from dispatch.knowledge import entries
from hotline import migrate

COMPLAINTS = PROJECT_ROOT.parent / "shared" / "data" / "complaints"
ZONE = ZoneInfo("Asia/Shanghai")


def messages(limit: int) -> list[str]:
    with open(COMPLAINTS / "train.csv", encoding="utf-8", newline="") as handle:
        return [
            row["text"][:2000] for _, row in zip(range(limit), csv.DictReader(handle), strict=False)
        ]


def replies(limit: int) -> list[tuple[str, str]]:
    texts = {}
    with open(COMPLAINTS / "train.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            texts[row["id"]] = row["text"]
    pairs: list[tuple[str, str]] = []
    with open(COMPLAINTS / "replies.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["id"] in texts and len(pairs) < limit:
                pairs.append((texts[row["id"]][:120], row["reply"][:3000]))
    return pairs


def form(text: str, index: int) -> dict[str, object]:
    return {
        "received_at": "2026-11-20T09:30",
        "channel": "web",
        "case_type": "complaint",
        "complainant_name": "张三",
        "complainant_phone": f"138{index:08d}",
        "subject_unit": "某单位",
        "title": text[:30] or "无标题",
        "content": text or "无",
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    config = register.IntakeConfig(
        ZONE, "TS{date:%Y%m%d}{seq:05d}", tmp / "attachments", 1 << 20, 10
    )
    texts = messages(args.cases * 2)
    now = dt.datetime.now(dt.UTC)

    half = args.cases // 2
    latencies = []
    started = time.perf_counter()
    for index in range(half):
        t0 = time.perf_counter()
        register.register(sessions, config, form(texts[index], index), [], "bench", now)
        latencies.append(time.perf_counter() - t0)
    sequential = half / (time.perf_counter() - started)
    print(
        f"registration, one operator: {half} cases, {sequential:.0f} cases/s, "
        f"median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms"
    )

    per_thread = (args.cases - half) // args.threads
    numbers: list[str] = []

    def operator(offset: int) -> None:
        for index in range(offset, offset + per_thread):
            case = register.register(sessions, config, form(texts[index], index), [], "bench", now)
            numbers.append(case.number)

    threads = [
        threading.Thread(target=operator, args=(half + i * per_thread,))
        for i in range(args.threads)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    concurrent = len(numbers) / (time.perf_counter() - started)
    print(
        f"registration, {args.threads} operators at once: {len(numbers)} cases, "
        f"{concurrent:.0f} cases/s, distinct numbers: {len(set(numbers)) == len(numbers)}"
    )

    pairs = replies(1000)
    pairs += [(text[:60], text) for text in texts[: 1000 - len(pairs)]]
    with transaction(sessions) as session:
        for question, answer in pairs:
            entries.create(session, {"question": question, "answer": answer}, "bench", now)
    queries = [text[5:25] for text in texts[-100:]]
    with sessions() as session:
        timings = []
        for query in queries:
            t0 = time.perf_counter()
            entries.search(session, query)
            timings.append(time.perf_counter() - t0)
    print(
        f"knowledge search over {len(pairs)} entries: median "
        f"{statistics.median(timings) * 1000:.1f} ms, p95 {percentile(timings, 0.95) * 1000:.1f}"
        " ms per query"
    )

    with sessions() as session:
        timings = []
        for text in texts[:50]:
            t0 = time.perf_counter()
            case_store.similar(session, text, now, 90)
            timings.append(time.perf_counter() - t0)
    print(
        f"similar cases among {args.cases} recent cases: median "
        f"{statistics.median(timings) * 1000:.1f} ms, p95 {percentile(timings, 0.95) * 1000:.1f}"
        " ms per lookup"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB")
    engine.dispose()


if __name__ == "__main__":
    main()
