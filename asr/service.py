"""The transcription service: a pool of worker processes, each loading the model once.

``hotline serve asr`` runs the pool; it starts ``hotline serve asr-worker NAME`` children,
restarts any that die, and stops them all on SIGTERM. Workers die with their pool: each asks
the kernel for SIGTERM when its parent dies and watches its parent too, so a pool killed with
SIGKILL leaves no worker behind; a pool stops any worker of an earlier pool before it starts
its own. The composition root (``hotline serve``) hands the pool the command that starts a
worker, and maps every table before a worker's first query.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence

from asr import strays
from asr.worker import Interrupted, Worker, state_file
from core.db import make_engine, make_session_factory
from core.settings import Settings

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 2.0
PARENT_CHECK_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


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


def _die_with_parent(parent: int) -> None:
    """SIGTERM (a clean stop: the job goes back to the queue) as soon as ``parent`` is gone.

    The kernel's parent-death signal covers a parent killed with SIGKILL; a thread watching
    the parent covers a parent that died before the signal was asked for, and systems without
    ``prctl``.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is not None:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        log.warning("the parent process %d is gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_worker(settings: Settings, name: str, parent: int | None = None) -> None:
    """One worker process; ``parent``: the pool it belongs to (it stops when that is gone)."""
    if parent is not None:
        _die_with_parent(parent)
    engine = make_engine(settings.effective_database_url)
    worker = Worker(settings, make_session_factory(engine), name)
    stop = _stop_on_signals(worker)
    try:
        worker.run(stop)
    finally:
        engine.dispose()
        _remove_own_state(settings, name)


def _remove_own_state(settings: Settings, name: str) -> None:
    """The state file goes with its worker, never one a newer worker of that name wrote."""
    path = state_file(settings, name)
    try:
        owner = json.loads(path.read_text()).get("pid")
    except (OSError, ValueError):
        return
    if owner == os.getpid():
        path.unlink(missing_ok=True)


def run_pool(settings: Settings, worker_command: Sequence[str]) -> None:
    """Keep ``pool_size`` workers running until SIGTERM; each is started as
    ``worker_command NAME --pool PID``."""
    stop = _stop_on_signals()
    strays.stop_workers(settings)
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
                    [*worker_command, name, "--pool", str(os.getpid())], env=env
                )
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
