"""Process ids in pid files."""

from __future__ import annotations

import os
from pathlib import Path


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
        states = [_state((task / "stat").read_text(encoding="ascii", errors="replace"))
                  for task in tasks]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(state not in ("Z", "X") for state in states)


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def running(pid_file: Path, expect: str) -> int | None:
    """The pid in ``pid_file`` if that process still runs and its command line contains
    ``expect``: a pid number reused by another process (or thread) after a crash must not
    pass for ours."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if not alive(pid) or not any(expect in part for part in command_line(pid)):
        return None
    return pid
