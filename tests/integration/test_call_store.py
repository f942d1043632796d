"""Calls, recordings and reconciliation on both databases (SQLite and real PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
import wave
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from asr.models import TranscriptionJob
from core.db import transaction
from dispatch.cases.models import Case
from dispatch.cases.recording_links import link_recording
from dispatch.intake import call_queue
from hotline import ivr_service
from ivr import call_store
from ivr import events as ev
from ivr.call_state import CallState, apply
from ivr.call_tracker import CallTracker, TrackerPaths
from ivr.models import Call, CallbackRequest
from recordings import lookup
from recordings.ingest import RecordingIngest
from recordings.models import ManifestEntry, Recording
from recordings.store import sha256_file

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(hours=1)


def write_recording(path: Path, seconds: float = 2.0, crashed: bool = False) -> None:
    """A MixMonitor-style file: stereo samples under a mono label."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(8000 * seconds)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(struct.pack("<hh", 1200, -300) * frames)
    if crashed:
        data = bytearray(path.read_bytes())
        struct.pack_into("<I", data, 4, 36)
        struct.pack_into("<I", data, 40, 0)
        path.write_bytes(bytes(data))


def tracker(sessions: sessionmaker[Session], tmp_path: Path) -> CallTracker:
    paths = TrackerPaths(tmp_path / "spool", tmp_path / "Master.csv", "hotline-in", "12345")
    return ivr_service.build_tracker(
        sessions, paths, tmp_path / "store", lambda: NOW, ingest_timeout=2
    )


def started(uid: str, caller: str = "13800138000") -> ev.CallStarted:
    return ev.CallStarted(uid, T0, uid, "PJSIP/callers-1", caller, "王五", "12345")


def test_timestamps_come_back_timezone_aware(sessions: sessionmaker[Session]) -> None:
    state = apply(CallState("1.1"), started("1.1"))
    with transaction(sessions) as session:
        call_store.save_state(session, state)
    with sessions() as session:
        call = session.query(Call).one()
        assert call.started_at == T0 and call.started_at.tzinfo is not None
        assert call.caller_name == "王五"
        assert call.outcome is None


def test_naive_datetimes_are_refused(sessions: sessionmaker[Session]) -> None:
    state = CallState("1.2", started_at=dt.datetime(2026, 1, 1))
    with pytest.raises(Exception, match="naive"), transaction(sessions) as session:
        call_store.save_state(session, state)
    with sessions() as session:
        assert session.query(Call).count() == 0, "nothing half-written"


def test_live_events_link_the_recording_at_hang_up(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    spool = tmp_path / "spool" / "20261120" / "2.1.wav"
    write_recording(spool)
    spool.with_suffix(".done").touch()
    calls = tracker(sessions, tmp_path)

    async def run() -> None:
        for event in [
            started("2.1"),
            ev.NoticeFinished("2.1", T0 + dt.timedelta(seconds=9)),
            ev.RecordingStarted("2.1", T0 + dt.timedelta(seconds=9), str(spool)),
            ev.MessageStarted("2.1", T0 + dt.timedelta(seconds=9), "joinempty"),
            ev.NoticeFinished("9.9", T0),  # another channel: ignored
            ev.CallHungUp("2.1", T0 + dt.timedelta(seconds=12), 16, "Normal Clearing"),
        ]:
            await calls.handle(event)
        await calls.drain()

    asyncio.run(run())
    with sessions() as session:
        call = session.query(Call).one()
        assert call.outcome == "message_left"
        recording = lookup.of_call(session, call.id)
        assert recording is not None
        assert (recording.channels, recording.sample_rate, recording.status) == (
            2,
            8000,
            "complete",
        )
        stored = tmp_path / "store" / recording.path
        assert sha256_file(stored) == recording.sha256
        assert recording.duration_seconds == pytest.approx(2.0)
    assert not spool.exists() and not spool.with_suffix(".done").exists()


def test_abandoned_calls_go_on_the_callback_list_once(sessions: sessionmaker[Session]) -> None:
    state = CallState(
        "3.1",
        caller_number="139",
        started_at=T0,
        notice_finished_at=T0,
        queued_at=T0,
        ended_at=T0 + dt.timedelta(seconds=20),
    )
    for _ in range(2):
        with transaction(sessions) as session:
            call_store.save_state(session, state)
    with sessions() as session:
        assert session.query(CallbackRequest).count() == 1
        assert [c.call.caller_number for c in call_queue.callbacks(session)] == ["139"]


def test_reconcile_fails_lost_calls_and_keeps_their_partial_recording(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    spool = tmp_path / "spool" / "20261120" / "4.1.wav"
    write_recording(spool, seconds=3, crashed=True)
    state = CallState(
        "4.1",
        caller_number="137",
        started_at=T0,
        notice_finished_at=T0,
        recording_started_at=T0,
        recording_path=str(spool),
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)

    calls = tracker(sessions, tmp_path)
    asyncio.run(calls.reconcile(live_uniqueids=[]))
    asyncio.run(calls.reconcile(live_uniqueids=[]))  # safe to run twice

    with sessions() as session:
        call = session.query(Call).one()
        assert call.outcome == "failed"
        assert call.failure_reason is not None and "Asterisk restarted" in call.failure_reason
        recording = lookup.of_call(session, call.id)
        assert recording is not None and recording.status == "partial"
        assert recording.duration_seconds == pytest.approx(3.0)
        assert session.query(Recording).count() == 1


def test_reconcile_leaves_live_calls_open(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with transaction(sessions) as session:
        call_store.save_state(session, CallState("5.1", started_at=T0))
    calls = tracker(sessions, tmp_path)
    asyncio.run(calls.reconcile(live_uniqueids=["5.1"]))
    with sessions() as session:
        assert session.query(Call).one().ended_at is None
    assert "5.1" in calls.active


def test_reconcile_adopts_orphan_recordings_and_cdr_only_calls(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    orphan = tmp_path / "spool" / "20261120" / "6.1.wav"
    write_recording(orphan)
    (tmp_path / "Master.csv").write_text(
        '"","13600000000","12345","hotline-in","","PJSIP/callers-9","","Hangup","",'
        '"2026-11-20 01:00:00","2026-11-20 01:00:00","2026-11-20 01:00:07",7,7,"ANSWERED",'
        '"DOCUMENTATION","7.1",""\n'
        '"","13600000001","12345","hotline-in","","PJSIP/callers-8","","AGI","",'
        '"2026-11-20 01:00:00","2026-11-20 01:00:00","2026-11-20 01:00:07",7,7,"ANSWERED",'
        '"DOCUMENTATION","6.1",""\n',
        encoding="utf-8",
    )
    calls = tracker(sessions, tmp_path)
    asyncio.run(calls.reconcile(live_uniqueids=[]))
    asyncio.run(calls.reconcile(live_uniqueids=[]))
    with sessions() as session:
        by_id = {c.asterisk_uniqueid: c for c in session.query(Call)}
        assert set(by_id) == {"6.1", "7.1"}
        assert by_id["6.1"].caller_number == "13600000001"
        assert lookup.of_call(session, by_id["6.1"].id) is not None
        assert by_id["7.1"].outcome == "failed"
        assert lookup.of_call(session, by_id["7.1"].id) is None
        assert "Hangup" in (by_id["7.1"].failure_reason or "")
    assert not orphan.exists()


def test_a_failed_database_write_puts_the_recording_back(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    spool = tmp_path / "spool" / "20261120" / "8.1.wav"
    write_recording(spool)
    state = CallState(
        "8.1", started_at=T0, recording_path=str(spool), ended_at=T0, notice_finished_at=T0
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)

    def broken(*_args: object) -> None:
        raise RuntimeError("database went away")

    ingest = RecordingIngest(
        sessions, tmp_path / "store", lambda: NOW, link_case=link_recording, on_stored=broken
    )
    with pytest.raises(RuntimeError, match="database went away"):
        ingest.store("8.1")
    assert spool.exists(), "no orphaned file in the store"
    assert not list((tmp_path / "store").rglob("*.wav"))
    with sessions() as session:
        assert session.query(Recording).count() == 0
        assert session.query(Call).one().spool_path == str(spool)


def test_a_corrupt_spool_file_is_flagged_kept_and_not_retried(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    spool = tmp_path / "spool" / "20261120" / "9.1.wav"
    spool.parent.mkdir(parents=True)
    spool.write_bytes(b"RIFF")  # Asterisk died right after creating it
    state = CallState(
        "9.1", started_at=T0, recording_path=str(spool), ended_at=T0, notice_finished_at=T0
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)
    calls = tracker(sessions, tmp_path)
    calls.store_recording("9.1")
    with sessions() as session:
        call = session.query(Call).one()
        assert lookup.of_call(session, call.id) is None
        assert call.recording_problem is not None and "unusable" in call.recording_problem
        assert call.spool_path == str(spool), "the database still knows the file"
        assert call_store.calls_awaiting_recording(session) == []
        assert call_store.is_settled(call), "waiting for this call would never end"
    assert spool.exists()


def test_a_recording_whose_links_disagree_stays_in_the_spool_and_is_flagged(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    spool = tmp_path / "spool" / "20261120" / "10.1.wav"
    write_recording(spool)
    state = CallState(
        "10.1", started_at=T0, recording_path=str(spool), ended_at=T0, notice_finished_at=T0
    )
    with transaction(sessions) as session:
        call = call_store.save_state(session, state)
        # A case registered from this call already points at another recording.
        other = call_store.save_state(session, CallState("10.0", started_at=T0))
        session.add(
            Recording(
                id="f" * 32,
                call_id=other.id,
                path="x/" + "f" * 32 + ".wav",
                sha256="0" * 64,
                size_bytes=1,
                duration_seconds=1.0,
                sample_rate=8000,
                channels=2,
                status="complete",
                created_at=T0,
            )
        )
        session.flush()
        session.add(
            Case(
                number="TS1",
                status="accepted",
                received_at=T0,
                registered_at=T0,
                registered_by="op1",
                channel="phone",
                case_type="complaint",
                title="t",
                content="c",
                call_id=call.id,
                recording_id="f" * 32,
            )
        )
    calls = tracker(sessions, tmp_path)
    calls.store_recording("10.1")
    assert spool.exists(), "the file went back to the spool"
    assert not list((tmp_path / "store").rglob("*.wav"))
    with sessions() as session:
        stored = session.query(Call).filter_by(asterisk_uniqueid="10.1").one()
        assert lookup.of_call(session, stored.id) is None
        assert stored.recording_problem is not None
        assert "links disagree" in stored.recording_problem
        assert session.query(ManifestEntry).count() == 0


def test_ingest_hands_the_stored_recording_to_the_next_stage(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """What follows a stored recording is whatever the composition root hands the ingest: it
    gets the recording's row, in the transaction that stored it, with the ingest's time."""
    spool = tmp_path / "spool" / "20261120" / "11.1.wav"
    write_recording(spool)
    with transaction(sessions) as session:
        call_store.save_state(
            session, CallState("11.1", started_at=T0, ended_at=T0, recording_path=str(spool))
        )
    handed: list[tuple[str, str, dt.datetime, bool]] = []

    def on_stored(session: Session, recording: Recording, now: dt.datetime) -> None:
        handed.append((recording.id, recording.sha256, now, recording in session))

    ingest = RecordingIngest(
        sessions, tmp_path / "store", lambda: NOW, link_case=link_recording, on_stored=on_stored
    )
    assert ingest.store("11.1") == spool
    with sessions() as session:
        recording = session.query(Recording).one()
        assert handed == [(recording.id, recording.sha256, NOW, True)]
        assert session.query(TranscriptionJob).count() == 0, "only what was handed in runs"
    assert ingest.store("11.1") is None, "stored once"
    assert len(handed) == 1


def test_the_ivr_process_queues_each_stored_recording_for_transcription(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    spool = tmp_path / "spool" / "20261120" / "12.1.wav"
    write_recording(spool)
    with transaction(sessions) as session:
        call_store.save_state(
            session, CallState("12.1", started_at=T0, ended_at=T0, recording_path=str(spool))
        )
    tracker(sessions, tmp_path).store_recording("12.1")
    with sessions() as session:
        recording = session.query(Recording).one()
        job = session.query(TranscriptionJob).one()
        assert (job.recording_id, job.recording_sha256) == (recording.id, recording.sha256)
