"""The whole hotline on a real PostgreSQL server instead of the embedded SQLite."""

from __future__ import annotations

import pytest

from recordings.store import sha256_file
from tests.conftest import SAMPLES, new_postgres_database
from tests.e2e.conftest import start_hotline

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]


def test_a_call_is_logged_in_postgresql(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = new_postgres_database(postgres_server)
    hotline = start_hotline(tmp_path_factory.mktemp("pg-hotline"), database_url=url, rtp_base=33000)
    try:
        caller = "13700000001"
        result = hotline.dial(
            SAMPLES / "magicdata_cs_finance_200013.wav",
            caller,
            wait_seconds=hotline.notice_seconds + 0.3,
        )
        assert result.sipp_exit == 0, result.output
        call = hotline.wait_call(caller)
        assert call.outcome == "message_left"
        recording = hotline.recording_of(call)
        assert recording is not None
        stored = hotline.settings.recordings_dir / recording.path
        assert sha256_file(stored) == recording.sha256
    finally:
        hotline.close()
