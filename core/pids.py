"""Process ids in pid files."""

from __future__ import annotations

import os
from pathlib import Path

from core import privacy


def _state(stat_line: str) -> str:
    # "pid (comm) S ...": the name may hold spaces and parentheses, the state follows the last ")".
    return stat_line.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """True while any thread of ``pid`` runs. A killed multi-threaded process shows its leader
    as a zombie while other threads still hold its files and sockets: that is not gone yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False
    for task in tasks:
        try:
            state = _state((task / "stat").read_text(encoding="ascii", errors="replace"))
        except (FileNotFoundError, ProcessLookupError):
            continue  # that thread ended since the listing: the others still count
        if state not in ("Z", "X"):
            return True
    return False


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/PID/stat`` field 22): with the
    pid, it names one process for good, whatever number the kernel hands out later."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def same_process(pid: int, started: int | None) -> bool:
    """True while the process ``pid`` that started at ``started`` still runs."""
    return started is not None and start_time(pid) == started and alive(pid)


def group_members(group: int) -> list[int]:
    """The live processes whose process group is ``group``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return sorted(found)


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    pairs = (part.decode(errors="replace").partition("=") for part in raw.split(b"\0") if part)
    return {key: value for key, _, value in pairs}


def record(pid: int) -> str:
    """What a pid file holds for ``pid``: the pid and the process's start time."""
    return f"{pid} {start_time(pid)}"


def recorded(pid_file: Path) -> tuple[int, int | None] | None:
    """(pid, start time or None for a file holding only a pid, as Asterisk writes)."""
    try:
        fields = pid_file.read_text().split()
        return int(fields[0]), int(fields[1]) if len(fields) > 1 else None
    except (FileNotFoundError, ValueError, IndexError):
        return None


def running(pid_file: Path, expect: str) -> int | None:
    """The pid in ``pid_file`` if that process still runs and its command line contains
    ``expect``: a pid number reused by another process (or thread) after a crash must not
    pass for ours. With a start time in the file (see :func:`record`), the process must have
    started then: pids come round again within minutes on a busy machine, and another
    instance's service has the same command line."""
    found = recorded(pid_file)
    if found is None or not alive(found[0]):
        return None
    pid, started = found
    if started is not None:
        # The start time is proof enough, and the only proof right after the process was
        # spawned: its command line reads empty until exec has set up its arguments.
        return pid if start_time(pid) == started else None
    return pid if any(expect in part for part in command_line(pid)) else None


def spawn_detached(argv: list[str], env: dict[str, str], log_file: Path, pid_file: Path) -> int:
    """Start ``argv`` detached: its own session (it outlives the command that started it, and
    no Popen object is left to reap it), stdin from /dev/null, stdout and stderr appended to
    ``log_file`` (owner-only). Its pid and start time go to ``pid_file``; returns the pid."""
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)
    privacy.write_private(pid_file, record(pid))
    return pid
