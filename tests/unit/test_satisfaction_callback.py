"""The satisfaction call-back's pure parts: what the citizen hears, the AMI Originate and how
its answer is read, the citizen phone's SIPp scenario, the settings."""

from __future__ import annotations

import struct
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pydantic
import pytest

from core.settings import Settings
from dispatch.feedback import callback_prompts as sp
from dispatch.feedback.callback_dialer import DialerConfig, originate_action, originate_outcome
from dispatch.feedback.callbacks import DueCall
from phones.citizen import Behaviour, citizen_scenario, dtmf_packets, dtmf_pcap


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        ("TS202611210001", "T S，二零二六，一一二一，零零零一"),
        ("ts20261121-0001", "T S，二零二六，一一二一，零零零一"),
        ("XF2026000123", "X F，二零二六，零零零一，二三"),
        ("20261121", "二零二六，一一二一"),
        ("TS", "T S"),
    ],
)
def test_the_case_number_is_read_one_character_at_a_time(number: str, spoken: str) -> None:
    assert sp.spoken_case_number(number) == spoken


def test_the_question_names_the_case_and_every_key_in_chinese() -> None:
    text = sp.question_text("TS202611210001")
    assert "工单号T S，二零二六，一一二一，零零零一" in text
    assert sp.key_menu() == "非常满意按一，满意按二，基本满意按三，不满意按四，非常不满意按五"
    assert text.endswith(sp.key_menu() + "。")
    # Arabic digits would be read as quantities (二千零二十六…): none are left.
    assert not any("0" <= ch <= "9" for ch in text)


def test_prompt_files_follow_their_text(tmp_path: Path) -> None:
    first = sp.prompt_file(tmp_path, "caseTS1", "甲")
    assert first.parent == tmp_path / "hotline" / "satisfaction"
    assert sp.prompt_file(tmp_path, "caseTS1", "甲") == first
    assert sp.prompt_file(tmp_path, "caseTS1", "乙") != first
    assert sp.case_stem("TS-2026/../1") == "caseTS20261"
    with pytest.raises(ValueError):
        sp.case_stem("../")


def test_the_question_is_synthesised_once_as_8khz_mono(tmp_path: Path) -> None:
    played = sp.ensure_question(tmp_path, "TS202611210001")
    path = Path(played + ".wav")
    with wave.open(str(path), "rb") as handle:
        assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (8000, 1, 2)
        assert handle.getnframes() > 8000 * 5, "the question takes several seconds"
    made = path.stat().st_mtime_ns
    assert sp.ensure_question(tmp_path, "TS202611210001") == played
    assert path.stat().st_mtime_ns == made
    sp.discard_question(tmp_path, "TS2026112100011")  # another case: untouched
    assert path.exists()
    sp.discard_question(tmp_path, "TS202611210001")
    assert not path.exists()


CONFIG = DialerConfig(
    sounds_dir=Path("/sounds"),
    caller_id="12345",
    ring_seconds=30,
    poll_seconds=5,
    retry_minutes=60,
    max_attempts=3,
)


def test_originate_calls_the_citizen_through_the_trunk_into_the_survey() -> None:
    call = DueCall("c0ffee", "case1", "13800138000", "TS202611210001", 1)
    assert originate_action(call, CONFIG) == {
        "Action": "Originate",
        "Channel": "PJSIP/13800138000@citizens-out",
        "Context": "hotline-satisfaction",
        "Exten": "s",
        "Priority": "1",
        "Timeout": "30000",
        "CallerID": '"12345" <12345>',
        "Variable": "SATISFACTION_CALL_ID=c0ffee",
        "ChannelId": "c0ffee",
        "Async": "true",
    }


@pytest.mark.parametrize("phone", ["138&PJSIP/8001", "sip:1@evil", "1380013800,1"])
def test_originate_never_puts_anything_but_digits_in_the_dial_string(phone: str) -> None:
    with pytest.raises(ValueError):
        originate_action(DueCall("c", "case1", phone, "TS1", 1), CONFIG)


QUEUED = {"Response": "Success", "Message": "Originate successfully queued"}


@pytest.mark.parametrize(
    ("reason", "cause", "text"),
    [
        ("0", 17, "busy"),  # what a SIP 486 gives
        ("3", 16, "no answer"),
        ("1", 21, "rejected"),
        ("8", 34, "congestion or unreachable"),
        ("0", 99, "could not be dialled (cause 99)"),
    ],
)
def test_the_hangup_cause_says_why_an_originate_failed(reason: str, cause: int, text: str) -> None:
    event = {"Event": "OriginateResponse", "Response": "Failure", "Reason": reason}
    assert originate_outcome([QUEUED, event], cause).reason == text


@pytest.mark.parametrize(
    ("reason", "answered", "text"),
    [
        ("4", True, "answered"),
        ("3", False, "no answer"),
        ("5", False, "busy"),
        ("8", False, "congestion or unreachable"),
        ("1", False, "rejected or hung up before answering"),
        ("0", False, "could not be dialled"),
        ("7", False, "failed (reason 7)"),
    ],
)
def test_originate_response_decides_the_attempt(reason: str, answered: bool, text: str) -> None:
    event = {
        "Event": "OriginateResponse",
        "Response": "Success" if answered else "Failure",
        "Reason": reason,
    }
    outcome = originate_outcome([QUEUED, event])
    assert (outcome.answered, outcome.reason) == (answered, text)


def test_a_refused_originate_is_a_failed_attempt() -> None:
    outcome = originate_outcome({"Response": "Error", "Message": "Permission denied"})
    assert not outcome.answered
    assert outcome.reason == "originate refused: Permission denied"


def test_citizen_scenarios_are_valid_sipp_xml(tmp_path: Path) -> None:
    answer = citizen_scenario(Behaviour.ANSWER, keys=[(2.5, "7"), (3.0, "2")], pcap_dir=tmp_path)
    root = ET.fromstring(answer)
    plays = [e.get("play_pcap_audio") for e in root.iter("exec")]
    assert plays == [str(tmp_path / "key0.pcap"), str(tmp_path / "key1.pcap")]
    assert all(Path(str(p)).stat().st_size > 24 for p in plays)
    assert 'timeout="2500" ontimeout="key0"' in answer
    assert "a=rtpmap:101 telephone-event/8000" in answer
    busy = ET.fromstring(citizen_scenario(Behaviour.BUSY))
    assert "486 Busy Here" in "".join(busy.itertext())
    ring = ET.fromstring(citizen_scenario(Behaviour.RING))
    assert [e.get("request") for e in ring.iter("recv")] == ["INVITE", "CANCEL", "ACK"]


def rtp_fields(packet: bytes) -> tuple[int, bool, int, int, int, bool, int]:
    """(payload type, marker, sequence, timestamp, event, end, duration)."""
    marker_pt, sequence, timestamp = packet[1], *struct.unpack(">HI", packet[2:8])
    event, flags, duration = struct.unpack(">BBH", packet[12:16])
    return (
        marker_pt & 0x7F,
        bool(marker_pt & 0x80),
        sequence,
        timestamp,
        event,
        bool(flags & 0x80),
        duration,
    )


def test_key_presses_are_rfc2833_events_each_later_than_the_last() -> None:
    first = [rtp_fields(p) for p in dtmf_packets("7", 0)]
    assert {f[0] for f in first} == {101}
    assert [f[1] for f in first] == [True] + [False] * (len(first) - 1)
    assert {f[4] for f in first} == {7}
    assert [f[5] for f in first][-4:] == [False, True, True, True]
    assert len({f[3] for f in first}) == 1, "one event, one timestamp"
    durations = [f[6] for f in first]
    assert durations == sorted(durations) and durations[-1] == 1280  # 160 ms at 8 kHz
    second = [rtp_fields(p) for p in dtmf_packets("#", 1)]
    assert {f[4] for f in second} == {11}
    # Asterisk drops an event that is not after the last one: the clock moves on.
    assert second[0][3] > first[0][3] and second[0][2] > first[-1][2]


def test_the_key_capture_is_a_pcap_of_udp_frames(tmp_path: Path) -> None:
    data = dtmf_pcap("2", 0, tmp_path / "k.pcap").read_bytes()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    assert (magic, link) == (0xA1B2C3D4, 1)  # microseconds, Ethernet
    frame = data[24 + 16 :]
    assert frame[12:14] == b"\x08\x00" and frame[14] == 0x45 and frame[23] == 17  # IPv4, UDP
    assert rtp_fields(frame[42:])[4] == 2


def test_the_outbound_target_is_a_host_and_port_only(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).outbound_sip_target == ""
    assert Settings(
        data_dir=tmp_path, outbound_sip_target="trunk.example.cn:5060"
    ).outbound_sip_target
    for bad in ("1.2.3.4:5060\n[evil]", "sip:1.2.3.4", "a b", "host:port"):
        with pytest.raises(pydantic.ValidationError):
            Settings(data_dir=tmp_path, outbound_sip_target=bad)
