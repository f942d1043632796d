"""Start, stop and report the hotline's processes: Asterisk, the live stream listener, the ivr
service, the transcription pool, the API."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from asr import live_listener, strays
from core import pids
from core.settings import Settings
from core.waiting import wait_for
from hotline.ivr_status import status_file
from ivr import asterisk_process, phones
from ivr.asterisk_config import AsteriskDirs
from ivr.asterisk_install import AsteriskInstall

# The live stream listener starts before the ivr, which asks Asterisk to stream to it.
SERVICES = ("asr-live", "ivr", "asr", "api")


@dataclass(frozen=True)
class PartStatus:
    name: str
    running: bool
    detail: str

    def line(self) -> str:
        """One line of ``hotline up`` and ``hotline status``."""
        return f"{self.name:<9} {'up' if self.running else 'DOWN':<5} {self.detail}"


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def service_pid(settings: Settings, name: str) -> int | None:
    return pids.running(_pid_file(settings, name), expect=name)


def start_service(settings: Settings, name: str) -> int:
    running = service_pid(settings, name)
    if running is not None:
        return running
    stop_leftovers(settings, name)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings.to_env()}
    return pids.spawn_detached(
        [sys.executable, "-m", "hotline.cli", "serve", name],
        env,
        settings.log_dir / f"{name}.log",
        _pid_file(settings, name),
    )


def stop_service(settings: Settings, name: str, timeout: float = 20) -> None:
    """SIGTERM to the service's process group (it and any children), SIGKILL if it lingers.
    A service that died leaves its group behind if it had children: they are stopped too."""
    pid = service_pid(settings, name)
    if pid is not None:
        _signal_group(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not pids.alive(pid), timeout, f"{name} to stop")
        except TimeoutError:
            _signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    stop_leftovers(settings, name, timeout)
    _pid_file(settings, name).unlink(missing_ok=True)


def leftovers(settings: Settings, name: str) -> list[int]:
    """Processes of a service that are still in its process group once the service itself is
    gone (children of a killed service), recognised by their command line."""
    found = pids.recorded(_pid_file(settings, name))
    if found is None:
        return []
    group = found[0]
    if pids.alive(group):
        return []
    data_dir = str(settings.data_dir)
    return [
        pid
        for pid in pids.group_members(group)
        if f"serve {name}" in " ".join(pids.command_line(pid))
        and pids.environment(pid).get("HOTLINE_DATA_DIR") == data_dir
    ]


def stop_leftovers(settings: Settings, name: str, timeout: float = 20) -> None:
    found = leftovers(settings, name)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        wait_for(
            lambda: not any(pids.alive(pid) for pid in found),
            timeout,
            f"what is left of {name} to stop",
        )
    except TimeoutError:
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _signal_group(pid: int, signum: int) -> None:
    """Each service leads its own session (``setsid``), so its group id is its pid."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def asr_workers(settings: Settings) -> list[dict[str, object]]:
    """The state files of the transcription workers that are alive."""
    found = []
    for path in sorted((settings.run_dir / "asr").glob("*.json")):
        try:
            state: dict[str, object] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        pid = state.get("pid")
        if isinstance(pid, int) and pids.alive(pid):
            found.append({"name": path.stem, **state})
    return found


def ivr_status(settings: Settings) -> dict[str, object]:
    try:
        data: dict[str, object] = json.loads(status_file(settings).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data


def live_status(settings: Settings) -> PartStatus:
    """The live stream listener: engine, model, address and streams in use, or why it does
    not listen (calls then go to the batch workers)."""
    pid = service_pid(settings, "asr-live")
    if pid is None:
        return PartStatus("asr-live", False, "stopped")
    state = live_listener.read_state(live_listener.state_file(settings.run_dir))
    if state.get("pid") != pid:
        return PartStatus("asr-live", False, f"pid {pid}, starting")
    if not state.get("listening"):
        return PartStatus(
            "asr-live",
            True,
            f"pid {pid}, not listening: {state.get('reason')}; calls are transcribed from "
            "their recordings",
        )
    return PartStatus(
        "asr-live",
        True,
        f"pid {pid}, {state.get('engine')} {state.get('model')} on {state.get('address')}, "
        f"{state.get('streams')} of {state.get('max_streams')} streams in use",
    )


def api_answers(settings: Settings) -> bool:
    url = f"http://{settings.api_host}:{settings.api_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def status(settings: Settings, install: AsteriskInstall | None) -> list[PartStatus]:
    parts = []
    if install is None:
        parts.append(PartStatus("asterisk", False, "not installed: run 'hotline setup'"))
    else:
        dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
        pid = asterisk_process.read_pid(dirs)
        parts.append(
            PartStatus(
                "asterisk", pid is not None, f"pid {pid}, {install.version}" if pid else "stopped"
            )
        )
    parts.append(live_status(settings))
    ivr_pid = service_pid(settings, "ivr")
    ivr = ivr_status(settings) if ivr_pid else {}
    ivr_ok = bool(ivr.get("ami")) and bool(ivr.get("agi"))
    board = phones.read(phones.phones_file(settings.run_dir)) if ivr_pid else None
    parts.append(
        PartStatus(
            "ivr",
            ivr_pid is not None and ivr_ok,
            f"pid {ivr_pid}, AMI {'connected' if ivr.get('ami') else 'disconnected'}, "
            f"FastAGI {'listening' if ivr.get('agi') else 'down'} on port {settings.agi_port}"
            + (
                f", operator phones: {board.registered} of {len(board.phones)} registered, "
                f"{board.busy} on a call"
                if board is not None
                else ""
            )
            if ivr_pid
            else "stopped",
        )
    )
    asr_pid = service_pid(settings, "asr")
    workers = asr_workers(settings) if asr_pid else []
    orphans = {} if asr_pid else strays.workers(settings)
    parts.append(
        PartStatus(
            "asr",
            asr_pid is not None and bool(workers),
            f"pid {asr_pid}, {len(workers)} workers "
            f"({', '.join(sorted({str(w['state']) for w in workers})) or 'starting'})"
            if asr_pid
            else "stopped"
            + (
                f", {len(orphans)} workers left running without a pool (pids "
                f"{', '.join(str(pid) for pid in orphans.values())}): 'hotline up' or "
                "'hotline down' stops them"
                if orphans
                else ""
            ),
        )
    )
    api_pid = service_pid(settings, "api")
    answers = api_pid is not None and api_answers(settings)
    parts.append(
        PartStatus(
            "api",
            answers,
            f"pid {api_pid}, http://{settings.api_host}:{settings.api_port}/"
            if api_pid
            else "stopped",
        )
    )
    return parts


def up(settings: Settings, install: AsteriskInstall, timeout: float = 60) -> list[PartStatus]:
    """Start every part and return once each one answers."""
    dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
    asterisk_process.start(install, dirs, settings.data_dir, timeout=timeout)
    if service_pid(settings, "ivr") is None:
        status_file(settings).unlink(missing_ok=True)
    for name in SERVICES:
        start_service(settings, name)

    def all_up() -> list[PartStatus] | None:
        parts = status(settings, install)
        for name in SERVICES:
            if service_pid(settings, name) is None:
                log_path = settings.log_dir / f"{name}.log"
                raise RuntimeError(
                    f"the {name} service exited ({_whereabouts(settings, name)}); see {log_path}"
                )
        return parts if all(p.running for p in parts) else None

    return wait_for(all_up, timeout, "every part of the hotline to answer", 0.2)


def _whereabouts(settings: Settings, name: str) -> str:
    """What the pid file says and what became of that process, for an error message."""
    found = pids.recorded(_pid_file(settings, name))
    if found is None:
        return "no pid file"
    pid, started = found
    if not pids.alive(pid):
        return f"pid {pid} is gone"
    return (
        f"pid {pid} started at {started}, now a process started at {pids.start_time(pid)}: "
        f"{' '.join(pids.command_line(pid))[:100]}"
    )


def down(settings: Settings, install: AsteriskInstall | None) -> None:
    for name in reversed(SERVICES):
        stop_service(settings, name)
    strays.stop_workers(settings)
    if install is not None:
        dirs = AsteriskDirs.for_settings(settings, install.modules_dir)
        asterisk_process.stop(install, dirs, settings.data_dir)
