"""The first page and the calls API, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from hotline.settings import Settings
from recordings.models import RecordingAccess
from tests.builders import add_recorded_call


@pytest.fixture
def client(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def add_call(sessions: sessionmaker[Session], tmp_path: Path, uid: str, name: str) -> str:
    return add_recorded_call(sessions, tmp_path, uid, caller_name=name)[1]


def test_calls_json_and_page(client: TestClient, sessions: sessionmaker[Session],
                             tmp_path: Path) -> None:
    add_call(sessions, tmp_path, "1.1", "<script>alert(1)</script>")
    calls = client.get("/api/calls").json()
    assert len(calls) == 1
    assert calls[0]["outcome"] == "message_left"
    assert calls[0]["recording"]["channels"] == 2
    one = client.get(f"/api/calls/{calls[0]['id']}")
    assert one.status_code == 200 and one.json()["id"] == calls[0]["id"]

    page = client.get("/")
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
        (recording_id, "play", ""), (recording_id, "play", "bytes=44-99")]


@pytest.mark.parametrize("bad", ["../../hotline.db", "0" * 32, "%2e%2e%2fsecrets.json", "x"])
def test_unknown_or_malicious_ids_get_404(client: TestClient, bad: str) -> None:
    assert client.get(f"/api/recordings/{bad}/audio").status_code == 404
    assert client.get(f"/api/calls/{bad}").status_code == 404


def test_limit_is_validated_with_an_english_message(client: TestClient) -> None:
    response = client.get("/api/calls", params={"limit": 0})
    assert response.status_code == 422
    assert "greater than or equal to 1" in response.text
