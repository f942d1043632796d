"""The evidence package's 登记表 is in the hotline's time zone, like the console (issue 16,
defect 9); the files for programs keep UTC. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any
from zoneinfo import ZoneInfo

from core.settings import Settings
from tests.api_actor import Actor
from tests.integration import test_replay

settings, people, case = test_replay.settings, test_replay.people, test_replay.case


def test_the_evidence_package_registration_form_is_in_beijing_time(
    people: dict[str, Actor], case: dict[str, Any], settings: Settings
) -> None:
    inv = people["inv1"]
    inv.post(
        f"/api/cases/{case['id']}/replay-reason", {"reason": "纪检调查：核实办理过程"}, status=201
    )
    response = inv.fetch(f"/api/cases/{case['id']}/evidence-package")
    assert response.status_code == 200
    folder = f"{case['number']}-evidence"
    with zipfile.ZipFile(io.BytesIO(response.content)) as package:
        form = package.read(f"{folder}/registration.txt").decode()
        record = json.loads(package.read(f"{folder}/case.json"))
        readme = package.read(f"{folder}/README.txt").decode()
    zone = ZoneInfo(settings.timezone)
    received = dt.datetime.fromisoformat(record["case"]["received_at"])
    registered = dt.datetime.fromisoformat(record["case"]["registered_at"])
    assert received.utcoffset() == dt.timedelta(0), "case.json keeps UTC for programs"
    lines = form.splitlines()
    assert lines[0] == "（本表时间均为北京时间）"
    assert f"来电时间：{received.astimezone(zone):%Y-%m-%d %H:%M:%S}" in lines
    assert f"登记时间：{registered.astimezone(zone):%Y-%m-%d %H:%M:%S}" in lines
    assert "+00:00" not in form
    assert "registration.txt（登记表）中的时间为北京时间" in readme
