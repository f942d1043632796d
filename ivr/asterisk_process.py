"""Start, stop and query the Asterisk process (chrooted or the host's)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
from pathlib import Path

from core import pids, privacy
from core.waiting import wait_for
from ivr.asterisk_config import AsteriskDirs
from ivr.asterisk_install import AsteriskInstall, is_mount_point, mounts_below

log = logging.getLogger(__name__)


class AsteriskProcessError(RuntimeError):
    pass


def _inside(install: AsteriskInstall, path: Path) -> Path:
    return install.root / str(path.resolve()).lstrip("/")


def mount_data(install: AsteriskInstall, data_dir: Path) -> None:
    """Make the data folder visible inside the chroot at the same path."""
    if not install.chrooted:
        return
    target = _inside(install, data_dir)
    if is_mount_point(target):
        return
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(data_dir.resolve()), str(target)], check=True)


def unmount_data(install: AsteriskInstall, data_dir: Path) -> None:
    if not install.chrooted:
        return
    target = _inside(install, data_dir)
    for mount in [*mounts_below(target), target]:
        while is_mount_point(mount):
            result = subprocess.run(["umount", "-l", str(mount)], check=False)
            if result.returncode != 0:
                log.error("could not unmount %s", mount)
                break


def control_socket_answers(dirs: AsteriskDirs) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(str(dirs.run / "asterisk.ctl"))
        except OSError:
            return False
    return True


def read_pid(dirs: AsteriskDirs) -> int | None:
    return pids.running(dirs.pid_file, expect=str(dirs.config_file))


def cli(install: AsteriskInstall, dirs: AsteriskDirs, command: str, timeout: float = 10) -> str:
    """Run an Asterisk CLI command through the control socket (root only, never AMI)."""
    result = subprocess.run(
        install.command("-C", str(dirs.config_file), "-rx", command),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AsteriskProcessError(f"asterisk -rx {command!r} failed: {result.stderr.strip()}")
    return result.stdout


def start(install: AsteriskInstall, dirs: AsteriskDirs, data_dir: Path, timeout: float = 30) -> int:
    """Start Asterisk as a daemon and return its pid once it is fully booted."""
    running = read_pid(dirs)
    if running is not None and control_socket_answers(dirs):
        return running
    stale = dirs.pid_file.read_text().strip() if dirs.pid_file.exists() else ""
    for folder in dirs.all_dirs():
        folder.mkdir(parents=True, exist_ok=True)
    mount_data(install, data_dir)
    # A process that was just killed may hold its control socket for a moment longer.
    wait_for(
        lambda: not control_socket_answers(dirs),
        15,
        "the previous Asterisk to release its control socket",
    )
    # Runs as root without -U/-G: switching user drops the capabilities it needs.
    # Asterisk sets no umask of its own: recordings, CDR and logs are private to the service.
    result = subprocess.run(
        install.command("-C", str(dirs.config_file)),
        capture_output=True,
        text=True,
        check=False,
        umask=privacy.UMASK,
    )
    if result.returncode != 0:
        raise AsteriskProcessError(f"Asterisk did not start: {result.stderr.strip()}")

    def booted() -> int | None:
        pid = read_pid(dirs)
        if pid is None or str(pid) == stale:
            return None
        try:
            output = cli(install, dirs, "core waitfullybooted", timeout=5)
        except (AsteriskProcessError, subprocess.TimeoutExpired):
            return None
        return pid if "fully booted" in output.lower() else None

    return wait_for(booted, timeout, f"Asterisk to boot (log: {dirs.log / 'messages.log'})")


def stop(install: AsteriskInstall, dirs: AsteriskDirs, data_dir: Path, timeout: float = 20) -> None:
    pid = read_pid(dirs)
    if pid is not None:
        try:
            cli(install, dirs, "core stop now", timeout=5)
        except (AsteriskProcessError, subprocess.TimeoutExpired):
            os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not pids.alive(pid), timeout, "Asterisk to stop")
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not pids.alive(pid), 5, "Asterisk to die")
    unmount_data(install, data_dir)


def kill_hard(dirs: AsteriskDirs) -> None:
    """Simulate a crash: SIGKILL, no chance to close files or hang up calls."""
    pid = read_pid(dirs)
    if pid is None:
        raise AsteriskProcessError("Asterisk is not running")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pids.alive(pid), 10, "Asterisk to die", 0.02)
