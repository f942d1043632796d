"""End to end: each part of the hotline (the API, a transcription worker, the transcription
pool, the ivr service, Asterisk) is killed with SIGKILL in the middle of a burst of real SIPp
calls and brought back as an operator would. Afterwards every call Asterisk saw is in the
database with a truthful outcome, every recording is stored and verified, nothing is left in
the spool, and no process survives ``hotline down``.

The burst comes in two waves: the first is in the middle of its messages when the part is
killed, the second rings in while the part is down. The table of results is printed and
written to ``test-artifacts/fault-table.md``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from asr.models import JobStatus, TranscriptionJob
from core import pids
from core.settings import PROJECT_ROOT
from core.waiting import wait_for
from hotline import processes
from ivr import asterisk_process, cdr
from ivr.call_state import Outcome
from ivr.call_store import is_settled
from ivr.models import Call, CallbackRequest
from phones.sipp import DialError, DialResult
from recordings import lookup
from recordings.models import Recording
from recordings.store import sha256_file
from tests.conftest import SAMPLES
from tests.e2e.conftest import Hotline, start_hotline

pytestmark = pytest.mark.asterisk

CLIP = SAMPLES / "aishell2_IT0011W0001.wav"  # 1.99 s: short messages, quick to transcribe
FIRST_WAVE, SECOND_WAVE = 6, 6
TABLE = PROJECT_ROOT / "test-artifacts" / "fault-table.md"
WORKERS = 2


@dataclass
class Row:
    part: str
    placed: int = 0
    seen_by_asterisk: int = 0
    recorded: int = 0
    failed_on_callback_list: int = 0
    recordings: int = 0
    verified: int = 0
    result: str = "did not finish"
    phases: str = ""

    def line(self) -> str:
        return (
            f"| {self.part} | {self.placed} | {self.seen_by_asterisk} | {self.recorded} | "
            f"{self.failed_on_callback_list} | {self.verified}/{self.recordings} | "
            f"{self.result} | {self.phases} |"
        )


HEADER = (
    "| part killed | calls placed | calls Asterisk saw | calls recorded | failed, on the "
    "callback list | recordings verified | result | seconds |\n"
    "|---|---|---|---|---|---|---|---|"
)


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest) -> Iterator[list[Row]]:
    """The rows of the table, printed (past pytest's capture) and written when all are in."""
    rows: list[Row] = []
    yield rows
    write_table(rows)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + TABLE.read_text(), flush=True)  # noqa: T201 (the table is the result)


def write_table(rows: list[Row]) -> None:
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text(
        f"Fault test ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC): each part "
        f"killed with SIGKILL during {FIRST_WAVE + SECOND_WAVE} real SIPp calls "
        f"({FIRST_WAVE} in their messages at the kill, {SECOND_WAVE} placed while "
        f"it was down), then brought back.\n\n{HEADER}\n"
        + "".join(row.line() + "\n" for row in rows)
    )


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """A hotline of its own (its parts are killed): two transcription workers, short leases so
    a killed worker's job is taken up again within the test."""
    instance = start_hotline(
        tmp_path_factory.mktemp("faults-data"),
        rtp_base=28400,
        asr_workers=WORKERS,
        asr_lease_seconds=6,
        asr_retry_seconds=1,
    )
    try:
        yield instance
    finally:
        instance.close()


# --- the burst ----------------------------------------------------------------------------


def caller_ports(count: int) -> list[tuple[int, int]]:
    """(signalling port, first of 4 media ports) for ``count`` callers, all distinct and free:
    every port is held until all are chosen, so simultaneous SIPp callers never share one."""
    held: list[socket.socket] = []

    def hold(base: int, size: int) -> bool:
        block = []
        try:
            for port in range(base, base + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                block.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            for sock in block:
                sock.close()
            return False
        held.extend(block)
        return True

    def any_port() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    chosen: list[tuple[int, int]] = []
    try:
        while len(chosen) < count:
            signalling, media = any_port(), any_port() & ~3
            if hold(signalling, 1):
                if hold(media, 4):
                    chosen.append((signalling, media))
                else:
                    held.pop().close()
    finally:
        for sock in held:
            sock.close()
    return chosen


class Burst:
    """Real SIPp callers, each leaving a message; callers are numbered per scenario."""

    def __init__(self, hotline: Hotline, prefix: str) -> None:
        self.hotline = hotline
        self.prefix = prefix
        self.callers: list[str] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(FIRST_WAVE + SECOND_WAVE)
        self.dialling: list[concurrent.futures.Future[DialResult]] = []
        self.started = dt.datetime.now(dt.UTC)

    def wave(self, count: int) -> list[str]:
        notice = self.hotline.notice_seconds
        ports = caller_ports(count)
        callers = []
        for index in range(count):
            caller = f"{self.prefix}{len(self.callers):06d}"
            self.callers.append(caller)
            callers.append(caller)
            # Staggered ends: the callers speak after slightly different pauses (each shorter
            # than the silence that ends a message).
            self.dialling.append(
                self.pool.submit(
                    self.hotline.dial,
                    CLIP,
                    caller,
                    wait_seconds=notice + 0.3 + (index % 4) * 0.4,
                    extra_seconds=(index % 3) * 0.5,
                    timeout=90,
                    signal_port=ports[index][0],
                    media_port=ports[index][1],
                )
            )
        return callers

    def calls(self) -> list[Call]:
        with self.hotline.sessions() as session:
            return list(session.scalars(select(Call).where(Call.caller_number.in_(self.callers))))

    def in_message(self, callers: list[str], at_least: int) -> bool:
        with self.hotline.sessions() as session:
            calls = session.scalars(
                select(Call).where(
                    Call.caller_number.in_(callers),
                    Call.message_started_at.is_not(None),
                    Call.ended_at.is_(None),
                )
            ).all()
        return len(calls) >= at_least

    def finish(self) -> list[DialResult | Exception]:
        results: list[DialResult | Exception] = []
        for future in self.dialling:
            try:
                results.append(future.result(timeout=180))
            except DialError as exc:
                results.append(exc)
        self.pool.shutdown()
        return results


# --- killing and bringing back --------------------------------------------------------------


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # a service this process started: reap it
        return not pids.alive(pid)

    wait_for(gone, 15, f"pid {pid} to die", 0.05)


def service(hotline: Hotline, name: str) -> int:
    pid = processes.service_pid(hotline.settings, name)
    assert pid is not None, f"{name} is not running"
    return pid


def busy_worker(hotline: Hotline) -> int:
    """The pid of a worker in the middle of a job."""

    def busy() -> int | None:
        for worker in processes.asr_workers(hotline.settings):
            if worker["state"] == "busy" and isinstance(worker["pid"], int):
                return worker["pid"]
        return None

    return wait_for(busy, 90, "a transcription worker to be busy", 0.05)


def worker_processes(hotline: Hotline) -> list[int]:
    return [
        pid
        for pid in hotline_processes(hotline)
        if "serve asr-worker" in " ".join(pids.command_line(pid))
    ]


def hotline_processes(hotline: Hotline) -> list[int]:
    """Every live process started for this data folder (services, pool, workers)."""
    data_dir = str(hotline.settings.data_dir)
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if (
                pids.environment(pid).get("HOTLINE_DATA_DIR") == data_dir
                and "hotline" in " ".join(pids.command_line(pid))
                and pids.alive(pid)
            ):
                found.append(pid)
    return found


def operator_up(hotline: Hotline) -> None:
    done = hotline.cli("up", "--timeout", "90")
    assert done.returncode == 0, f"hotline up failed: {done.stdout}{done.stderr[-3000:]}"


def all_up(hotline: Hotline) -> bool:
    parts = processes.status(hotline.settings, hotline.install)
    return all(part.running for part in parts)


# --- what must hold afterwards --------------------------------------------------------------


def check_burst(
    hotline: Hotline,
    burst: Burst,
    row: Row,
    killed_at: dt.datetime,
    cut_by_the_kill: bool,
    results: list[DialResult | Exception],
    phase: Callable[[str], None],
) -> None:
    """Every call Asterisk saw is settled in the database with a truthful outcome; every
    recording is stored, verified and transcribed; nothing of the burst is left in the spool."""
    row.placed = len(burst.callers)
    ours = set(burst.callers)

    def asterisk_records() -> dict[str, cdr.CdrRecord]:
        return {
            uid: record
            for uid, record in cdr.read(hotline.dirs.cdr_csv).items()
            if record.src in ours
        }

    def left_in_the_spool() -> list[Path]:
        return [
            p
            for p in hotline.settings.spool_dir.glob("*/*.wav")
            if p.stat().st_mtime >= burst.started.timestamp()
        ]

    def settled() -> list[Call] | None:
        calls = burst.calls()
        known = {call.asterisk_uniqueid for call in calls}
        if not set(asterisk_records()) <= known or left_in_the_spool():
            return None
        return calls if calls and all(is_settled(call) for call in calls) else None

    try:
        calls = wait_for(settled, 120, "every call Asterisk saw to be settled in the database", 0.5)
    finally:
        records = asterisk_records()
        current = burst.calls()
        row.seen_by_asterisk = len(records.keys() | {c.asterisk_uniqueid for c in current})
        row.recorded = len(current)
        phase("settled")
    missing = set(records) - {call.asterisk_uniqueid for call in calls}
    assert not missing, f"calls in Asterisk's CDR missing from the database: {missing}"
    if not cut_by_the_kill:
        # nothing was down on the calls' path: every call got through
        stored = {call.caller_number for call in calls}
        problems = {
            caller: result
            for caller, result in zip(burst.callers, results, strict=True)
            if caller not in stored or not isinstance(result, DialResult) or result.sipp_exit != 0
        }
        assert problems == {}, {
            caller: result if isinstance(result, Exception) else result.output[-800:]
            for caller, result in problems.items()
        }

    with hotline.sessions() as session:
        on_list = set(session.scalars(select(CallbackRequest.call_id)))
        recording_of = lookup.of_calls(session, [call.id for call in calls])
    untruthful: list[tuple[object, ...]] = []
    for call in calls:
        overlapped = call.started_at <= killed_at <= (call.ended_at or killed_at)
        if call.outcome == Outcome.FAILED:
            if not call.failure_reason or call.id not in on_list:
                untruthful.append((call.caller_number, "failed without reason or call-back"))
        elif call.outcome != Outcome.MESSAGE_LEFT:
            # Every caller waits past the notice and speaks: nothing else is the truth.
            untruthful.append((call.caller_number, call.outcome, call.failure_reason))
        elif cut_by_the_kill and overlapped:
            untruthful.append((call.caller_number, "cut by the kill, stored as message_left"))
        elif call.id not in recording_of or recording_of[call.id].status != "complete":
            untruthful.append((call.caller_number, "message_left without a complete recording"))
    row.failed_on_callback_list = sum(
        1 for call in calls if call.outcome == Outcome.FAILED and call.id in on_list
    )

    with hotline.sessions() as session:
        recordings = session.scalars(
            select(Recording).join(Call).where(Call.caller_number.in_(burst.callers))
        ).all()
        row.recordings = len(recordings)
        row.verified = sum(
            1
            for r in recordings
            if sha256_file(hotline.settings.recordings_dir / r.path) == r.sha256
        )
    unrecorded = [
        call.caller_number
        for call in calls
        if call.recording_started_at is not None and call.id not in recording_of
    ]
    left_in_spool = [
        call.spool_path for call in calls if call.spool_path and Path(call.spool_path).exists()
    ]

    assert untruthful == [], untruthful
    assert unrecorded == [], f"messages begun but no recording stored: {unrecorded}"
    assert row.verified == row.recordings
    assert left_in_spool == []
    assert left_in_the_spool() == []
    verify = hotline.cli("recordings", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    phase("verified")

    recording_ids = [r.id for r in recordings]

    def transcribed() -> bool:
        with hotline.sessions() as session:
            states = session.scalars(
                select(TranscriptionJob.status).where(
                    TranscriptionJob.recording_id.in_(recording_ids)
                )
            ).all()
        return len(states) == len(recording_ids) and set(states) <= {JobStatus.DONE}

    wait_for(transcribed, 180, "every recording of the burst to be transcribed", 0.5)
    phase("transcribed")


# --- the scenarios ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    part: str
    prefix: str
    kill: Callable[[Hotline], None]
    cut_calls: bool  # the calls in progress die with the part


def kill_api(hotline: Hotline) -> None:
    kill(service(hotline, "api"))


def kill_a_worker(hotline: Hotline) -> None:
    kill(busy_worker(hotline))


def kill_the_pool(hotline: Hotline) -> None:
    busy_worker(hotline)
    kill(service(hotline, "asr"))


def kill_ivr(hotline: Hotline) -> None:
    kill(service(hotline, "ivr"))


def kill_asterisk(hotline: Hotline) -> None:
    asterisk_process.kill_hard(hotline.dirs)


SCENARIOS = [
    Scenario("api", "1360", kill_api, cut_calls=False),
    Scenario("an asr worker", "1361", kill_a_worker, cut_calls=False),
    Scenario("the asr pool", "1362", kill_the_pool, cut_calls=False),
    Scenario("ivr", "1363", kill_ivr, cut_calls=True),
    Scenario("Asterisk", "1364", kill_asterisk, cut_calls=True),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.part for s in SCENARIOS])
def test_killing_a_part_mid_burst_loses_nothing(
    hotline: Hotline, table: list[Row], scenario: Scenario
) -> None:
    row = Row(scenario.part)
    table.append(row)
    began = time.monotonic()

    def phase(name: str) -> None:
        row.phases += f"{name} {time.monotonic() - began:.0f}; "

    try:
        wait_for(lambda: all_up(hotline), 90, "every part to be up before the burst")
        burst = Burst(hotline, scenario.prefix)
        first = burst.wave(FIRST_WAVE)
        wait_for(
            lambda: burst.in_message(first, FIRST_WAVE // 2),
            60,
            "half the first wave to be leaving messages",
            0.05,
        )
        scenario.kill(hotline)
        killed_at = dt.datetime.now(dt.UTC)
        phase("killed")
        burst.wave(SECOND_WAVE)
        if scenario.part == "an asr worker":
            # The pool restarts its worker by itself; the operator does nothing.
            wait_for(
                lambda: len(processes.asr_workers(hotline.settings)) == WORKERS,
                60,
                "the pool to restart the worker",
            )
        else:
            operator_up(hotline)
        phase("back")
        results = burst.finish()
        phase("calls over")
        wait_for(lambda: all_up(hotline), 90, "every part to be up again")
        wait_for(
            lambda: len(worker_processes(hotline)) == WORKERS,
            60,
            f"exactly {WORKERS} transcription workers (none left by an earlier pool)",
        )
        check_burst(hotline, burst, row, killed_at, scenario.cut_calls, results, phase)
        row.result = "pass"
    except BaseException as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()] or [""]
        row.result = f"FAIL: {type(exc).__name__}: {lines[0][:120]} … {lines[-1][-160:]}"
        raise
    finally:
        write_table(table)


def test_nothing_survives_hotline_down(hotline: Hotline, table: list[Row]) -> None:
    assert hotline_processes(hotline), "the hotline runs before it is stopped"
    done = hotline.cli("down")
    assert done.returncode == 0, done.stdout + done.stderr
    assert hotline_processes(hotline) == []
    assert asterisk_process.read_pid(hotline.dirs) is None
    assert processes.asr_workers(hotline.settings) == []
    assert list(hotline.settings.spool_dir.glob("*/*.wav")) == []
