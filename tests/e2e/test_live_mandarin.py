"""A Mandarin call transcribed live, end to end: a SIPp caller plays a real Mandarin clip
through real Asterisk, an operator phone answers, `hotline serve asr-live` runs Whisper base
(installed from the PyPI wheels as set-up installs it) on the caller's and the operator's
AudioSocket streams, and the operator's call page in Debian's Chromium shows the caller's words
before the hang-up; the final transcript, made from the live streams, is stored within seconds
of the hang-up."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from asr.channels import CALLER
from asr.live_models import LiveStream, StreamStatus
from asr.metrics import character_errors
from asr.model_install import WHISPER_BASE, install
from core.settings import Settings
from core.waiting import wait_for
from ivr import call_store
from phones.sipp import DialResult
from tests.builders import add_user, tone_wav
from tests.conftest import SAMPLES
from tests.e2e.browser import logged_in, screenshot
from tests.e2e.conftest import Hotline, start_hotline

# The longest clip of the manifest (6.76 s); the caller stays on the line after it, so that the
# utterance ends (a pause) and is decoded while the call is still up.
CLIP = SAMPLES / "magicdata_cs_insurance_000012.wav"
REFERENCE = "因为年龄已经很大了一般咱约定的养老金领取就五十五六十啊六十五啊"
# Whisper writes the numbers as digits ("55、60、65"), so the CER is counted against the
# reference with its numbers so written. Measured 0.10, 0.17 and 0.34 over three runs (e.g.
# 因为 heard as 那一半的 once).
SCORED_REFERENCE = "因为年龄已经很大了一般咱约定的养老金领取就55、60啊65啊"
MAX_CER = 0.45
SEEN_CHARACTERS = 6  # distinct characters of the reference the page must show live
FINAL_WITHIN = 10.0  # seconds from the hang-up (the benchmark measures the 2 s target)
# The caller stays on the line this long after the clip: the utterance ends at the pause, and
# its decode (about 1.5 s of CPU) may wait behind other work on a loaded 2-core machine (21 s
# was seen with a load average of 6).
EXTRA_SECONDS = 35


@pytest.fixture(scope="module")
def mandarin_hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """A hotline whose speech model is Whisper base as set-up installs it (the model setting
    is the folder of either engine's model)."""
    model = install(WHISPER_BASE, Settings(data_dir=tmp_path_factory.mktemp("whisper-data")))
    instance = start_hotline(
        tmp_path_factory.mktemp("live-mandarin"), rtp_base=23200, vosk_model=model.path
    )
    try:
        yield instance
    finally:
        instance.close()


def _reference_characters(text: str) -> set[str]:
    return set(REFERENCE) & set(text)


def test_a_mandarin_call_is_shown_live_and_its_final_transcript_follows_the_hang_up(
    mandarin_hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    hotline = mandarin_hotline
    settings = hotline.settings
    caller = "13912347701"
    add_user(hotline.sessions, "op-mandarin", "operator", phone="8001")
    base = f"http://127.0.0.1:{settings.api_port}"
    page = logged_in(browser, base, "op-mandarin")
    expect(page.locator("body")).to_have_attribute("data-live", "1")

    results: list[DialResult] = []
    # The operator's phone sends a flat signal (silence once through G.711).
    with hotline.operator_phone("8001", tone_wav(tmp_path / "operator.wav", 60, channels=1)):
        dialling = threading.Thread(
            target=lambda: results.append(
                hotline.dial(
                    CLIP,
                    caller,
                    wait_seconds=hotline.notice_seconds + 0.3,
                    extra_seconds=EXTRA_SECONDS,
                )
            )
        )
        dialling.start()
        try:
            live = page.locator("#live")
            expect(live).to_contain_text(caller, timeout=30_000)
            expect(live).to_have_attribute("data-kind", "answered", timeout=30_000)
            call_id = live.get_attribute("data-call-id")
            assert call_id
            page.locator("#live-open").click()
            expect(page).to_have_url(f"{base}/calls/{call_id}")

            said = page.locator('#live-transcript .utterance[data-speaker="caller"] .text')

            def caller_text_shown() -> str | None:
                text = "".join(said.all_inner_texts())
                return text if len(_reference_characters(text)) >= SEEN_CHARACTERS else None

            shown = wait_for(
                caller_text_shown, EXTRA_SECONDS + 15, "the caller's words on the call page", 0.1
            )
            with hotline.sessions() as session:
                during = call_store.get_call(session, call_id)
                assert during is not None
                still_up = during.ended_at is None
            screenshot(page, "live-mandarin")
        finally:
            dialling.join(timeout=120)
    assert results and results[0].sipp_exit == 0, results
    assert still_up, f"the caller's words ({shown}) appeared only after the hang-up"

    call = hotline.wait_call(caller)
    assert call.id == call_id and call.operator == "8001" and call.ended_at is not None

    def stored() -> dict[str, object] | None:
        found = hotline.api_json(f"/api/calls/{call.id}/transcript")
        return found if found["transcript"] is not None else None

    transcript = wait_for(stored, 30, "the call's final transcript")["transcript"]
    assert isinstance(transcript, dict)
    # Made from the live streams (nothing decoded at the end), by Whisper.
    assert transcript["engine"] == "faster-whisper"
    assert transcript["decode_seconds"] == 0.0
    assert transcript["status"] == "ok"
    with hotline.sessions() as session:
        streams = session.scalars(
            select(LiveStream).where(LiveStream.call_uniqueid == call.asterisk_uniqueid)
        ).all()
        assert {s.speaker for s in streams} == {"caller", "operator"}
        assert all(s.status == StreamStatus.DONE for s in streams), [
            (s.speaker, s.status, s.reason) for s in streams
        ]
    heard = "".join(s["text"] for s in transcript["segments"] if s["channel"] == CALLER)
    errors, length = character_errors(SCORED_REFERENCE, heard)
    assert errors / length <= MAX_CER, f"{heard}: CER {errors / length:.3f}"
    after_hang_up = (
        dt.datetime.fromisoformat(str(transcript["created_at"])) - call.ended_at
    ).total_seconds()
    assert after_hang_up <= FINAL_WITHIN, f"stored {after_hang_up:.2f} s after the hang-up"
