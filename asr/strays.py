"""Transcription workers an earlier pool left running, found by their state files
(``<run>/asr/NAME.json``, written by ``asr.worker``): a pid counts only with the start time its
worker recorded. The pool stops them at its start; ``hotline up``/``down``/``status`` find them
too. Light on purpose (core only): ``hotline status`` loads it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time

from core import pids
from core.settings import Settings

log = logging.getLogger(__name__)


def workers(settings: Settings) -> dict[str, int]:
    """Workers (by name) still running, from their state files: a pid counts only with the
    start time its worker recorded, so a reused pid is never taken for a worker."""
    found = {}
    for path in sorted((settings.run_dir / "asr").glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        pid, started = state.get("pid"), state.get("started")
        if isinstance(pid, int) and isinstance(started, int) and pids.same_process(pid, started):
            found[path.stem] = pid
    return found


def stop_workers(settings: Settings, timeout: float = 30) -> list[int]:
    """Stop the workers of an earlier pool (SIGTERM: each gives its job back; SIGKILL after
    ``timeout``). Returns the pids stopped."""
    running = workers(settings)
    if not running:
        return []
    log.warning(
        "stopping workers left by an earlier pool: %s",
        ", ".join(f"{name} (pid {pid})" for name, pid in running.items()),
    )
    for pid in running.values():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pids.alive(pid) for pid in running.values()):
        time.sleep(0.1)
    for pid in running.values():
        if pids.alive(pid):
            log.warning("worker pid %d did not stop; killing it", pid)
            _signal(pid, signal.SIGKILL)
    return list(running.values())


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
