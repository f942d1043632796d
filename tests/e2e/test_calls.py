"""End to end: SIPp dials the real Asterisk; the database must know every call and recording."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import socket
import subprocess
import wave
from pathlib import Path

import pytest

from core.waiting import wait_for
from hotline import processes
from ivr import asterisk_process, call_store, prompts
from ivr.models import Call, CallbackRequest
from recordings.store import sha256_file
from tests.audio_checks import best_correlation, read_channels, rms, to_8k_mono, tone_ratio
from tests.conftest import SAMPLES
from tests.e2e.conftest import Hotline

pytestmark = pytest.mark.asterisk

CLIP = SAMPLES / "magicdata_cs_insurance_000012.wav"  # 6.76 s
SHORT_CLIP = SAMPLES / "aishell2_IT0011W0001.wav"  # 1.99 s


def clip_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as handle:
        return handle.getnframes() / handle.getframerate()


def spool_files(hotline: Hotline) -> list[Path]:
    return sorted(hotline.settings.spool_dir.glob("*/*.wav"))


def stored_path(hotline: Hotline, relative: str) -> Path:
    return hotline.settings.recordings_dir / relative


def test_no_operator_leaves_a_message_with_a_verified_recording(
    hotline: Hotline, tmp_path: Path
) -> None:
    caller = "13900000001"
    result = hotline.dial(
        CLIP, caller, caller_name="李四", wait_seconds=hotline.notice_seconds + 0.3
    )
    assert result.sipp_exit == 0, result.output

    call = hotline.wait_call(caller)
    assert call.outcome == "message_left"
    assert call.caller_name == "李四"
    assert call.dialled_number == "12345"
    assert call.notice_finished_at is not None and call.recording_started_at is not None
    assert call.started_at < call.notice_finished_at <= call.recording_started_at
    assert call.message_started_at is not None
    assert call.ended_at is not None and call.ended_at > call.message_started_at

    recording = hotline.recording_of(call)
    assert recording is not None
    path = stored_path(hotline, recording.path)
    assert sha256_file(path) == recording.sha256
    assert (recording.sample_rate, recording.channels) == (8000, 2)
    assert abs(recording.duration_seconds - clip_seconds(CLIP)) < 1.0

    samples, _ = read_channels(path)
    caller_side = samples[:, 0]
    assert rms(caller_side) > 300, "the caller's channel is silent"
    reference = to_8k_mono(CLIP, tmp_path / "ref.wav")
    assert best_correlation(caller_side, reference) > 0.9
    assert not spool_files(hotline), "the spool must be empty once recordings are stored"


def test_operator_answers_and_each_side_has_its_own_channel(
    hotline: Hotline, tmp_path: Path
) -> None:
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
    caller = "13900000002"
    with hotline.operator_phone("8001", tone):
        result = hotline.dial(
            CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3, extra_seconds=3
        )
    assert result.sipp_exit == 0, result.output

    call = hotline.wait_call(caller)
    assert call.outcome == "answered"
    assert call.operator == "8001"
    assert call.queued_at is not None and call.answered_at is not None
    assert call.queued_at <= call.answered_at
    assert call.message_started_at is None

    recording = hotline.recording_of(call)
    assert recording is not None and call.recording_started_at is not None
    samples, rate = read_channels(stored_path(hotline, recording.path))
    offset = int((call.answered_at - call.recording_started_at).total_seconds() * rate) + rate
    caller_side, operator_side = samples[offset:, 0], samples[offset:, 1]
    assert tone_ratio(operator_side, rate, 1000) > 0.8, "operator audio not on the right"
    assert tone_ratio(caller_side, rate, 1000) < 0.1, "operator audio leaked into the left"
    reference = to_8k_mono(CLIP, tmp_path / "ref.wav")
    assert best_correlation(samples[:, 0], reference) > 0.9


def test_caller_hanging_up_in_the_queue_is_abandoned_and_put_on_the_callback_list(
    hotline: Hotline,
) -> None:
    caller = "13900000003"
    with hotline.operator_phone("8002", None, answer=False):
        result = hotline.dial(
            SHORT_CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3, extra_seconds=3
        )
    assert result.sipp_exit == 0, result.output

    call = hotline.wait_call(caller)
    assert call.outcome == "abandoned"
    assert call.queued_at is not None and call.answered_at is None
    assert hotline.recording_of(call) is not None
    with hotline.sessions() as session:
        callback = session.query(CallbackRequest).filter_by(call_id=call.id).one()
    assert callback.status == "pending"


def test_hanging_up_during_the_notice_is_logged_without_a_recording(hotline: Hotline) -> None:
    caller = "13900000004"
    result = hotline.dial(SHORT_CLIP, caller, wait_seconds=0)
    assert result.sipp_exit == 0, result.output

    call = hotline.wait_call(caller)
    assert call.outcome == "hung_up_during_notice"
    assert call.notice_finished_at is None
    assert hotline.recording_of(call) is None and call.spool_path is None
    assert call.ended_at is not None
    assert (call.ended_at - call.started_at).total_seconds() < hotline.notice_seconds


def test_asterisk_restart_during_a_call_logs_it_failed_and_keeps_the_partial_recording(
    hotline: Hotline,
) -> None:
    caller = "13900000005"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        dialling = pool.submit(
            hotline.dial,
            CLIP,
            caller,
            timeout=60,
            wait_seconds=hotline.notice_seconds + 0.3,
            extra_seconds=30,
        )

        def recording_under_way() -> bool:
            with hotline.sessions() as session:
                call = call_store.latest_call_from(
                    session, caller, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
                )
                if call is None or call.spool_path is None:
                    return False
                spool = Path(call.spool_path)
                return spool.exists() and spool.stat().st_size > 44 + 8000 * 4 * 2

        wait_for(recording_under_way, 60, "the call's recording to be under way")
        asterisk_process.kill_hard(hotline.dirs)
        asterisk_process.start(hotline.install, hotline.dirs, hotline.settings.data_dir)
        dialling.result(timeout=120)

    call = hotline.wait_call(caller, timeout=60)
    assert call.outcome == "failed"
    assert call.failure_reason and "Asterisk restarted" in call.failure_reason
    recording = hotline.recording_of(call)
    assert recording is not None, "the partial recording must be kept and linked"
    assert recording.status == "partial"
    path = stored_path(hotline, recording.path)
    assert sha256_file(path) == recording.sha256
    assert recording.duration_seconds >= 2.0
    samples, _ = read_channels(path)
    assert rms(samples[:, 0]) > 300
    wait_for(lambda: processes.ivr_status(hotline.settings).get("ami"), 30, "AMI to reconnect")


def test_unknown_number_is_rejected_and_not_logged(hotline: Hotline) -> None:
    caller = "13900000006"
    result = hotline.dial(SHORT_CLIP, caller, number="99999", wait_seconds=0)
    assert result.sipp_exit != 0
    assert "404" in result.output
    with hotline.sessions() as session:
        assert session.query(Call).filter_by(caller_number=caller).count() == 0


def test_malformed_sip_does_not_disturb_a_call_in_progress(hotline: Hotline) -> None:
    caller = "13900000007"
    garbage = [
        b"\x00\xff\x10garbage",
        b"INVITE\r\n\r\n",
        b"INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: broken\r\nContent-Length: 99999\r\n\r\n",
        b"SIP/2.0 200 OK\r\nCall-ID: nobody\r\n\r\n",
        ("REGISTER sip:x SIP/2.0\r\nFrom: \u5f20\u4e09\r\n\r\n").encode(),
    ]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        dialling = pool.submit(
            hotline.dial, CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(20):
                for datagram in garbage:
                    sock.sendto(datagram, ("127.0.0.1", hotline.settings.sip_port))
        result = dialling.result(timeout=120)
    assert result.sipp_exit == 0, result.output
    call = hotline.wait_call(caller)
    assert call.outcome == "message_left"
    assert hotline.recording_of(call) is not None


def test_dial_command_prints_the_logged_call_and_calls_lists_it(hotline: Hotline) -> None:
    done = hotline.cli("dial", str(CLIP), "--caller", "13900000008", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["outcome"] == "message_left"
    assert record["recording"]["channels"] == 2
    listed = hotline.cli("calls", "--json")
    assert listed.returncode == 0, listed.stderr
    calls = json.loads(listed.stdout)
    assert calls[0]["id"] == record["id"], "newest first"


def test_dial_refuses_a_file_that_is_not_wav(hotline: Hotline, tmp_path: Path) -> None:
    bogus = tmp_path / "complaint.wav"
    bogus.write_text("这不是音频文件", encoding="utf-8")
    done = hotline.cli("dial", str(bogus))
    assert done.returncode != 0
    assert "not a WAV file" in done.stderr
    missing = hotline.cli("dial", str(tmp_path / "nothing.wav"))
    assert missing.returncode != 0 and "no such file" in missing.stderr


def test_status_reports_every_part(hotline: Hotline) -> None:
    done = hotline.cli("status")
    assert done.returncode == 0, done.stdout + done.stderr
    for part in ("asterisk", "ivr", "api"):
        assert any(line.startswith(part) and " up " in line for line in done.stdout.splitlines())


def test_call_flow_unreachable_still_apologises_and_the_call_is_reconciled(
    hotline: Hotline,
) -> None:
    caller = "13900000009"
    processes.stop_service(hotline.settings, "ivr")
    try:
        result = hotline.dial(SHORT_CLIP, caller, wait_seconds=0, extra_seconds=30)
        assert result.sipp_exit == 0, result.output
    finally:
        processes.start_service(hotline.settings, "ivr")
    call = hotline.wait_call(caller, timeout=60)
    assert call.outcome == "failed"
    assert call.failure_reason and "CDR" in call.failure_reason
    # The hotline, not the caller, ended the call: after the whole apology, long before the
    # caller's 32 s were up.
    assert call.ended_at is not None
    sorry = prompts.duration_seconds(prompts.prompt_path(hotline.settings.sounds_dir, "sorry"))
    assert sorry - 0.5 <= (call.ended_at - call.started_at).total_seconds() < 25


def test_the_first_page_and_the_api_list_real_calls(hotline: Hotline) -> None:
    caller = "13900000010"
    result = hotline.dial(SHORT_CLIP, caller, wait_seconds=hotline.notice_seconds + 0.3)
    assert result.sipp_exit == 0, result.output
    logged = hotline.wait_call(caller)
    recording = hotline.recording_of(logged)
    assert recording is not None

    calls = hotline.api_json("/api/calls")
    with_recording = next(c for c in calls if c["id"] == logged.id)
    assert with_recording["recording"]["sha256"] == recording.sha256
    page = hotline.api_get("/calls")[1].decode()
    assert with_recording["caller_number"] in page
    assert f"/api/recordings/{with_recording['recording']['id']}/audio" in page
    status, audio = hotline.api_get(
        f"/api/recordings/{with_recording['recording']['id']}/audio",
        headers={"Range": "bytes=0-43"},
    )
    assert status == 206 and audio[:4] == b"RIFF" and len(audio) == 44
