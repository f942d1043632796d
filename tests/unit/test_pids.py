from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hotline import pids
from hotline.waiting import wait_for


def test_running_process_and_pid_file(tmp_path: Path) -> None:
    assert pids.alive(os.getpid())
    pid_file = tmp_path / "x.pid"
    assert pids.running(pid_file, expect="python") is None
    pid_file.write_text("not a pid")
    assert pids.running(pid_file, expect="python") is None
    pid_file.write_text(str(os.getpid()))
    assert pids.running(pid_file, expect="python") == os.getpid()


def test_a_reused_pid_of_another_program_is_not_ours(tmp_path: Path) -> None:
    pid_file = tmp_path / "asterisk.pid"
    pid_file.write_text(str(os.getpid()))  # this pid is pytest, not Asterisk
    assert pids.running(pid_file, expect="/etc/asterisk.conf") is None


def test_a_killed_child_is_gone_even_before_it_is_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert pids.alive(child.pid)
        child.kill()
        wait_for(lambda: not pids.alive(child.pid), 10, "the zombie to count as gone")
    finally:
        child.wait()
    assert not pids.alive(child.pid)
