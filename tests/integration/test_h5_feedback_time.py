"""回访时间 in the future is refused at both doors, at its field, and nothing is recorded
(issue 16, defect 10). SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.settings import Settings
from tests.api_actor import Actor
from tests.integration import test_replay
from tests.integration.test_custody_doors import DOORS

settings, people, case = test_replay.settings, test_replay.people, test_replay.case


def replied_and_reviewed(people: dict[str, Actor], number: str) -> None:
    handler = people["h_env"]
    handler.post(f"/api/unit/cases/{number}/sign")
    handler.post(f"/api/unit/cases/{number}/start")
    handler.post(
        f"/api/unit/cases/{number}/reply",
        {"facts": "经现场检查属实。", "finding": "true", "measures": "责令整改。"},
    )
    people["sup1"].post(f"/api/cases/{number}/review", {"passed": True})


@pytest.mark.parametrize("door", DOORS)
def test_a_feedback_time_to_come_is_refused(
    door: str, people: dict[str, Actor], case: dict[str, Any], settings: Settings
) -> None:
    op = people["op1"]
    replied_and_reviewed(people, case["number"])
    zone = ZoneInfo(settings.timezone)
    tomorrow = f"{dt.datetime.now(zone) + dt.timedelta(days=1):%Y-%m-%dT%H:%M}"
    told = {"method": "phone", "told_at": tomorrow, "note": "已电话告知", "satisfaction": ""}
    if door == "json":
        response = op.client.post(
            f"/api/cases/{case['id']}/feedback",
            json={**told, "satisfaction": None},
            headers=op.headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {"loc": ["body", "told_at"], "msg": "must not be in the future", "type": "value_error"}
        ]
    else:
        response = op.client.post(
            f"/cases/{case['id']}/feedback", data={**told, "csrf_token": op.headers["X-CSRF-Token"]}
        )
        assert response.status_code == 422
        assert "回访时间不能晚于当前时间" in response.text
    handling = op.get(f"/api/cases/{case['id']}/handling")
    assert handling["feedback"] == [] and handling["status"] == "reviewed"

    # Now is a time it may have been.
    just_now = f"{dt.datetime.now(zone):%Y-%m-%dT%H:%M}"
    op.post(
        f"/api/cases/{case['id']}/feedback", {**told, "told_at": just_now, "satisfaction": None}
    )
    assert op.get(f"/api/cases/{case['id']}/handling")["status"] == "feedback_given"
