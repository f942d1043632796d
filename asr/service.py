"""The transcription service: a pool of worker processes, each loading the model once.

``hotline serve asr`` runs the pool; it starts ``hotline serve asr-worker NAME`` children,
restarts any that die, and stops them all on SIGTERM. Wiring for each process lives here.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from asr.worker import Interrupted, Worker, state_file
from hotline import models_registry
from hotline.db import make_engine, make_session_factory
from hotline.settings import Settings

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 2.0


def pool_size(settings: Settings) -> int:
    return settings.asr_workers or os.cpu_count() or 1


def _stop_on_signals(worker: Worker | None = None) -> threading.Event:
    """An event set by SIGTERM/SIGINT; a busy worker is interrupted mid-job as well."""
    stop = threading.Event()

    def handle(_signum: int, _frame: object) -> None:
        stop.set()
        if worker is not None and worker.busy:
            raise Interrupted

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run_worker(settings: Settings, name: str) -> None:
    """One worker process."""
    assert models_registry.metadata.tables, "every mapper is known before the first query"
    engine = make_engine(settings.effective_database_url)
    worker = Worker(settings, make_session_factory(engine), name)
    stop = _stop_on_signals(worker)
    try:
        worker.run(stop)
    finally:
        engine.dispose()
        state_file(settings, name).unlink(missing_ok=True)


def run_pool(settings: Settings) -> None:
    """Keep ``pool_size`` workers running until SIGTERM."""
    stop = _stop_on_signals()
    size = pool_size(settings)
    env = {**os.environ, **settings.to_env()}
    children: dict[str, subprocess.Popen[bytes] | None] = {}
    next_start: dict[str, float] = {}
    log.info("transcription pool: %d workers", size)
    try:
        while not stop.is_set():
            for index in range(size):
                name = f"asr-{index + 1}"
                child = children.get(name)
                if child is not None:
                    if child.poll() is None:
                        continue
                    log.warning("worker %s exited with %s; restarting", name, child.returncode)
                    children[name] = None
                    next_start[name] = time.monotonic() + RESTART_DELAY_SECONDS
                if time.monotonic() < next_start.get(name, 0.0):
                    continue
                children[name] = subprocess.Popen(
                    [sys.executable, "-m", "hotline.cli", "serve", "asr-worker", name], env=env)
            stop.wait(0.5)
    finally:
        running = {name: child for name, child in children.items() if child is not None}
        for child in running.values():
            if child.poll() is None:
                child.terminate()
        for name, child in running.items():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log.warning("worker %s did not stop; killing it", name)
                child.kill()
                child.wait()
