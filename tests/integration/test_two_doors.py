"""The same step through both front doors, the JSON API and the console's form, applies the
same rules: two identical cases, one driven through each door, end the same way. SQLite and
a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.settings import Settings
from dispatch.cases.lifecycle import Status, allowed_actions
from tests.api_actor import Actor
from tests.builders import add_user

NO_SUCH_ID = "0" * 32
CASE = {
    "received_at": "2026-11-20T09:30",
    "channel": "walk_in",
    "case_type": "complaint",
    "complainant_name": "李秀英",
    "complainant_phone": "13912345678",
    "subject_unit": "幸福里小区物业服务中心",
    "title": "小区旁工厂夜间排放刺鼻废气",
    "content": "小区旁的化工厂每天夜里排放刺鼻气味，已经持续一个月。",
    "request": "请环保部门查处",
}


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name, role in [("op1", "operator"), ("sup1", "supervisor"), ("h_env", "unit_handler")]:
        add_user(sessions, name, role)
    return Settings(data_dir=tmp_path, database_url=db_url, supervision_interval_seconds=0)


@pytest.fixture
def people(settings: Settings) -> Iterator[dict[str, Actor]]:
    with TestClient(create_app(settings), follow_redirects=False) as started:
        actors = {name: Actor(started.app, name) for name in ("op1", "sup1", "h_env")}
        yield actors
        for actor in actors.values():
            actor.client.close()


@pytest.fixture
def unit(people: dict[str, Actor]) -> str:
    sup = people["sup1"]
    unit_id: str = sup.post(
        "/api/units", {"name": "市生态环境局", "kind": "department"}, status=201
    )["id"]
    sup.post(f"/api/units/{unit_id}/members", {"username": "h_env"}, status=204)
    return unit_id


@dataclass(frozen=True)
class Outcome:
    """How a door answered: done, refused at named fields, or not found."""

    status: int
    fields: frozenset[str] = frozenset()


def by_json(actor: Actor, url: str, body: dict[str, Any]) -> Outcome:
    response = actor.client.post(url, json=body, headers=actor.headers)
    if response.status_code == 422:
        return Outcome(422, frozenset(e["loc"][-1] for e in response.json()["detail"]))
    return Outcome(200 if response.status_code in (200, 204) else response.status_code)


def by_form(actor: Actor, url: str, form: dict[str, str], *messages: str) -> Outcome:
    """Post the form; a refusal must show each Chinese message (one per field)."""
    response = actor.client.post(url, data={**form, "csrf_token": actor.headers["X-CSRF-Token"]})
    if response.status_code == 422:
        for text in messages:
            assert text in response.text, (text, response.text[-2000:])
        return Outcome(422, frozenset(form_fields(messages)))
    return Outcome(200 if response.status_code == 303 else response.status_code)


FIELD_MESSAGES = {
    "请选择类别": "category",
    "所选单位不存在或已停用": "lead_unit_id",
    "没有该用户": "username",
    "所选知识库条目不存在或已停用": "knowledge_entry_id",
    "找不到该编号的案件": "merge_into",
    "审批操作不正确": "action",
    "电话来电请从工作台的来电登记": "channel",
    "办结操作不正确": "action",
    "撤回须填写理由": "reason",
    "目录中没有该类别": "category",
}


def form_fields(messages: tuple[str, ...]) -> set[str]:
    return {FIELD_MESSAGES[text] for text in messages}


def two_cases(op: Actor, **changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two identical cases: the first for the JSON door, the second for the form."""
    made = [op.post("/api/cases", {**CASE, **changes}, status=201) for _ in range(2)]
    return made[0], made[1]


def status_of(actor: Actor, case: dict[str, Any]) -> str:
    return str(actor.get(f"/api/cases/{case['id']}")["status"])


def test_dispatch_needs_a_category_at_both_doors(people: dict[str, Actor], unit: str) -> None:
    op = people["op1"]
    by_api, by_page = two_cases(op, decision="accept")
    order = {"lead_unit_id": unit, "mode": "transfer"}
    assert by_json(op, f"/api/cases/{by_api['id']}/dispatch", order) == Outcome(
        422, frozenset({"category"})
    )
    assert by_form(op, f"/cases/{by_page['id']}/dispatch", order, "请选择类别") == Outcome(
        422, frozenset({"category"})
    )
    assert status_of(op, by_api) == status_of(op, by_page) == "accepted"

    chosen = {**order, "category": "环境保护"}
    assert by_json(op, f"/api/cases/{by_api['id']}/dispatch", chosen) == Outcome(200)
    assert by_form(op, f"/cases/{by_page['id']}/dispatch", chosen) == Outcome(200)
    for case in (by_api, by_page):
        handling = op.get(f"/api/cases/{case['id']}/handling")
        assert handling["status"] == "dispatched" and handling["category"] == "环境保护"


def test_a_unit_named_in_the_address_is_not_found_and_one_chosen_in_a_form_is_a_field_error(
    people: dict[str, Actor], unit: str
) -> None:
    sup, op = people["sup1"], people["op1"]
    member = {"username": "h_env"}
    assert by_json(sup, f"/api/units/{NO_SUCH_ID}/members", member) == Outcome(404)
    assert by_form(sup, f"/units/{NO_SUCH_ID}/members", member) == Outcome(404)
    nobody = {"username": "nobody"}
    assert by_json(sup, f"/api/units/{unit}/members", nobody) == Outcome(
        422, frozenset({"username"})
    )
    assert by_form(sup, f"/units/{unit}/members", nobody, "没有该用户") == Outcome(
        422, frozenset({"username"})
    )

    by_api, by_page = two_cases(op, decision="accept")
    order = {"lead_unit_id": NO_SUCH_ID, "mode": "transfer", "category": "环境保护"}
    assert by_json(op, f"/api/cases/{by_api['id']}/dispatch", order) == Outcome(
        422, frozenset({"lead_unit_id"})
    )
    assert by_form(
        op, f"/cases/{by_page['id']}/dispatch", order, "所选单位不存在或已停用"
    ) == Outcome(422, frozenset({"lead_unit_id"}))
    assert status_of(op, by_api) == status_of(op, by_page) == "accepted"


def test_an_answer_on_the_spot_from_a_knowledge_entry_at_both_doors(
    people: dict[str, Actor],
) -> None:
    op, sup = people["op1"], people["sup1"]
    entry = sup.post(
        "/api/knowledge",
        {
            "question": "居住证怎么办理",
            "keywords": "居住证 办证",
            "answer": "请携带身份证和居住证明到社区服务中心办理。",
        },
        status=201,
    )
    by_api, by_page = two_cases(op, case_type="consultation")
    page = op.fetch(f"/cases/{by_page['id']}").text
    assert "即办依据的知识库条目" in page and "居住证怎么办理" in page

    gone = {"decision": "on_spot", "knowledge_entry_id": NO_SUCH_ID}
    assert by_json(op, f"/api/cases/{by_api['id']}/decision", gone) == Outcome(
        422, frozenset({"knowledge_entry_id"})
    )
    assert by_form(
        op, f"/cases/{by_page['id']}/decision", gone, "所选知识库条目不存在或已停用"
    ) == Outcome(422, frozenset({"knowledge_entry_id"}))

    chosen = {"decision": "on_spot", "knowledge_entry_id": entry["id"]}
    assert by_json(op, f"/api/cases/{by_api['id']}/decision", chosen) == Outcome(200)
    assert by_form(op, f"/cases/{by_page['id']}/decision", chosen) == Outcome(200)
    for case in (by_api, by_page):
        answered = op.get(f"/api/cases/{case['id']}")
        assert answered["status"] == "closed"
        assert answered["knowledge_entry_id"] == entry["id"]
        assert answered["reply_text"] == entry["answer"]
        assert "依据知识库“居住证怎么办理”当场答复" in [e["note"] for e in answered["history"]]


def test_merging_into_a_case_that_does_not_exist_is_a_field_error_at_both_doors(
    people: dict[str, Actor],
) -> None:
    op = people["op1"]
    by_api, by_page = two_cases(op)
    target = op.post("/api/cases", CASE, status=201)
    missing = {"into": "HX-0000-0000", "reason": "同一事项"}
    assert by_json(op, f"/api/cases/{by_api['id']}/merge", missing) == Outcome(
        422, frozenset({"merge_into"})
    )
    assert by_form(op, f"/cases/{by_page['id']}/merge", missing, "找不到该编号的案件") == Outcome(
        422, frozenset({"merge_into"})
    )
    # Both doors take the case to merge into by its number or by its id.
    assert by_json(
        op, f"/api/cases/{by_api['id']}/merge", {"into": target["id"], "reason": "同一事项"}
    ) == Outcome(200)
    assert by_form(
        op, f"/cases/{by_page['id']}/merge", {"into": target["id"], "reason": "同一事项"}
    ) == Outcome(200)
    assert status_of(op, by_api) == status_of(op, by_page) == "merged"


def test_an_unknown_approval_action_is_refused_at_both_doors(people: dict[str, Actor]) -> None:
    op, sup = people["op1"], people["sup1"]
    by_api, by_page = two_cases(op, decision="accept")
    for case in (by_api, by_page):
        op.post(f"/api/cases/{case['id']}/approval", {"action": "submit", "note": "重大事项"})
    odd = {"action": "postpone", "note": "下周再议"}
    assert by_json(sup, f"/api/cases/{by_api['id']}/approval", odd) == Outcome(
        422, frozenset({"action"})
    )
    assert by_form(sup, f"/cases/{by_page['id']}/approval", odd, "审批操作不正确") == Outcome(
        422, frozenset({"action"})
    )
    assert status_of(op, by_api) == status_of(op, by_page) == "pending_approval"

    # An operator may submit but not approve, at either door.
    approve = {"action": "approve", "note": ""}
    assert by_json(op, f"/api/cases/{by_api['id']}/approval", approve) == Outcome(403)
    assert by_form(op, f"/cases/{by_page['id']}/approval", approve) == Outcome(403)
    assert by_json(sup, f"/api/cases/{by_api['id']}/approval", approve) == Outcome(200)
    assert by_form(sup, f"/cases/{by_page['id']}/approval", approve) == Outcome(200)
    assert status_of(op, by_api) == status_of(op, by_page) == "approved"


def test_feedback_told_at_a_local_time_is_recorded_alike_at_both_doors(
    people: dict[str, Actor], unit: str
) -> None:
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    by_api, by_page = two_cases(op, decision="accept")
    for case in (by_api, by_page):
        op.post(f"/api/cases/{case['id']}/dispatch", {"lead_unit_id": unit, "category": "环境保护"})
        handler.post(f"/api/unit/cases/{case['id']}/sign")
        handler.post(
            f"/api/unit/cases/{case['id']}/reply",
            {"facts": "经现场检查属实", "finding": "true", "measures": "责令整改"},
        )
        sup.post(f"/api/cases/{case['id']}/review", {"passed": True})
    told = {
        "method": "phone",
        "told_at": "2026-11-21T10:00",
        "note": "已电话告知",
        "satisfaction": "satisfied",
    }
    assert by_json(op, f"/api/cases/{by_api['id']}/feedback", told) == Outcome(200)
    assert by_form(op, f"/cases/{by_page['id']}/feedback", told) == Outcome(200)
    for case in (by_api, by_page):
        handling = op.get(f"/api/cases/{case['id']}/handling")
        assert handling["status"] == "closed"
        [given] = handling["feedback"]
        # 10:00 in Asia/Shanghai, the hotline's zone
        assert dt.datetime.fromisoformat(given["at"]) == dt.datetime(2026, 11, 21, 2, tzinfo=dt.UTC)


def test_a_phone_case_without_its_call_is_refused_at_both_doors(people: dict[str, Actor]) -> None:
    """A hotline call is always on record: a phone complaint is registered from its call."""
    op = people["op1"]
    phone = {**CASE, "channel": "phone", "decision": "accept"}
    assert by_json(op, "/api/cases", phone) == Outcome(422, frozenset({"channel"}))
    assert by_form(op, "/cases", phone, "电话来电请从工作台的来电登记") == Outcome(
        422, frozenset({"channel"})
    )
    assert op.get("/api/cases") == []


def test_an_unknown_conclusion_is_refused_and_closing_is_alike_at_both_doors(
    people: dict[str, Actor], unit: str
) -> None:
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    by_api, by_page = two_cases(op, decision="accept")
    for case in (by_api, by_page):
        op.post(f"/api/cases/{case['id']}/dispatch", {"lead_unit_id": unit, "category": "环境保护"})
        handler.post(f"/api/unit/cases/{case['id']}/sign")
        handler.post(
            f"/api/unit/cases/{case['id']}/reply",
            {"facts": "经现场检查属实", "finding": "true", "measures": "责令整改"},
        )
        sup.post(f"/api/cases/{case['id']}/review", {"passed": True})
        op.post(f"/api/cases/{case['id']}/feedback", {"method": "phone", "note": "已告知"})
    assert status_of(op, by_api) == status_of(op, by_page) == "feedback_given"
    page = f"/cases/{by_page['id']}/conclusion"
    for odd in ({"action": "clsoe", "note": ""}, {"note": ""}):
        assert by_form(sup, page, odd, "办结操作不正确") == Outcome(422, frozenset({"action"}))
    assert status_of(op, by_page) == "feedback_given", "a mistyped action closes nothing"
    assert by_json(sup, f"/api/cases/{by_api['id']}/close", {"note": "已办结"}) == Outcome(200)
    assert by_form(sup, page, {"action": "close", "note": "已办结"}) == Outcome(200)
    assert status_of(op, by_api) == status_of(op, by_page) == "closed"


def test_a_withdrawal_is_the_same_step_at_both_doors(people: dict[str, Actor], unit: str) -> None:
    op = people["op1"]
    by_api, by_page = two_cases(op, decision="accept")
    for case in (by_api, by_page):
        op.post(f"/api/cases/{case['id']}/dispatch", {"lead_unit_id": unit, "category": "环境保护"})
    page = op.fetch(f"/cases/{by_page['id']}").text
    assert 'id="withdrawal"' in page and "撤回理由" in page
    blank = {"reason": " "}
    assert by_json(op, f"/api/cases/{by_api['id']}/withdrawal", blank) == Outcome(
        422, frozenset({"reason"})
    )
    assert by_form(op, f"/cases/{by_page['id']}/withdrawal", blank, "撤回须填写理由") == Outcome(
        422, frozenset({"reason"})
    )
    told = {"reason": "群众来电表示问题已自行解决"}
    assert by_json(op, f"/api/cases/{by_api['id']}/withdrawal", told) == Outcome(200)
    assert by_form(op, f"/cases/{by_page['id']}/withdrawal", told) == Outcome(200)
    assert status_of(op, by_api) == status_of(op, by_page) == "withdrawn"
    assert 'id="withdrawal"' not in op.fetch(f"/cases/{by_page['id']}").text
    for case in (by_api, by_page):
        handling = op.get(f"/api/cases/{case['id']}/handling")
        assert [a["active"] for a in handling["assignments"]] == [False]


def test_removing_a_catalogue_entry_is_the_same_step_at_both_doors(
    people: dict[str, Actor], unit: str
) -> None:
    sup = people["sup1"]
    for category in ("环境保护", "噪声污染"):
        sup.put(f"/api/catalogue/{category}", {"unit_id": unit})
    assert "删除" in sup.fetch("/units").text
    response = sup.client.delete("/api/catalogue/环境保护", headers=sup.headers)
    assert response.status_code == 204
    assert by_form(sup, "/catalogue/remove", {"category": "噪声污染"}) == Outcome(200)
    assert sup.get("/api/catalogue") == []
    # A category in the address that is not there is 404; one chosen in a form, a field error.
    assert sup.client.delete("/api/catalogue/环境保护", headers=sup.headers).status_code == 404
    assert by_form(
        sup, "/catalogue/remove", {"category": "环境保护"}, "目录中没有该类别"
    ) == Outcome(422, frozenset({"category"}))
    operator = people["op1"]
    assert by_form(operator, "/catalogue/remove", {"category": "环境保护"}) == Outcome(403)


# What each form on a case page (the centre's, and the unit's) would do, by a mark in the page.
CENTRE_FORMS = {
    'id="decision"': {"accept", "reject", "answer_on_spot"},
    'id="dispatch"': {"dispatch"},
    'name="action" value="submit"': {"submit_approval"},
    'id="approval"': {"approve", "deny_approval"},
    'id="review"': {"pass_review", "return_reply"},
    'id="feedback"': {"feedback"},
    'value="reopen"': {"reopen"},
    'value="close"': {"close"},
    'id="withdrawal"': {"withdraw"},
    'id="archive"': {"archive"},
}
UNIT_FORMS = {
    'id="sign"': {"sign"},
    'id="start"': {"start"},
    'id="return"': {"unit_return"},
    'id="reply"': {"reply"},
    'id="extension"': {"request_extension"},
}


def offered(page: str, forms: dict[str, set[str]]) -> set[str]:
    return set().union(*(actions for mark, actions in forms.items() if mark in page))


def test_each_form_on_a_case_page_is_an_action_the_lifecycle_allows(
    people: dict[str, Actor], unit: str
) -> None:
    """A case walked from registration to the archive: at every status the supervisor's case
    page and the unit's page offer only what lifecycle.allowed_actions allows (and offer
    something wherever a person has a step to take)."""
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    case = op.post("/api/cases", CASE, status=201)
    withdrawn = op.post("/api/cases", CASE, status=201)
    cid = case["id"]
    steps: list[tuple[Actor, str, dict[str, Any]]] = [
        (op, f"/api/cases/{cid}/decision", {"decision": "accept"}),
        (op, f"/api/cases/{cid}/approval", {"action": "submit", "note": "重大"}),
        (sup, f"/api/cases/{cid}/approval", {"action": "approve", "note": ""}),
        (op, f"/api/cases/{cid}/dispatch", {"lead_unit_id": unit, "category": "环境保护"}),
        (handler, f"/api/unit/cases/{cid}/sign", {}),
        (handler, f"/api/unit/cases/{cid}/start", {}),
        (
            handler,
            f"/api/unit/cases/{cid}/reply",
            {"facts": "经现场检查属实", "finding": "true", "measures": "责令整改"},
        ),
        (sup, f"/api/cases/{cid}/review", {"passed": True}),
        (op, f"/api/cases/{cid}/feedback", {"method": "phone", "note": "已告知"}),
        (sup, f"/api/cases/{cid}/close", {"note": "已办结"}),
        (sup, f"/api/cases/{cid}/archive", {}),
    ]
    seen = set()
    for actor, url, body in [(op, "", {}), *steps]:
        if url:
            actor.post(url, body)
        status = Status(status_of(op, case))
        allowed = {str(a) for a in allowed_actions(status)}
        shown = offered(sup.fetch(f"/cases/{cid}").text, CENTRE_FORMS)
        assert shown <= allowed, (status, shown - allowed)
        unit_page = handler.fetch(f"/unit/cases/{cid}")
        if unit_page.status_code == 200:
            shown |= offered(unit_page.text, UNIT_FORMS)
            assert shown <= allowed, (status, shown - allowed)
        assert shown or status is Status.ARCHIVED, status
        seen.add(status)
    assert len(seen) == len(steps) + 1, "one status per step"
    op.post(f"/api/cases/{withdrawn['id']}/withdrawal", {"reason": "群众撤回"})
    shown = offered(sup.fetch(f"/cases/{withdrawn['id']}").text, CENTRE_FORMS)
    assert shown == {"archive"} <= {str(a) for a in allowed_actions(Status.WITHDRAWN)}
