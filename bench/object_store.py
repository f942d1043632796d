"""Object store throughput: uploads confirmed as the offloader does them (``S3Store.put_file``:
re-hash, PUT, HEAD, ETag check), whole reads, and HTTP Range reads as replay does them, for
recordings-sized objects (1 MB and 10 MB: about 30 s and 5 min of a call's stereo 8 kHz WAV).

    .venv/bin/python -m bench.object_store [--small 60] [--large 12] [--threads 1,4]
                                           [--ranges 400] [--url URL --credentials FILE]

Without ``--url`` a SeaweedFS (``hotline.object_store_process``, the pinned ``weed``) is
started on 127.0.1.10 in a temporary folder, on the same disk as the files it reads.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hotline import object_store_process
from recordings import objects

MB = 1_000_000


def _files(folder: Path, count: int, size: int) -> list[tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        path = folder / f"{size}-{n}.wav"
        data = os.urandom(size)
        path.write_bytes(data)
        made.append((path, hashlib.sha256(data).hexdigest()))
    return made


def _timed(threads: int, jobs: list[Callable[[], int]]) -> tuple[float, int]:
    """Seconds for all jobs on ``threads`` threads, and the bytes they moved."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        moved = sum(pool.map(lambda job: job(), jobs))
    return time.perf_counter() - start, moved


def _line(what: str, seconds: float, count: int, moved: int) -> str:
    return (
        f"{what:<34} {count:>5} objects {seconds:7.2f} s  "
        f"{count / seconds:8.1f} objects/s  {moved / MB / seconds:8.1f} MB/s"
    )


def run(store: objects.S3Store, work: Path, small: int, large: int, threads: list[int]) -> None:
    prefix = f"bench-{os.urandom(4).hex()}/"
    for size, count in ((1 * MB, small), (10 * MB, large)):
        files = _files(work / str(size), count, size)
        label = f"{size // MB} MB"
        for width in threads:
            keys = [f"{prefix}{width}/{path.name}" for path, _ in files]

            def put(key: str, path: Path, sha: str) -> Callable[[], int]:
                return lambda: store.put_file(key, path, sha).size

            def get(key: str) -> Callable[[], int]:
                return lambda: sum(len(chunk) for chunk in store.read(key))

            seconds, moved = _timed(
                width, [put(k, p, s) for k, (p, s) in zip(keys, files, strict=True)]
            )
            print(_line(f"write {label}, {width} thread(s)", seconds, count, moved))
            seconds, moved = _timed(width, [get(k) for k in keys])
            print(_line(f"read  {label}, {width} thread(s)", seconds, count, moved))
            for key in keys:
                store.delete(key)


def ranges(store: objects.S3Store, work: Path, count: int) -> None:
    """Range reads of 64 kB at random offsets of a 10 MB object, one at a time (a player
    seeking): latency and rate."""
    path, sha = _files(work / "range", 1, 10 * MB)[0]
    key = f"bench-range-{os.urandom(4).hex()}.wav"
    store.put_file(key, path, sha)
    data = path.read_bytes()
    rng = random.Random(18)
    took = []
    start = time.perf_counter()
    for _ in range(count):
        offset = rng.randrange(0, len(data) - 65536)
        began = time.perf_counter()
        got = b"".join(store.read(key, offset, 65536))
        took.append(time.perf_counter() - began)
        assert got == data[offset : offset + 65536]
    seconds = time.perf_counter() - start
    took.sort()
    print(
        f"{'range 64 kB of 10 MB, 1 thread':<34} {count:>5} reads   {seconds:7.2f} s  "
        f"{count / seconds:8.1f} reads/s    p50 {statistics.median(took) * 1000:.1f} ms  "
        f"p99 {took[int(len(took) * 0.99) - 1] * 1000:.1f} ms"
    )
    store.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=60, help="1 MB objects")
    parser.add_argument("--large", type=int, default=12, help="10 MB objects")
    parser.add_argument("--threads", default="1,4", help="thread counts to run, e.g. 1,4")
    parser.add_argument("--ranges", type=int, default=400, help="Range reads")
    parser.add_argument("--url", default="", help="an S3 endpoint instead of a local SeaweedFS")
    parser.add_argument("--bucket", default="hotline")
    parser.add_argument("--credentials", type=Path, help="with --url: its credentials file")
    args = parser.parse_args()
    threads = [int(item) for item in args.threads.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-object-store-"))
    root = work / "store"
    try:
        if args.url:
            if args.credentials is None:
                parser.error("--url needs --credentials")
            url, credentials = args.url, args.credentials
        else:
            credentials = work / "object-store.json"
            object_store_process.write_credentials(credentials)
            host = "127.0.1.10"
            port = object_store_process.free_ports(host, 1)[0]
            began = time.perf_counter()
            object_store_process.start(root, host, port, credentials, bucket=args.bucket)
            print(
                f"SeaweedFS {object_store_process.WEED_VERSION} up in "
                f"{time.perf_counter() - began:.1f} s on {host}:{port} ({root})"
            )
            url = f"http://{host}:{port}"
        store = objects.S3Store(url, args.bucket, objects.read_credentials(credentials))
        print(f"store: {store.name}; cores: {os.cpu_count()}")
        run(store, work / "files", args.small, args.large, threads)
        ranges(store, work / "files", args.ranges)
    finally:
        if not args.url:
            object_store_process.stop(root)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
