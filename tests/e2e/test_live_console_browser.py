"""The live transcript on the operator's call page in a real browser: Debian's Chromium
driven by Playwright against `hotline serve api`. The test writes the live recognisers' rows
(partials, then finals, of the caller and of the operator) while the page is open; the page
shows them without a reload, the form follows the text without overwriting what the operator
typed, and the final transcript replaces the live text once it is stored."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from playwright.sync_api import Browser, expect
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from asr.live_models import LiveUtterance
from asr.models import TranscriptRecord
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from dispatch.cases.recording_links import link_recording
from hotline import migrate
from ivr import call_store
from ivr.call_state import CallState
from recordings import ingest, store
from tests.builders import add_live_streams, add_user, tone_wav
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

UID = "1700000100.7"
SAID = "我 要 投诉 城管局 的 窗口 态度差 我 的 电话 是 幺 三 九 一 二 三 四 五 六 七 八"
SAID_CLEAN = "我要投诉城管局的窗口态度差我的电话是13912345678"
FINAL_TEXT = "我要投诉城管局窗口态度差，电话13912345678。"


def call_state(started: dt.datetime, ended: dt.datetime | None = None) -> CallState:
    return CallState(
        UID,
        caller_number="",  # withheld: the number comes from the words
        started_at=started,
        notice_finished_at=started,
        recording_started_at=started,
        answered_at=started + dt.timedelta(seconds=2),
        operator="8001",
        ended_at=ended,
    )


def say(
    sessions: sessionmaker[Session], stream: str, speaker: str, text: str, start: float, final: bool
) -> None:
    """A row as the live recogniser stores it: a final deletes its stream's partials."""
    with transaction(sessions) as session:
        if final:
            session.execute(
                delete(LiveUtterance).where(
                    LiveUtterance.stream_id == stream, LiveUtterance.final.is_(False)
                )
            )
        session.add(
            LiveUtterance(
                stream_id=stream,
                call_uniqueid=UID,
                speaker=speaker,
                final=final,
                start=start,
                end=start + 2.0,
                text=text,
                words=[],
                at=dt.datetime.now(dt.UTC),
            )
        )


def test_the_operator_sees_the_call_transcribed_live_and_the_form_follows_it(
    browser: Browser, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, api_port=free_port(), operator_replay_days=7)
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    add_user(sessions, "op1", "operator", phone="8001")
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=20)
    with transaction(sessions) as session:
        call_id = call_store.save_state(session, call_state(started)).id
        add_live_streams(session, UID, started)
    try:
        with console_api(settings) as url:
            page = logged_in(browser, url, "op1")
            try:
                page.goto(f"{url}/calls/{call_id}")
                panel = page.locator("#live-transcript")
                expect(panel).to_have_attribute("data-state", "live")
                expect(panel).to_have_attribute("aria-live", "polite")
                expect(panel.locator("h2")).to_have_text("实时转写")
                expect(
                    page.locator("#content-prefilled")
                ).to_be_hidden()  # nothing from a transcript
                page.locator("#f-title").fill("窗口服务问题")  # the operator's own words

                say(sessions, "s-op", "operator", "您好 这里 是 热线", 0.0, final=True)
                say(sessions, "s-caller", "caller", "我 要 投诉", 2.5, final=False)
                caller = panel.locator('.utterance[data-speaker="caller"]')
                expect(caller).to_have_count(1)
                expect(caller).to_have_attribute("data-final", "0")
                expect(caller).to_have_text(re.compile("来电人 0:02.*我要投诉"))
                operator = panel.locator('.utterance[data-speaker="operator"][data-final="1"]')
                expect(operator).to_have_text(re.compile("话务员 0:00.*您好这里是热线"))
                screenshot(page, "live-transcript-partial")

                say(sessions, "s-caller", "caller", SAID, 2.5, final=True)
                expect(caller).to_have_count(1)  # the partial replaced by its final
                expect(caller).to_have_attribute("data-final", "1")
                expect(caller.locator(".text")).to_have_text(SAID_CLEAN)
                # In time order: the operator's greeting, then the caller.
                expect(panel.locator(".utterance")).to_have_count(2)
                expect(panel.locator(".utterance").first).to_have_attribute(
                    "data-speaker", "operator"
                )

                # The form follows the text, but what the operator typed stays.
                expect(page.locator("#f-content")).to_have_value(SAID_CLEAN)
                expect(page.locator("#content-prefilled")).to_be_visible()
                expect(page.locator("#f-complainant_phone")).to_have_value("13912345678")
                expect(page.locator("#numbers-hint")).to_contain_text("13912345678")
                expect(page.locator("#f-case_type")).to_have_value("complaint")
                expect(page.locator("#type-reason")).to_contain_text("投诉")
                expect(page.locator("#f-subject_unit")).to_have_value("城管局")
                expect(page.locator("#f-title")).to_have_value("窗口服务问题")
                page.locator("#f-content").fill("来电人投诉城管局窗口态度差。")
                say(sessions, "s-caller", "caller", "还有 我 想 咨询 一下", 6.0, final=True)
                expect(caller).to_have_count(2)
                expect(page.locator('[name="transcript_text"]')).to_have_value(
                    re.compile("咨询一下$")
                )
                expect(page.locator("#f-content")).to_have_value("来电人投诉城管局窗口态度差。")
                screenshot(page, "live-transcript-suggestions")

                # Hang-up: the recording is stored, then its transcript; the page shows it.
                spool = tone_wav(tmp_path / "spool" / f"{UID}.wav")
                with transaction(sessions) as session:
                    call = call_store.save_state(
                        session, call_state(started, started + dt.timedelta(seconds=20))
                    )
                    stored = store.ingest(spool, settings.data_dir / "recordings", started, False)
                    recording = ingest.attach(
                        session,
                        call,
                        stored,
                        dt.datetime.now(dt.UTC),
                        link_case=link_recording,
                        on_stored=jobs.enqueue,
                    )
                    sha256 = recording.sha256
                expect(panel).to_have_attribute("data-state", "live")
                with transaction(sessions) as session:
                    session.add(
                        TranscriptRecord(
                            recording_sha256=sha256,
                            model="test",
                            engine="vosk",
                            status="ok",
                            reason="",
                            resampling="vosk",
                            audio_seconds=20.0,
                            decode_seconds=0.1,
                            channels=["caller", "operator"],
                            text=FINAL_TEXT,
                            clean_text=FINAL_TEXT,
                            created_at=dt.datetime.now(dt.UTC),
                            segments=[
                                {
                                    "channel": "caller",
                                    "start": 2.5,
                                    "end": 6.0,
                                    "text": FINAL_TEXT,
                                    "clean_text": FINAL_TEXT,
                                    "words": [],
                                }
                            ],
                        )
                    )
                expect(panel).to_have_attribute("data-state", "final")
                expect(page.locator("#live-state")).to_have_text("通话已结束：以下为最终转写。")
                final = panel.locator('.utterance[data-source="transcript"]')
                expect(final).to_have_count(1)
                expect(final).to_have_attribute("data-final", "1")
                expect(final.locator(".text")).to_have_text(FINAL_TEXT)
                expect(panel.locator(".utterance")).to_have_count(1)
                expect(page.locator("#f-content")).to_have_value("来电人投诉城管局窗口态度差。")
                screenshot(page, "live-transcript-final")
            finally:
                page.close()  # its streams closed: the server can stop
    finally:
        engine.dispose()
