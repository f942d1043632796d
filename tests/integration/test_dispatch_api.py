"""A case from registration to archive through the JSON API, by an operator, a supervisor
and a unit handler; the unit sees only its own cases, and never the complainant's identity
or evidence where the rules forbid it. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import Settings
from dispatch.cases.handling_models import RoutingLabel
from dispatch.cases.models import CaseEvent
from dispatch.feedback import callback_answers, callbacks
from tests.api_actor import Actor
from tests.builders import add_user

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NAME, PHONE, ADDRESS = "李秀英", "13912345678", "幸福里小区3栋502"


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name, role in [
        ("op1", "operator"),
        ("sup1", "supervisor"),
        ("h_env", "unit_handler"),
        ("h_prop", "unit_handler"),
        ("h_none", "unit_handler"),
    ]:
        add_user(sessions, name, role)
    return Settings(data_dir=tmp_path, database_url=db_url, supervision_interval_seconds=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def people(client: TestClient) -> Iterator[dict[str, Actor]]:
    """Everyone on the same application (started by ``client``), each with their cookie."""
    actors = {
        name: Actor(client.app, name) for name in ("op1", "sup1", "h_env", "h_prop", "h_none")
    }
    yield actors
    for actor in actors.values():
        actor.client.close()


@pytest.fixture
def unit_ids(people: dict[str, Actor]) -> dict[str, str]:
    sup = people["sup1"]
    ids = {}
    for name, kind in [
        ("市生态环境局", "department"),
        ("幸福里小区物业服务中心", "office"),
        ("热线中心", "centre"),
    ]:
        ids[name] = sup.post("/api/units", {"name": name, "kind": kind}, status=201)["id"]
    sup.post(f"/api/units/{ids['市生态环境局']}/members", {"username": "h_env"}, status=204)
    sup.post(
        f"/api/units/{ids['幸福里小区物业服务中心']}/members", {"username": "h_prop"}, status=204
    )
    sup.put("/api/catalogue/环境保护", {"unit_id": ids["市生态环境局"]})
    return ids


def register(op: Actor, **changes: Any) -> dict[str, Any]:
    body = {
        "received_at": "2026-11-20T09:30",
        "channel": "walk_in",
        "case_type": "complaint",
        "complainant_name": NAME,
        "complainant_phone": PHONE,
        "complainant_address": ADDRESS,
        "subject_unit": "幸福里小区物业服务中心",
        "title": "小区旁工厂夜间排放刺鼻废气",
        "content": f"我是{NAME}，电话{PHONE}，住{ADDRESS}。小区旁的化工厂每天夜里排放刺鼻气味，"
        "已经持续一个月。",
        "request": "请环保部门查处",
        "decision": "accept",
    }
    body.update(changes)
    return op.post("/api/cases", body, status=201)  # type: ignore[no-any-return]


def test_a_case_goes_from_registration_to_archive(
    people: dict[str, Actor], unit_ids: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    case = register(op, identity_consent=True)
    number = case["number"]
    handling = op.get(f"/api/cases/{number}/handling")
    assert [d["stage"] for d in handling["deadlines"]] == ["dispatch"]

    op.post(
        f"/api/cases/{number}/dispatch",
        {
            "lead_unit_id": unit_ids["市生态环境局"],
            "mode": "transfer",
            "assist_unit_ids": [unit_ids["热线中心"]],
            "category": "环境保护",
            "instructions": "请现场核查",
        },
    )
    handling = op.get(f"/api/cases/{number}/handling")
    stages = {d["stage"]: d for d in handling["deadlines"]}
    assert stages["dispatch"]["met_at"] is not None
    assert {"return", "handling"} <= set(stages)
    assert [(a["role"], a["unit_id"]) for a in handling["assignments"]] == [
        ("lead", unit_ids["市生态环境局"]),
        ("assist", unit_ids["热线中心"]),
    ]
    with sessions() as session:
        label = session.get(RoutingLabel, case["id"])
        assert label is not None and label.label == "环境保护" and label.confirmed_by == "op1"

    # The lead unit sees the case; with consent it sees who complained.
    mine = handler.get("/api/unit/cases")
    assert [c["number"] for c in mine] == [number]
    view = handler.get(f"/api/unit/cases/{number}")
    assert view["identity_shown"] and view["complainant_phone"] == PHONE
    # Another unit's handler cannot see it at all.
    assert people["h_prop"].get("/api/unit/cases") == []
    assert people["h_prop"].client.get(f"/api/unit/cases/{number}").status_code == 404

    handler.post(f"/api/unit/cases/{number}/sign")
    handler.post(f"/api/unit/cases/{number}/start")
    ext = handler.post(
        f"/api/unit/cases/{number}/extension", {"days": 5, "reason": "需要委托第三方检测"}
    )
    pending = sup.client.get("/supervision").text.split('id="extensions"')[1].split("</ul>")[0]
    assert number in pending and "需要委托第三方检测" in pending
    decided = sup.post(f"/api/extensions/{ext['id']}/decision", {"approve": True, "note": "同意"})
    assert decided["status"] == "approved" and number in decided["notice_text"]
    pending = sup.client.get("/supervision").text.split('id="extensions"')[1].split("</ul>")[0]
    assert number not in pending
    handling = op.get(f"/api/cases/{number}/handling")
    running = [d for d in handling["deadlines"] if d["stage"] == "handling" and not d["cancelled"]]
    assert running[-1]["due_on"] == decided["new_due_on"]

    handler.post(
        f"/api/unit/cases/{number}/reply",
        {
            "facts": "经现场检查，该厂废气处理设施未正常运行。",
            "finding": "true",
            "measures": "责令停产整改并处罚款。",
        },
    )
    sup.post(f"/api/cases/{number}/review", {"passed": False, "note": "请补充处罚决定书文号"})
    assert op.get(f"/api/cases/{number}")["status"] == "in_progress"
    handler.post(
        f"/api/unit/cases/{number}/reply",
        {
            "facts": "经现场检查，该厂废气处理设施未正常运行。",
            "finding": "true",
            "measures": "责令停产整改，处罚决定书文号 环罚〔2026〕18号。",
        },
    )
    sup.post(f"/api/cases/{number}/review", {"passed": True})
    op.post(
        f"/api/cases/{number}/feedback",
        {"method": "phone", "note": "已电话告知办理结果", "satisfaction": "satisfied"},
    )
    final = op.get(f"/api/cases/{number}")
    assert final["status"] == "closed"
    sup.post(f"/api/cases/{number}/archive")
    with sessions() as session:
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case["id"]).order_by(CaseEvent.id)
            )
        )
    actions = [e.action for e in events]
    assert actions == [
        "register",
        "accept",
        "dispatch",
        "sign",
        "start",
        "request_extension",
        "decide_extension",
        "reply",
        "return_reply",
        "reply",
        "pass_review",
        "feedback",
        "satisfaction",
        "close",
        "archive",
    ]
    for before, after in itertools.pairwise(events):
        assert after.from_status == before.to_status
    assert events[-1].to_status == "archived"


def test_a_unit_returns_a_case_and_it_is_dispatched_again(
    people: dict[str, Actor], unit_ids: dict[str, str]
) -> None:
    op, handler = people["op1"], people["h_env"]
    number = register(op)["number"]
    op.post(
        f"/api/cases/{number}/dispatch",
        {"lead_unit_id": unit_ids["市生态环境局"], "category": "环境保护"},
    )
    handler.post(f"/api/unit/cases/{number}/return", {"reason": ""}, status=422)
    handler.post(f"/api/unit/cases/{number}/return", {"reason": "属于物业管理范畴"}, status=204)
    assert handler.get("/api/unit/cases") == []
    assert op.get(f"/api/cases/{number}")["status"] == "accepted"
    op.post(
        f"/api/cases/{number}/dispatch",
        {"lead_unit_id": unit_ids["幸福里小区物业服务中心"], "category": "物业管理"},
    )
    assert [c["number"] for c in people["h_prop"].get("/api/unit/cases")] == [number]


def test_illegal_steps_are_refused_with_a_clear_message(
    people: dict[str, Actor], unit_ids: dict[str, str]
) -> None:
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    number = register(op)["number"]
    response = sup.post(f"/api/cases/{number}/review", {"passed": True}, status=409)
    assert "cannot pass_review" in response["detail"]
    op.post(f"/api/cases/{number}/approval", {"action": "submit", "note": "涉及处级干部"})
    op.post(f"/api/cases/{number}/approval", {"action": "approve"}, status=403)
    sup.post(f"/api/cases/{number}/approval", {"action": "approve"})
    op.post(
        f"/api/cases/{number}/dispatch",
        {"lead_unit_id": unit_ids["市生态环境局"], "category": "环境保护"},
    )
    # A handler cannot reply before signing for it? Replying from "dispatched" is illegal.
    handler.post(
        f"/api/unit/cases/{number}/reply",
        {"facts": "x", "finding": "untrue", "measures": "y"},
        status=409,
    )
    # A handler without a unit gets 403; an operator cannot use the portal.
    assert people["h_none"].client.get("/api/unit/cases").status_code == 403
    assert op.client.get("/api/unit/cases").status_code == 403


def test_a_case_needing_approval_cannot_be_dispatched_before_it(
    people: dict[str, Actor], unit_ids: dict[str, str]
) -> None:
    op, sup = people["op1"], people["sup1"]
    number = register(op)["number"]
    op.post(f"/api/cases/{number}/approval", {"action": "submit", "note": "重大事项"})
    sup.post(f"/api/cases/{number}/approval", {"action": "deny", "note": "补充材料"})
    response = op.post(
        f"/api/cases/{number}/dispatch",
        {"lead_unit_id": unit_ids["市生态环境局"], "category": "环境保护"},
        status=409,
    )
    assert "approval" in response["detail"]


@pytest.mark.parametrize(
    ("changes", "complained"),
    [
        ({"case_type": "report", "identity_consent": True}, False),
        ({"confidential": True, "identity_consent": True}, False),
        ({"identity_consent": False}, False),
        ({"identity_consent": True}, True),
    ],
)
def test_the_unit_never_sees_a_protected_identity(
    people: dict[str, Actor], unit_ids: dict[str, str], changes: dict[str, Any], complained: bool
) -> None:
    """The identity is hidden for 举报, for confidential cases, without consent, and from
    the unit complained about even with consent; the evidence too for 举报 and the unit
    complained about. Checked on the JSON and on the rendered pages."""
    op, handler = people["op1"], people["h_prop"]
    case = register(op, **changes)
    number = case["number"]
    op.client.post(
        f"/cases/{case['id']}/attachments",
        headers=op.headers,
        files=[("attachments", ("现场照片.pdf", PDF, "application/pdf"))],
    )
    op.post(
        f"/api/cases/{number}/dispatch",
        {
            "lead_unit_id": unit_ids["幸福里小区物业服务中心"],
            "category": "物业管理",
            "complained_unit_id": unit_ids["幸福里小区物业服务中心"] if complained else "",
        },
    )
    raw = handler.client.get(f"/api/unit/cases/{number}").text
    listing = handler.client.get("/api/unit/cases").text
    page = handler.client.get(f"/unit/cases/{case['id']}").text
    portal = handler.client.get("/unit").text
    for text in (raw, listing, page, portal):
        assert NAME not in text and PHONE not in text and ADDRESS not in text
    assert number in page and "刺鼻" in page
    view = handler.get(f"/api/unit/cases/{number}")
    assert not view["identity_shown"]
    whistle = changes.get("case_type") == "report"
    assert view["evidence_withheld"] is (whistle or complained)
    assert (view["attachments"] == []) is (whistle or complained)


@pytest.mark.parametrize(
    ("changes", "complained", "downloads"),
    [
        ({"identity_consent": True}, False, True),
        ({"confidential": True}, False, True),
        ({"case_type": "report", "identity_consent": True}, False, False),
        ({"identity_consent": True}, True, False),
    ],
)
def test_the_unit_downloads_only_the_evidence_its_disclosure_allows(
    people: dict[str, Actor],
    unit_ids: dict[str, str],
    changes: dict[str, Any],
    complained: bool,
    downloads: bool,
) -> None:
    """The unit's door hands out the complainant's evidence only where the unit may see it:
    never for 举报, never to the unit complained about; never another case's file through
    the unit's case, and nothing to a unit the case was not sent to. The case workers' door
    hands the same file out to the operator."""
    op, handler, other = people["op1"], people["h_prop"], people["h_env"]
    case = register(op, **changes)
    number = case["number"]
    upload = op.client.post(
        f"/api/cases/{number}/attachments",
        headers=op.headers,
        files=[("files", ("现场照片.pdf", PDF, "application/pdf"))],
    )
    assert upload.status_code == 201, upload.text
    (attachment,) = upload.json()
    elsewhere = register(op, identity_consent=True)
    upload = op.client.post(
        f"/api/cases/{elsewhere['number']}/attachments",
        headers=op.headers,
        files=[("files", ("另一案件.pdf", PDF, "application/pdf"))],
    )
    (foreign,) = upload.json()
    op.post(
        f"/api/cases/{number}/dispatch",
        {
            "lead_unit_id": unit_ids["幸福里小区物业服务中心"],
            "category": "物业管理",
            "complained_unit_id": unit_ids["幸福里小区物业服务中心"] if complained else "",
        },
    )
    door = f"/api/unit/cases/{number}/attachments"
    download = handler.client.get(f"{door}/{attachment['id']}")
    assert download.status_code == (200 if downloads else 404), download.text
    if downloads:
        assert download.content == PDF
        assert download.headers["content-disposition"].startswith("attachment")
    assert handler.client.get(f"{door}/{foreign['id']}").status_code == 404
    assert other.client.get(f"{door}/{attachment['id']}").status_code == 404
    assert op.client.get(f"/api/attachments/{attachment['id']}").content == PDF


def test_feedback_without_a_level_schedules_the_call_back_and_dissatisfaction_reopens(
    people: dict[str, Actor], unit_ids: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    case = register(op)
    number = case["number"]
    op.post(
        f"/api/cases/{number}/dispatch",
        {"lead_unit_id": unit_ids["市生态环境局"], "category": "环境保护"},
    )
    handler.post(f"/api/unit/cases/{number}/sign")
    handler.post(
        f"/api/unit/cases/{number}/reply",
        {"facts": "已核查", "finding": "partly_true", "measures": "已约谈企业"},
    )
    sup.post(f"/api/cases/{number}/review", {"passed": True})
    op.post(f"/api/cases/{number}/feedback", {"method": "phone", "note": "已告知"})
    with transaction(sessions) as session:
        calls = callbacks.calls_for_case(session, case["id"])
        assert [(c.status, c.phone, c.case_number) for c in calls] == [("pending", PHONE, number)]
        claimed = callbacks.claim_due(session, dt.datetime.now(dt.UTC))
        callback_answers.record_answer(session, claimed[0].id, "4", dt.datetime.now(dt.UTC))
    after = op.get(f"/api/cases/{number}/handling")
    assert after["satisfaction"] == "dissatisfied" and after["reopen_review"]
    assert op.get(f"/api/cases/{number}")["status"] == "feedback_given"
    page = sup.client.get("/supervision").text
    assert number in page.split('id="dissatisfied"')[1].split("</ul>")[0]
    sup.post(f"/api/cases/{number}/close", {"note": ""}, status=422)
    sup.post(f"/api/cases/{number}/reopen", {"reason": "群众不满意，重新办理"})
    reopened = op.get(f"/api/cases/{number}/handling")
    assert reopened["status"] == "accepted" and not reopened["reopen_review"]
    assert [
        d["stage"] for d in reopened["deadlines"] if not d["cancelled"] and d["met_at"] is None
    ] == ["dispatch"]
