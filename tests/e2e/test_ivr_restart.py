"""End to end: the ivr service dies (kill -9) mid-call and comes back. Real Asterisk, real
SIPp callers; every call must be in the database, failed with its reason, on the callback
list, and every caller must hear the apology from the dialplan itself."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core import pids
from core.secrets import load as load_secrets
from core.waiting import wait_for
from hotline import processes
from ivr import asterisk_process, cdr, prompts
from ivr.models import Call, CallbackRequest
from phones.sipp import DialResult, Earpiece, OperatorPhone
from tests.audio_checks import best_correlation, read_channels, rms, to_8k_mono, tone_ratio
from tests.conftest import SAMPLES
from tests.e2e.conftest import Hotline, start_hotline

pytestmark = pytest.mark.asterisk

CLIP = SAMPLES / "magicdata_cs_insurance_000012.wav"  # 6.76 s
SHORT_CLIP = SAMPLES / "aishell2_IT0011W0001.wav"  # 1.99 s


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """A hotline of its own: these tests kill its ivr service."""
    instance = start_hotline(tmp_path_factory.mktemp("restart-data"), rtp_base=26200)
    try:
        yield instance
    finally:
        instance.close()


def call_of(hotline: Hotline, caller: str) -> Call | None:
    with hotline.sessions() as session:
        return session.scalar(select(Call).where(Call.caller_number == caller))


def wait_for_call(hotline: Hotline, caller: str, timeout: float = 30) -> Call:
    def seen() -> Call | None:
        return call_of(hotline, caller)

    return wait_for(seen, timeout, f"call from {caller} in the database")


def kill_ivr(hotline: Hotline) -> None:
    pid = processes.service_pid(hotline.settings, "ivr")
    assert pid is not None, "the ivr service is not running"
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # started by this process: reap it
    wait_for(lambda: not pids.alive(pid), 10, "the ivr service to die")


def heard_apology(heard: Path, sorry: Path, tmp_path: Path) -> float:
    samples, _ = read_channels(heard)
    return best_correlation(samples[:, 0], to_8k_mono(sorry, tmp_path / "sorry-8k.wav"))


def test_an_ivr_crash_mid_call_apologises_and_records_every_call_as_failed(
    hotline: Hotline, tmp_path: Path
) -> None:
    """A is leaving a message and B is in the notice when ivr dies; E calls and hangs up
    while it is down (Asterisk's CDR alone knows E); C calls while it is down and is still
    hearing the apology when ivr is back (Asterisk alone knows C, and only while it lasts)."""
    notice = hotline.notice_seconds
    sorry = prompts.prompt_path(hotline.settings.sounds_dir, "sorry")
    callers = {"A": "13700000001", "B": "13700000002", "C": "13700000003", "E": "13700000005"}
    with (
        concurrent.futures.ThreadPoolExecutor(4) as pool,
        Earpiece() as ear_b,
        Earpiece() as ear_c,
        Earpiece() as ear_e,
    ):
        # A leaves a message (no operator is registered: the queue is empty at once).
        a = pool.submit(
            hotline.dial, CLIP, callers["A"], wait_seconds=notice + 0.3, extra_seconds=30
        )
        wait_for(
            lambda: (
                (c := call_of(hotline, callers["A"])) is not None
                and c.message_started_at is not None
            ),
            notice + 20,
            "A's message to start",
        )
        # B stays silent and listens: it is still in the notice when ivr dies.
        b = pool.submit(
            hotline.dial, SHORT_CLIP, callers["B"], wait_seconds=120, hear_port=ear_b.port
        )
        assert wait_for_call(hotline, callers["B"]).notice_finished_at is None
        kill_ivr(hotline)
        killed_at = dt.datetime.now(dt.UTC)
        e_result = hotline.dial(
            SHORT_CLIP, callers["E"], wait_seconds=120, hear_port=ear_e.port, timeout=60
        )
        assert e_result.sipp_exit == 0, e_result.output
        e_ended = dt.datetime.now(dt.UTC)
        c = pool.submit(
            hotline.dial, SHORT_CLIP, callers["C"], wait_seconds=120, hear_port=ear_c.port
        )
        wait_for(lambda: ear_c.seconds_heard() > 0.5, 30, "C to hear the apology")
        processes.up(hotline.settings, hotline.install, timeout=90)
        for future in (a, b, c):
            result = future.result(timeout=120)
            assert result.sipp_exit == 0, result.output
        heard = {name: tmp_path / f"{name}.wav" for name in "BCE"}
        ear_b.save(heard["B"])
        ear_c.save(heard["C"])
        ear_e.save(heard["E"])

    calls = {name: hotline.wait_call(number, timeout=60) for name, number in callers.items()}
    for name, call in calls.items():
        assert call.outcome == "failed", (name, call.outcome, call.failure_reason)
        assert call.failure_reason and re.search(r"call flow", call.failure_reason), (
            name,
            call.failure_reason,
        )
        assert call.ended_at is not None and call.started_at < call.ended_at
    assert calls["A"].message_started_at is not None
    assert calls["B"].notice_finished_at is None
    for name in "CE":  # true times, from Asterisk, though ivr saw neither call begin
        assert calls[name].started_at >= killed_at - dt.timedelta(seconds=2), name
    assert calls["E"].ended_at is not None
    assert calls["E"].ended_at <= e_ended + dt.timedelta(seconds=2)
    records = {r.uniqueid: r for r in cdr.read(hotline.dirs.cdr_csv).values()}
    for name, call in calls.items():  # Asterisk's times, whichever way ivr learnt them
        record = records[call.asterisk_uniqueid]
        assert abs((call.started_at - record.start).total_seconds()) <= 2, name
        assert call.ended_at is not None
        assert abs((call.ended_at - record.end).total_seconds()) <= 2, name
    with hotline.sessions() as session:
        on_list = set(session.scalars(select(CallbackRequest.call_id)))
    assert {c.id for c in calls.values()} <= on_list, "every failed call is to be called back"
    log = (hotline.settings.log_dir / "ivr.log").read_text(errors="replace")
    assert "has no start time" not in log

    # Every caller heard the apology: B, C and E at their phones, A in the recording's
    # right channel (what the caller hears).
    for name in "BCE":
        assert heard_apology(heard[name], sorry, tmp_path) > 0.6, name
    recording = hotline.recording_of(calls["A"])
    assert recording is not None
    samples, _ = read_channels(hotline.settings.recordings_dir / recording.path)
    assert rms(samples[:, 0]) > 300, "the message itself is kept"
    assert best_correlation(samples[:, 1], to_8k_mono(sorry, tmp_path / "s.wav")) > 0.6


def test_a_burst_of_calls_across_an_ivr_restart_loses_none(
    hotline: Hotline, tmp_path: Path
) -> None:
    """Eight calls in the notice when ivr dies, eight more while it is down, still hearing
    the apology when it is back: every call Asterisk's CDR has is in the database, with
    Asterisk's times, failed, on the callback list, and each caller heard the apology."""
    sorry = prompts.prompt_path(hotline.settings.sounds_dir, "sorry")
    before = [f"1360000{n:04d}" for n in range(8)]
    during = [f"1360001{n:04d}" for n in range(8)]
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(16))
        ears = {number: stack.enter_context(Earpiece()) for number in before + during}

        def dial(number: str) -> concurrent.futures.Future[DialResult]:
            return pool.submit(
                hotline.dial, SHORT_CLIP, number, wait_seconds=120, hear_port=ears[number].port
            )

        futures = [dial(number) for number in before]
        for number in before:
            wait_for_call(hotline, number)
        kill_ivr(hotline)
        futures += [dial(number) for number in during]
        wait_for(
            lambda: all(ears[n].seconds_heard() > 0.3 for n in during),
            60,
            "every caller to be answered while ivr is down",
        )
        processes.up(hotline.settings, hotline.install, timeout=90)
        for future in futures:
            result = future.result(timeout=120)
            assert result.sipp_exit == 0, result.output
        heard = {}
        for number, ear in ears.items():
            heard[number] = tmp_path / f"{number}.wav"
            ear.save(heard[number])

    calls = {number: hotline.wait_call(number, timeout=60) for number in before + during}
    records = {r.src: r for r in cdr.read(hotline.dirs.cdr_csv).values() if r.src in calls}
    assert set(records) == set(calls), "every call the CDR has is in the database"
    with hotline.sessions() as session:
        on_list = set(session.scalars(select(CallbackRequest.call_id)))
    for number, call in calls.items():
        record = records[number]
        assert call.asterisk_uniqueid == record.uniqueid
        assert (call.outcome, bool(call.failure_reason)) == ("failed", True), (number, call.outcome)
        assert abs((call.started_at - record.start).total_seconds()) <= 2, number
        assert call.ended_at is not None
        assert abs((call.ended_at - record.end).total_seconds()) <= 2, number
        assert call.id in on_list, number
        assert heard_apology(heard[number], sorry, tmp_path) > 0.6, number
    log = (hotline.settings.log_dir / "ivr.log").read_text(errors="replace")
    assert "has no start time" not in log


def asterisk_udp_sockets(hotline: Hotline) -> list[tuple[str, int]]:
    """(hex address, port) of every UDP socket the Asterisk process holds."""
    pid = asterisk_process.read_pid(hotline.dirs)
    assert pid is not None, "Asterisk is not running"
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                address, port = fields[1].rsplit(":", 1)
                found.append((address, int(port, 16)))
    return found


def test_rtp_listens_only_where_sip_does(hotline: Hotline) -> None:
    settings = hotline.settings
    rtp_ports = range(settings.rtp_port_start, settings.rtp_port_end + 1)
    loopback = {"0100007F", "0000000000000000FFFF00000100007F"}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(
            hotline.dial, SHORT_CLIP, "13700000009", wait_seconds=hotline.notice_seconds + 0.3
        )
        media = wait_for(
            lambda: [s for s in asterisk_udp_sockets(hotline) if s[1] in rtp_ports] or None,
            30,
            "Asterisk to open the call's RTP socket",
            0.05,
        )
        assert {address for address, _ in media} <= loopback, media
        assert call.result(timeout=120).sipp_exit == 0


def test_a_call_an_operator_took_gets_no_apology_when_ivr_dies_during_it(
    hotline: Hotline, tmp_path: Path
) -> None:
    """The operator hangs up first while ivr is down: the caller spoke to someone, so the
    dialplan hangs up without an apology, and the call stays answered."""
    tone = tmp_path / "operator.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(tone),
            "synth",
            "30",
            "sine",
            "1000",
            "vol",
            "0.3",
        ],
        check=True,
    )
    caller = "13700000021"
    sorry = prompts.prompt_path(hotline.settings.sounds_dir, "sorry")
    phone = OperatorPhone(
        name="8001",
        sip_host="127.0.0.1",
        sip_port=hotline.settings.sip_port,
        password=load_secrets(hotline.settings.data_dir).operator_password("8001"),
        audio=tone,
        hang_up_after=6,
    )
    with phone, concurrent.futures.ThreadPoolExecutor(1) as pool, Earpiece() as ear:
        dialled = pool.submit(
            hotline.dial, SHORT_CLIP, caller, wait_seconds=120, hear_port=ear.port
        )
        wait_for(
            lambda: (c := call_of(hotline, caller)) is not None and c.answered_at is not None,
            60,
            "the operator to answer",
        )
        kill_ivr(hotline)
        result = dialled.result(timeout=120)
        assert result.sipp_exit == 0, result.output
        processes.up(hotline.settings, hotline.install, timeout=90)
        heard = tmp_path / "heard.wav"
        assert ear.save(heard) > 3
    call = hotline.wait_call(caller, timeout=60)
    assert (call.outcome, call.operator, call.failure_reason) == ("answered", "8001", None)
    assert call.ended_at is not None
    assert (call.ended_at - call.answered_at).total_seconds() < 30  # type: ignore[operator]
    with hotline.sessions() as session:
        assert (
            session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call.id))
            is None
        )
    samples, rate = read_channels(heard)
    assert tone_ratio(samples[:, 0], rate, 1000) > 0.2, "the caller heard the operator"
    assert heard_apology(heard, sorry, tmp_path) < 0.3, "no apology after a conversation"
