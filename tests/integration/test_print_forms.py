"""Print forms (issue 17 item 4) through the console's routes: each form of a handled case as
an A4 page and as PDF (its text read back with pypdf), with the centre's name, the case
number and Beijing times; the complainant masked on what a unit reads, and a unit's handler
printing only its own case's 转办单, 督办单 and 答复意见书; other roles refused. SQLite and a
real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import Settings
from dispatch.handling import supervision
from tests.api_actor import Actor
from tests.builders import add_user

BEIJING = ZoneInfo("Asia/Shanghai")
CENTRE = "唐河县12345政务服务热线"
NAME, PHONE = "李秀英", "13912345678"
PEOPLE = [
    ("op1", "operator"),
    ("sup1", "supervisor"),
    ("h_env", "unit_handler"),
    ("h_water", "unit_handler"),
    ("aud1", "auditor"),
    ("inv1", "investigator"),
    ("adm1", "admin"),
]


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name, role in PEOPLE:
        add_user(sessions, name, role)
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        integrity_check_interval_seconds=0,
        bulletin_interval_seconds=0,
        centre_name=CENTRE,
    )


@pytest.fixture
def people(settings: Settings) -> Iterator[dict[str, Actor]]:
    with TestClient(create_app(settings), follow_redirects=False) as started:
        actors = {name: Actor(started.app, name) for name, _ in PEOPLE}
        yield actors
        for actor in actors.values():
            actor.client.close()


def register(op: Actor, **changes: Any) -> dict[str, Any]:
    received = dt.datetime.now(BEIJING) - dt.timedelta(hours=2)
    body = {
        "received_at": received.strftime("%Y-%m-%dT%H:%M"),
        "channel": "walk_in",
        "case_type": "complaint",
        "complainant_name": NAME,
        "complainant_phone": PHONE,
        "complainant_address": "东郊幸福小区3号楼",
        "subject_unit": "东郊化工厂",
        "subject_window": "环保审批窗口",
        "title": "化工厂夜间排放废气",
        "content": f"我是{NAME}，电话{PHONE}。化工厂每天夜里排放刺鼻废气。",
        "request": "请环保部门查处",
        "decision": "accept",
        **changes,
    }
    case: dict[str, Any] = op.post("/api/cases", body, status=201)
    return case


@pytest.fixture
def world(people: dict[str, Actor]) -> dict[str, Any]:
    """A case dispatched to 市生态环境局 with a 延期, a 催办, a reply passed and the citizen's
    rating; a case of 市水务局; a case refused (不予受理)."""
    op, sup, env = people["op1"], people["sup1"], people["h_env"]
    units = {}
    for key, name, member in [("env", "市生态环境局", "h_env"), ("water", "市水务局", "h_water")]:
        units[key] = sup.post("/api/units", {"name": name, "kind": "department"}, status=201)["id"]
        sup.post(f"/api/units/{units[key]}/members", {"username": member}, status=204)
    case = register(op)
    number = case["number"]
    op.post(
        f"/api/cases/{number}/dispatch",
        {"lead_unit_id": units["env"], "category": "环境保护", "instructions": "请现场核查"},
    )
    env.post(f"/api/unit/cases/{number}/sign")
    env.post(f"/api/unit/cases/{number}/start")
    ext = env.post(f"/api/unit/cases/{number}/extension", {"days": 5, "reason": "需要委托检测"})
    sup.post(f"/api/extensions/{ext['id']}/decision", {"approve": True, "note": "同意"})
    sup.post(f"/api/cases/{number}/reminders", {"reason": "群众反映强烈，请加快办理"})
    env.post(
        f"/api/unit/cases/{number}/reply",
        {
            "facts": f"经夜间检查，废气处理设施停运（来电人{NAME}反映属实）。",
            "finding": "true",
            "measures": "责令停产整改。",
        },
    )
    sup.post(f"/api/cases/{number}/review", {"passed": True})
    water_case = register(op, title="自来水水压不足", content="三楼以上水压不足。")
    op.post(
        f"/api/cases/{water_case['number']}/dispatch",
        {"lead_unit_id": units["water"], "category": "供水"},
    )
    refused = register(
        op,
        decision="reject",
        decision_reason="属于法院诉讼程序，不在本中心受理范围",
        refer_to="县人民法院",
        title="离婚财产分割纠纷",
        content="要求分割财产。",
    )
    return {"case": case, "water": water_case, "refused": refused, "units": units}


def cell(page: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, element_id
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(2))).strip()


def pdf_text(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def compact(text: str) -> str:
    """PDF text without the line breaks and spaces the layout put in."""
    return re.sub(r"\s+", "", text)


def test_the_centre_prints_every_form_with_its_name_number_and_beijing_times(
    people: dict[str, Actor], world: dict[str, Any]
) -> None:
    sup = people["sup1"]
    case = world["case"]
    number = case["number"]
    for form, title in [
        ("registration", "咨询投诉登记表"),
        ("transfer", "转办单"),
        ("supervision", "催办通知书"),
        ("extension", "延期告知书"),
        ("reply", "答复意见书"),
    ]:
        page = sup.fetch(f"/cases/{case['id']}/print/{form}")
        assert page.status_code == 200, (form, page.text)
        text = page.text
        assert cell(text, "doc-title") == title
        assert cell(text, "centre-name") == CENTRE
        assert number in cell(text, "case-number")
        assert '<header class="top">' not in text  # no navigation
        assert "/static/print.css" in text
    registration = sup.fetch(f"/cases/{number}/print/registration").text
    received = dt.datetime.fromisoformat(case["received_at"]).astimezone(BEIJING)
    assert received.strftime("%Y-%m-%d %H:%M") in registration
    assert cell(registration, "f-name") == NAME
    assert cell(registration, "f-phone") == PHONE  # the centre's form, not confidential
    assert cell(registration, "f-content").startswith(f"我是{NAME}")
    assert "（北京时间）" in cell(registration, "printed-at")

    transfer = sup.fetch(f"/cases/{number}/print/transfer").text
    assert cell(transfer, "f-lead") == "市生态环境局"
    assert cell(transfer, "f-instructions") == "请现场核查"
    # What the unit receives: no consent to share the identity, so masked.
    assert NAME not in transfer and PHONE not in transfer
    assert cell(transfer, "f-name") == "（诉求人信息已保密）"

    reminder = sup.fetch(f"/cases/{number}/print/supervision").text
    assert cell(reminder, "f-reason") == "群众反映强烈，请加快办理"
    assert cell(reminder, "f-issuer") == "sup1"
    extension = sup.fetch(f"/cases/{number}/print/extension").text
    assert (
        "需要委托检测" in cell(extension, "letter") and cell(extension, "letter-to") == f"{NAME}："
    )
    reply = sup.fetch(f"/cases/{number}/print/reply").text
    assert cell(reply, "f-finding") == "属实" and cell(reply, "f-review").startswith("审核通过")

    refused = sup.fetch(f"/cases/{world['refused']['id']}/print/rejection").text
    letter = cell(refused, "letter")
    assert "决定不予受理" in letter and "县人民法院" in letter
    # A form the case does not have: a Chinese page saying so.
    missing = sup.fetch(f"/cases/{number}/print/rejection", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "没有作出不予受理决定" in missing.text
    assert sup.fetch(f"/cases/{number}/print/nonsense").status_code == 404


def test_a_registration_form_as_pdf_holds_the_cases_fields(
    people: dict[str, Actor], world: dict[str, Any]
) -> None:
    case = world["case"]
    response = people["op1"].fetch(f"/cases/{case['id']}/print/registration.pdf")
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    text = compact(pdf_text(response))
    for expected in (CENTRE, "咨询投诉登记表", case["number"], NAME, PHONE, "化工厂每天夜里排放"):
        assert expected in text, expected


def test_a_confidential_complainants_phone_is_masked_on_the_registration_form(
    people: dict[str, Actor], world: dict[str, Any]
) -> None:
    op = people["op1"]
    secret = register(op, confidential=True)
    page = op.fetch(f"/cases/{secret['id']}/print/registration").text
    assert cell(page, "f-phone") == "139****5678"
    assert cell(page, "f-address") == "（已保密）"
    assert cell(page, "f-name") == NAME
    anonymous = register(op, anonymous=True, complainant_name="")
    page = op.fetch(f"/cases/{anonymous['id']}/print/registration").text
    assert cell(page, "f-name") == "匿名" and cell(page, "f-phone") == "139****5678"
    text = compact(pdf_text(op.fetch(f"/cases/{anonymous['id']}/print/registration.pdf")))
    assert "139****5678" in text and PHONE not in text and "匿名" in text


def test_a_unit_prints_only_its_own_cases_forms_masked(
    people: dict[str, Actor], world: dict[str, Any]
) -> None:
    env, water = people["h_env"], people["h_water"]
    case = world["case"]
    number = case["number"]
    for form in ("transfer", "supervision", "reply"):
        page = env.fetch(f"/cases/{number}/print/{form}")
        assert page.status_code == 200, (form, page.text)
        assert NAME not in page.text and PHONE not in page.text, form
        assert f'href="/unit/cases/{case["id"]}"' in page.text  # back to the unit's page
    reply = env.fetch(f"/cases/{number}/print/reply").text
    assert "＊＊＊" in cell(reply, "f-facts")  # the name taken out of the unit's own text
    text = compact(pdf_text(env.fetch(f"/cases/{number}/print/transfer.pdf")))
    assert number in text and NAME not in text and PHONE not in text
    # Not the unit's forms: the registration form and the letters to the citizen.
    for form in ("registration", "extension", "rejection"):
        assert env.fetch(f"/cases/{number}/print/{form}").status_code == 403, form
    # Another unit's case is not found, as on the unit's own pages.
    assert water.fetch(f"/cases/{number}/print/transfer").status_code == 404
    assert water.fetch(f"/cases/{number}/print/transfer.pdf").status_code == 404
    own = water.fetch(f"/cases/{world['water']['number']}/print/transfer")
    assert own.status_code == 200 and cell(own.text, "f-lead") == "市水务局"


@pytest.mark.parametrize("who", ["aud1", "inv1", "adm1"])
def test_other_roles_print_nothing(
    people: dict[str, Actor], world: dict[str, Any], who: str
) -> None:
    number = world["case"]["number"]
    page = people[who].fetch(f"/cases/{number}/print/registration", headers={"accept": "text/html"})
    assert page.status_code == 403 and "没有权限" in page.text
    assert people[who].fetch(f"/cases/{number}/print/transfer.pdf").status_code == 403


def test_the_yellow_and_red_cards_print_as_supervision_forms(
    people: dict[str, Actor], world: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    sup, water = people["sup1"], people["h_water"]
    case = world["water"]  # dispatched to 市水务局, never answered
    app = sup.client.app
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)  # long past its deadline
    with transaction(sessions) as session:
        issued = supervision.run(session, app.state.rules.rules(), later)  # type: ignore[attr-defined]
    kinds = sorted(i.kind.value for i in issued if i.case_number == case["number"])
    assert kinds == ["red", "yellow"]
    with sessions() as session:
        records = {r.kind: r.id for r in supervision.records(session, case["id"])}
    red = sup.fetch(f"/cases/{case['id']}/print/supervision").text  # the latest card
    assert cell(red, "doc-title") == "督办单（红牌）"
    assert cell(red, "f-issuer") == "系统（督办）" and cell(red, "f-unit") == "市水务局"
    assert "【红牌督办】" in cell(red, "f-message") and "书面说明超期原因" in cell(red, "f-ask")
    yellow = water.fetch(f"/cases/{case['number']}/print/supervision?record={records['yellow']}")
    assert yellow.status_code == 200 and cell(yellow.text, "doc-title") == "督办单（黄牌）"
    assert NAME not in yellow.text and PHONE not in yellow.text
    text = compact(pdf_text(water.fetch(f"/cases/{case['id']}/print/supervision.pdf")))
    assert "督办单（红牌）" in text and case["number"] in text
    # A record of another case, or none such: not found.
    other = sup.fetch(f"/cases/{world['case']['id']}/print/supervision?record={records['red']}")
    assert other.status_code == 404


def links_of(page: str) -> list[str]:
    bar = re.search(r'<nav class="print-links" id="print-links"[^>]*>(.*?)</nav>', page, re.S)
    assert bar, "no print links"
    return re.findall(r'href="([^"]+)"', html.unescape(bar.group(1)))


def test_the_case_pages_link_to_the_forms_the_case_has(
    people: dict[str, Actor], world: dict[str, Any]
) -> None:
    case = world["case"]
    base = f"/cases/{case['id']}/print"
    links = links_of(people["sup1"].fetch(f"/cases/{case['id']}").text)
    assert links[:2] == [f"{base}/registration", f"{base}/transfer"]
    assert any(link.startswith(f"{base}/supervision?record=") for link in links)
    assert any(link.startswith(f"{base}/extension?extension=") for link in links)
    assert f"{base}/reply" in links and f"{base}/rejection" not in links
    refused = world["refused"]["id"]
    assert f"/cases/{refused}/print/rejection" in links_of(
        people["op1"].fetch(f"/cases/{refused}").text
    )
    # The unit's page: only the unit's own forms, and each one opens.
    unit_links = links_of(people["h_env"].fetch(f"/unit/cases/{case['id']}").text)
    assert unit_links == [f"{base}/transfer", f"{base}/supervision", f"{base}/reply"]
    for link in unit_links:
        assert people["h_env"].fetch(link).status_code == 200, link
