"""End to end on PostgreSQL (which, unlike SQLite, refuses a value longer than its column):
whatever a caller's phone sends as its number and name, the call is stored."""

from __future__ import annotations

import pytest

from ivr import fields
from tests.conftest import SAMPLES, new_postgres_database
from tests.e2e.conftest import start_hotline

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]

SHORT_CLIP = SAMPLES / "aishell2_IT0011W0001.wav"  # 1.99 s


def test_a_79_digit_caller_number_and_a_long_name_never_cost_the_call(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = new_postgres_database(postgres_server)
    hotline = start_hotline(tmp_path_factory.mktemp("pg-fields"), database_url=url, rtp_base=27200)
    try:
        caller = "139" + "0123456789" * 7 + "654321"  # 79 digits, as Asterisk passes them
        assert len(caller) == 79
        name = "张" * 200
        result = hotline.dial(
            SHORT_CLIP, caller, caller_name=name, wait_seconds=hotline.notice_seconds + 0.3
        )
        assert result.sipp_exit == 0, result.output
        call = hotline.wait_call(caller[: fields.NUMBER])
        assert call.outcome == "message_left"
        assert call.caller_number == caller[: fields.NUMBER]
        assert call.caller_name and set(call.caller_name) == {"张"}
        assert len(call.caller_name) <= fields.NAME
        assert hotline.recording_of(call) is not None
    finally:
        hotline.close()
