"""The console's words (issue 16, defect 15): the citizen is 诉求人 whatever the type of the
case, as the evidence package says. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases.models import Case, CaseEvent
from tests.api_actor import Actor
from tests.integration import test_replay

settings, people, case = test_replay.settings, test_replay.people, test_replay.case


def test_a_grant_refused_for_identity_names_the_citizen_as_su_qiu_ren(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == case["id"]).values(identity_consent=False))
    sup = people["sup1"]
    refused = sup.client.post(
        f"/cases/{case['id']}/evidence/grant",
        data={
            "unit_id": case["units"]["市生态环境局"],
            "reason": "请核实诉求细节",
            "csrf_token": sup.headers["X-CSRF-Token"],
        },
    )
    assert refused.status_code == 422
    assert "诉求人未同意向承办单位提供身份信息，不能授权调听录音" in refused.text
    assert "投诉人" not in refused.text.split('id="error"', 1)[1].split("</p>", 1)[0]


def test_the_case_history_names_a_system_job_in_chinese(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        stored = session.get(Case, case["id"])
        assert stored is not None
        session.add(
            CaseEvent(
                case_id=case["id"],
                at=dt.datetime.now(dt.UTC),
                actor="system:supervision",
                action="remind",
                from_status="",
                to_status=stored.status,
                note="",
            )
        )
    page = people["sup1"].client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    assert "系统（督办）" in page.text
    assert "system:supervision" not in page.text
