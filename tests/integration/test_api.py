"""The first page and the calls API, on both databases."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from asr import jobs
from asr.job_policy import RetryPolicy
from asr.records import to_record
from asr.transcript_data import Segment, Transcript, TranscriptStatus, Word
from core.db import transaction
from core.settings import PROJECT_ROOT, Resampling, Settings
from custody.models import RecordingAccess
from tests.builders import PASSWORD, add_recorded_call, add_user, recently


@pytest.fixture
def client(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    add_user(sessions, "op1", "operator")
    with TestClient(create_app(settings)) as test_client:
        logged_in = test_client.post("/api/session", json={"username": "op1", "password": PASSWORD})
        assert logged_in.status_code == 200, logged_in.text
        test_client.headers["X-CSRF-Token"] = logged_in.json()["csrf_token"]
        yield test_client


def add_call(sessions: sessionmaker[Session], tmp_path: Path, uid: str, name: str) -> str:
    """A recent message (the operator's replay window is measured from the real clock)."""
    return add_recorded_call(sessions, tmp_path, uid, caller_name=name, started_at=recently())[1]


def test_calls_json_and_page(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_call(sessions, tmp_path, "1.1", "<script>alert(1)</script>")
    calls = client.get("/api/calls").json()
    assert len(calls) == 1
    assert calls[0]["outcome"] == "message_left"
    assert calls[0]["recording"]["channels"] == 2
    one = client.get(f"/api/calls/{calls[0]['id']}")
    assert one.status_code == 200 and one.json()["id"] == calls[0]["id"]

    page = client.get("/calls")
    assert page.status_code == 200
    assert "来电记录" in page.text and "已留言" in page.text
    assert "<script>alert(1)</script>" not in page.text, "caller names are escaped"
    assert "&lt;script&gt;" in page.text
    assert f"/api/recordings/{calls[0]['recording']['id']}/audio" in page.text


def test_recording_audio_supports_ranges_and_every_access_is_logged(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    recording_id = add_call(sessions, tmp_path, "2.1", "")
    whole = client.get(f"/api/recordings/{recording_id}/audio")
    assert whole.status_code == 200 and whole.content[:4] == b"RIFF"
    part = client.get(f"/api/recordings/{recording_id}/audio", headers={"Range": "bytes=44-99"})
    assert part.status_code == 206
    assert part.content == whole.content[44:100]
    with sessions() as session:
        logged = session.query(RecordingAccess).order_by(RecordingAccess.id).all()
    assert [(a.recording_id, a.action, a.byte_range) for a in logged] == [
        (recording_id, "play", ""),
        (recording_id, "range", "bytes=44-99"),  # the same listening going on
    ]
    assert all(a.actor == "op1" for a in logged), "the access log names who listened"


@pytest.mark.parametrize("bad", ["../../core.db", "0" * 32, "%2e%2e%2fsecrets.json", "x"])
def test_unknown_or_malicious_ids_get_404(client: TestClient, bad: str) -> None:
    assert client.get(f"/api/recordings/{bad}/audio").status_code == 404
    assert client.get(f"/api/calls/{bad}").status_code == 404


def test_limit_is_validated_with_an_english_message(client: TestClient) -> None:
    response = client.get("/api/calls", params={"limit": 0})
    assert response.status_code == 422
    assert "greater than or equal to 1" in response.text


def test_a_calls_transcript_is_served_once_ready(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path, db_url: str
) -> None:
    call_id, _recording = add_recorded_call(sessions, tmp_path, "3.1", started_at=recently())
    waiting = client.get(f"/api/calls/{call_id}/transcript").json()
    assert waiting["transcript"] is None and waiting["job"]["status"] == "queued"
    # No speech model in this data folder: the workbench says so instead of "waiting".
    assert "未安装语音模型" in client.get("/").text

    now = dt.datetime.now(dt.UTC)
    claimed = jobs.claim(
        sessions,
        "w1",
        "model-x",
        now,
        dt.timedelta(seconds=60),
        RetryPolicy(3, dt.timedelta(seconds=30)),
    )
    assert claimed is not None
    words = (Word("幺三八", 1.0, 1.6, 0.8), Word("零零", 1.6, 2.0, 0.7))
    result = Transcript(
        TranscriptStatus.OK,
        "",
        "vosk",
        "model-x",
        5.0,
        1.0,
        ("caller",),
        (Segment("caller", 1.0, 2.0, "幺三八 零零", words),),
    )
    with transaction(sessions) as session:
        jobs.complete(
            session,
            claimed.id,
            to_record(result, claimed.recording_sha256, Resampling.VOSK, now),
            now,
        )
    page = client.get("/").text
    assert "13800" in page and "未安装语音模型" not in page
    ready = client.get(f"/api/calls/{call_id}/transcript").json()
    assert ready["job"]["status"] == "done"
    transcript = ready["transcript"]
    assert transcript["model"] == "model-x" and transcript["channels"] == ["caller"]
    assert transcript["text"] == "幺三八 零零" and transcript["clean_text"] == "13800"
    segment = transcript["segments"][0]
    assert (segment["start"], segment["end"], segment["clean_text"]) == (1.0, 2.0, "13800")
    assert segment["words"][0] == {"text": "幺三八", "start": 1.0, "end": 1.6, "confidence": 0.8}
    assert client.get("/api/calls/" + "0" * 32 + "/transcript").status_code == 404
    assert client.get("/api/calls/..%2F..%2Fetc/transcript").status_code == 404

    env = {**os.environ, "HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_DATABASE_URL": db_url}
    hotline = str(PROJECT_ROOT / ".venv/bin/hotline")
    printed = subprocess.run(
        [hotline, "transcript", call_id], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "[   1.00-   2.00] caller   13800" in printed
    as_json = subprocess.run(
        [hotline, "transcript", call_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"clean_text": "13800"' in as_json
    unknown = subprocess.run(
        [hotline, "transcript", "f" * 32], env=env, capture_output=True, text=True, check=False
    )
    assert unknown.returncode != 0 and "no call" in unknown.stderr
