from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from core import pids
from core.waiting import wait_for


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


def test_a_process_whose_threads_come_and_go_is_alive_all_along() -> None:
    """A thread ending while the process is looked at must not make it look dead (the API
    and ivr services start and end worker threads all the time)."""
    churn = (
        "import threading\n"
        "while True:\n"
        "    threads = [threading.Thread(target=int) for _ in range(20)]\n"
        "    [t.start() for t in threads]\n"
        "    [t.join() for t in threads]\n"
    )
    child = subprocess.Popen([sys.executable, "-c", churn])
    try:
        wait_for(
            lambda: len(list(Path(f"/proc/{child.pid}/task").iterdir())) > 1,
            10,
            "the child to start threads",
            0.01,
        )
        assert all(pids.alive(child.pid) for _ in range(3000))
    finally:
        child.kill()
        child.wait()


def test_start_time_names_one_process() -> None:
    started = pids.start_time(os.getpid())
    assert started is not None and pids.same_process(os.getpid(), started)
    assert not pids.same_process(os.getpid(), started + 1)
    assert not pids.same_process(os.getpid(), None)
    assert os.getpid() in pids.group_members(os.getpgrp())


def test_a_pid_file_with_a_start_time_names_only_that_process(tmp_path: Path) -> None:
    """Another instance's service has the same command line, and pids come round again within
    minutes on a busy machine: the start time tells them apart."""
    pid_file = tmp_path / "api.pid"
    pid_file.write_text(pids.record(os.getpid()))
    assert pids.running(pid_file, expect="python") == os.getpid()
    started = pids.start_time(os.getpid())
    assert started is not None
    pid_file.write_text(f"{os.getpid()} {started - 1}")  # the pid, but an earlier process
    assert pids.running(pid_file, expect="python") is None
    assert pids.recorded(pid_file) == (os.getpid(), started - 1)


def test_a_recorded_process_whose_command_line_reads_empty_is_still_ours(
    tmp_path: Path,
) -> None:
    """Right after posix_spawn returns, the child's command line reads empty for a moment
    (exec has not set its arguments up yet): 'hotline up' took such a fresh service for one
    that had exited. A kernel thread's command line is always empty: it stands in for it."""
    empty = next(
        pid
        for pid in sorted(int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
        if pids.alive(pid) and not pids.command_line(pid) and pids.start_time(pid) is not None
    )
    pid_file = tmp_path / "api.pid"
    pid_file.write_text(pids.record(empty))
    assert pids.running(pid_file, expect="serve api") == empty


def test_spawn_detached_runs_in_its_own_session_with_its_output_in_the_log(
    tmp_path: Path,
) -> None:
    log, pid_file = tmp_path / "part.log", tmp_path / "part.pid"
    script = 'echo "out $HOTLINE_TEST_WORD"; echo err >&2; read x; echo "in [$x]"'
    for word in ("one", "two"):
        pid = pids.spawn_detached(
            ["/bin/sh", "-c", script], {"HOTLINE_TEST_WORD": word}, log, pid_file
        )
        session = os.getsid(pid)
        os.waitpid(pid, 0)
        assert session == pid  # a session of its own: it outlives its starter's terminal
        assert pid_file.read_text().split()[0] == str(pid)
    # Both runs' output appended, stdin empty; the log readable by its owner only.
    assert log.read_text() == "out one\nerr\nin []\nout two\nerr\nin []\n"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
