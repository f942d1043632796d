"""The unit portal does its job, through its pages and its JSON API alike: a reply sent back
(退回重办) comes with the reviewer's note, the earlier reply (pre-filled for the new one) and
the deadline; replies carry files, stored and refused like the case's evidence; the case's
history shows what the unit may see and nothing about other units; the desk shows the time
left in working days, overdue and due-soon cases highlighted, and the counts of new and
sent-back cases; a refused unit form keeps what was typed. SQLite and a real PostgreSQL
server."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import Settings
from dispatch.cases.handling_models import CaseDeadline
from dispatch.cases.models import Attachment
from recordings.models import ManifestEntry
from tests.api_actor import Actor
from tests.builders import add_user

BEIJING = ZoneInfo("Asia/Shanghai")
NAME, PHONE = "李秀英", "13912345678"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PEOPLE = [
    ("op1", "operator"),
    ("sup1", "supervisor"),
    ("h_env", "unit_handler"),
    ("h_water", "unit_handler"),
]


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    for name, role in PEOPLE:
        add_user(sessions, name, role)
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        supervision_interval_seconds=0,
        attachment_max_bytes=64 * 1024,
        attachment_max_files=3,
    )


@pytest.fixture
def people(settings: Settings) -> Iterator[dict[str, Actor]]:
    with TestClient(create_app(settings), follow_redirects=False) as started:
        actors = {name: Actor(started.app, name) for name, _ in PEOPLE}
        yield actors
        for actor in actors.values():
            actor.client.close()


@pytest.fixture
def units(people: dict[str, Actor]) -> dict[str, str]:
    sup = people["sup1"]
    ids = {}
    for key, name, member in [("env", "市生态环境局", "h_env"), ("water", "市水务局", "h_water")]:
        ids[key] = sup.post("/api/units", {"name": name, "kind": "department"}, status=201)["id"]
        sup.post(f"/api/units/{ids[key]}/members", {"username": member}, status=204)
    return ids


def dispatched(op: Actor, unit_id: str, **changes: Any) -> dict[str, Any]:
    """A complaint registered an hour ago, accepted and dispatched to ``unit_id``."""
    received = dt.datetime.now(BEIJING) - dt.timedelta(hours=1)
    body = {
        "received_at": received.strftime("%Y-%m-%dT%H:%M"),
        "channel": "walk_in",
        "case_type": "complaint",
        "complainant_name": NAME,
        "complainant_phone": PHONE,
        "subject_unit": "东郊化工厂",
        "title": "化工厂夜间排放废气",
        "content": f"我是{NAME}，电话{PHONE}。化工厂每天夜里排放刺鼻废气。",
        "decision": "accept",
        **changes,
    }
    case: dict[str, Any] = op.post("/api/cases", body, status=201)
    op.post(
        f"/api/cases/{case['id']}/dispatch",
        {"lead_unit_id": unit_id, "category": "环境保护", "instructions": "请现场核查并回复"},
    )
    return case


def replied(handler: Actor, case_id: str) -> None:
    handler.post(f"/api/unit/cases/{case_id}/sign")
    handler.post(f"/api/unit/cases/{case_id}/start")
    handler.post(
        f"/api/unit/cases/{case_id}/reply",
        {"facts": "经夜间检查，废气处理设施停运。", "finding": "true", "measures": "责令整改。"},
    )


def text_of(page: str, element_id: str) -> str:
    """The text of the element with this id (its tags dropped; no element of the same tag
    nested in it)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, element_id
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(2))).strip()


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, name
    return html.unescape(found.group(1))


def checked_finding(page: str) -> list[str]:
    return re.findall(r'name="finding" value="(\w+)" checked', page)


def test_a_reply_sent_back_shows_the_note_the_earlier_reply_and_the_deadline(
    people: dict[str, Actor], units: dict[str, str]
) -> None:
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    case = dispatched(op, units["env"])
    replied(handler, case["id"])
    assert handler.get("/api/unit/summary")["sent_back"] == 0
    # The reviewer's note names the complainant's number: the unit (no consent) reads it masked.
    sup.post(
        f"/api/cases/{case['id']}/review",
        {"passed": False, "note": f"核查不充分，请补充夜间监测数据，并回电{PHONE}说明"},
    )

    page = handler.fetch(f"/unit/cases/{case['id']}").text
    note = text_of(page, "review-note")
    assert note.startswith("核查不充分，请补充夜间监测数据") and PHONE not in page
    due = op.get(f"/api/cases/{case['id']}/handling")["deadlines"]
    running = [d for d in due if d["stage"] == "handling" and not d["cancelled"]][-1]
    assert running["due_on"] in text_of(page, "redo-due")
    # The earlier reply is there to start again from.
    assert textarea(page, "facts") == "经夜间检查，废气处理设施停运。"
    assert textarea(page, "measures") == "责令整改。"
    assert checked_finding(page) == ["true"]
    assert "重新提交回复" in page

    # At log-in: the home and the nav count it; so does the API.
    home = handler.fetch("/unit").text
    assert text_of(home, "count-sent-back") == "1"
    assert text_of(home, "nav-unit-counts") == "退回 1"
    row = re.search(rf'<tr class="([^"]*)" data-number="{case["number"]}"', home)
    assert row is not None and "sent-back" in row.group(1).split()
    assert handler.get("/api/unit/summary")["sent_back"] == 1
    [listed] = handler.get("/api/unit/cases")
    assert listed["sent_back"] and listed["time_left"]["due_on"] == running["due_on"]
    [earlier] = handler.get(f"/api/unit/cases/{case['id']}/replies")
    assert earlier["review"] == "returned" and PHONE not in earlier["review_note"]

    # The new reply, through the page with a file: the sent-back notice is gone.
    answer = handler.client.post(
        f"/unit/cases/{case['id']}/reply",
        headers=handler.headers,
        data={"facts": "补充夜间监测：超标两倍。", "finding": "true", "measures": "立案处罚。"},
        files=[("attachments", ("监测报告.pdf", PDF, "application/pdf"))],
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("?sent=1")
    page = handler.fetch(answer.headers["location"]).text
    assert 'id="sent-back"' not in page and "回复已提交" in page
    assert handler.get("/api/unit/summary")["sent_back"] == 0
    newest, older = handler.get(f"/api/unit/cases/{case['id']}/replies")
    assert [a["filename"] for a in newest["attachments"]] == ["监测报告.pdf"]
    assert (newest["review"], older["review"]) == ("", "returned")


def stored_files(settings: Settings) -> list[Path]:
    root = settings.attachments_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_reply_files_are_stored_like_evidence_and_refused_in_chinese(
    people: dict[str, Actor],
    units: dict[str, str],
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    op, handler, other = people["op1"], people["h_env"], people["h_water"]
    case = dispatched(op, units["env"])
    cid = case["id"]
    handler.post(f"/api/unit/cases/{cid}/sign")
    typed = {
        "facts": "现场检查发现排气筒无处理设施。",
        "finding": "partly_true",
        "measures": "已责令停产。",
        "responsible_handling": "对厂长约谈。",
    }

    def page_reply(data: dict[str, str], *files: tuple[str, bytes]) -> Any:
        return handler.client.post(
            f"/unit/cases/{cid}/reply",
            headers=handler.headers,
            data=data,
            files=[
                ("attachments", (name, body, "application/octet-stream")) for name, body in files
            ],
        )

    # A program is not evidence; a file over the limit is refused. Each time the typed reply
    # comes back, with the message at the files' field, and nothing is kept.
    for name, body, message in [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe：文件类型不允许"),
        ("report.pdf", PDF + b"0" * (64 * 1024), "report.pdf：文件过大"),
    ]:
        refused = page_reply(typed, (name, body))
        assert refused.status_code == 422, refused.text
        assert text_of(refused.text, "err-reply-attachments").startswith(message)
        for field in ("facts", "measures", "responsible_handling"):
            assert textarea(refused.text, field) == typed[field]
        assert checked_finding(refused.text) == ["partly_true"]
        assert "所选附件未保存，请重新选择" in refused.text
    # More files than a reply may carry: the request guard refuses the body, in Chinese.
    refused = page_reply(typed, *[(f"p{i}.pdf", PDF) for i in range(4)])
    assert refused.status_code == 422 and "一次最多上传 3 个文件" in refused.text
    # A reply without its finding keeps the rest, and stores none of its files.
    refused = page_reply({**typed, "finding": ""}, ("ok.pdf", PDF))
    assert refused.status_code == 422
    assert text_of(refused.text, "err-reply-finding") == "请选择核实结论"
    assert textarea(refused.text, "facts") == typed["facts"]
    assert stored_files(settings) == []
    with sessions() as session:
        assert session.scalars(select(Attachment)).all() == []

    # The JSON door: the same refusal, as a field error.
    api_refused = handler.client.post(
        f"/api/unit/cases/{cid}/replies",
        headers=handler.headers,
        data=typed,
        files=[("files", ("setup.exe", b"MZ\x90\x00", "application/octet-stream"))],
    )
    assert api_refused.status_code == 422
    assert api_refused.json()["detail"][0]["loc"] == ["body", "attachments"]
    assert stored_files(settings) == []

    # Accepted: the file is kept under a random name with its hash in the manifest, and
    # linked to the reply.
    reply = handler.client.post(
        f"/api/unit/cases/{cid}/replies",
        headers=handler.headers,
        data=typed,
        files=[("files", ("整改通知书.pdf", PDF, "application/pdf"))],
    )
    assert reply.status_code == 201, reply.text
    [attachment] = reply.json()["attachments"]
    assert attachment["content_type"] == "application/pdf" and attachment["size_bytes"] == len(PDF)
    [kept] = stored_files(settings)
    assert kept.read_bytes() == PDF and "整改" not in kept.name
    with sessions() as session:
        row = session.get(Attachment, attachment["id"])
        assert row is not None and row.reply_id == reply.json()["id"]
        entry = session.scalar(
            select(ManifestEntry).where(ManifestEntry.object_id == attachment["id"])
        )
        assert entry is not None and entry.sha256 == attachment["sha256"]
    history = handler.get(f"/api/unit/cases/{cid}/history")
    assert [e["action"] for e in history][-2:] == ["attach", "reply"]

    # The unit and the centre open it; another unit does not even see the case.
    url = f"/api/unit/cases/{cid}/attachments/{attachment['id']}"
    assert handler.fetch(url).content == PDF
    assert other.fetch(url).status_code == 404
    assert op.fetch(f"/api/attachments/{attachment['id']}").content == PDF
    page = handler.fetch(f"/unit/cases/{cid}").text
    assert "整改通知书.pdf" in text_of(page, "reply-1")


def test_the_history_a_unit_reads_holds_nothing_about_other_units(
    people: dict[str, Actor], units: dict[str, str]
) -> None:
    op, sup, env, water = people["op1"], people["sup1"], people["h_env"], people["h_water"]
    case = dispatched(op, units["water"])
    water.post(f"/api/unit/cases/{case['id']}/return", {"reason": "排污监管不属于水务局职责"}, 204)
    op.post(
        f"/api/cases/{case['id']}/dispatch",
        {"lead_unit_id": units["env"], "category": "环境保护", "instructions": "请夜间核查"},
    )
    replied(env, case["id"])
    sup.post(f"/api/cases/{case['id']}/review", {"passed": False, "note": "请补充照片"})

    history = env.get(f"/api/unit/cases/{case['id']}/history")
    assert [(e["label"], e["note"]) for e in history] == [
        ("登记", ""),
        ("受理", ""),
        ("交办", "交本单位主办：请夜间核查"),
        ("签收", ""),
        ("开始办理", ""),
        ("办理回复", "办理结果：属实"),
        ("审核退回重办", "请补充照片"),
    ]
    page = env.fetch(f"/unit/cases/{case['id']}").text
    shown = text_of(page, "unit-history")
    assert "请补充照片" in shown and "审核退回重办" in shown
    for secret in ("市水务局", "h_water", "排污监管不属于水务局职责", NAME, PHONE):
        assert secret not in page
        assert secret not in str(history)
    # The unit that returned it no longer sees the case at all.
    assert water.fetch(f"/unit/cases/{case['id']}").status_code == 404
    assert water.get("/api/unit/cases") == []


# Tuesday 29 September 2026, 10:00 in Beijing: 1-7 October is the National Day holiday.
TUESDAY = dt.datetime(2026, 9, 29, 2, 0, tzinfo=dt.UTC)


def test_the_desk_shows_the_working_days_left_overdue_first_and_the_counts(
    people: dict[str, Actor], units: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    op, handler = people["op1"], people["h_env"]
    with time_machine.travel(TUESDAY, tick=True):
        cases = {key: dispatched(op, units["env"]) for key in ("later", "soon", "late")}
        handler.post(f"/api/unit/cases/{cases['soon']['id']}/sign")
        due = {
            "later": dt.date(2026, 10, 9),
            "soon": dt.date(2026, 9, 30),
            "late": dt.date(2026, 9, 25),
        }
        with transaction(sessions) as session:
            for key, day in due.items():
                session.execute(
                    update(CaseDeadline)
                    .where(
                        CaseDeadline.case_id == cases[key]["id"], CaseDeadline.stage == "handling"
                    )
                    .values(due_on=day)
                )
        listed = handler.get("/api/unit/cases")
        home = handler.fetch("/unit").text
        soon_page = handler.fetch(f"/unit/cases/{cases['soon']['id']}").text

    # Most urgent first; working days: the holiday week does not count.
    assert [(c["number"], c["time_left"]["label"]) for c in listed] == [
        (cases["late"]["number"], "已超期2个工作日"),
        (cases["soon"]["number"], "剩余1个工作日"),
        (cases["later"]["number"], "剩余3个工作日"),
    ]
    assert [c["new"] for c in listed] == [True, False, True]
    rows = re.findall(r'<tr class="([^"]*)" data-number="([^"]+)"', home)
    assert [(number, classes.split()[0]) for classes, number in rows] == [
        (cases["late"]["number"], "due-overdue"),
        (cases["soon"]["number"], "due-due-soon"),
        (cases["later"]["number"], "due-ok"),
    ]
    counts = {k: text_of(home, f"count-{k}") for k in ("new", "sent-back", "overdue", "due-soon")}
    assert counts == {"new": "2", "sent-back": "0", "overdue": "1", "due-soon": "1"}
    assert text_of(home, "nav-unit-counts") == "新 2"
    assert text_of(soon_page, "time-left").endswith("剩余1个工作日")
    assert 'class="time-left due-due-soon"' in soon_page


def test_a_refused_unit_form_keeps_what_was_typed(
    people: dict[str, Actor], units: dict[str, str]
) -> None:
    op, handler = people["op1"], people["h_env"]
    case = dispatched(op, units["env"])
    cid = case["id"]

    refused = handler.client.post(
        f"/unit/cases/{cid}/return", headers=handler.headers, data={"reason": " "}
    )
    assert refused.status_code == 422
    assert text_of(refused.text, "err-return-reason") == "退回须填写理由"

    handler.post(f"/api/unit/cases/{cid}/sign")
    refused = handler.client.post(
        f"/unit/cases/{cid}/extension",
        headers=handler.headers,
        data={"days": "两天", "reason": "需要第三方检测"},
    )
    assert refused.status_code == 422
    assert text_of(refused.text, "err-extension-days") == "请填写延期天数"
    assert 'name="reason" maxlength="1000" value="需要第三方检测"' in refused.text
    # The other forms on the page are not marked.
    assert 'id="err-return-reason"' not in refused.text and "err-reply-" not in refused.text


def test_a_case_reassigned_brings_nothing_of_the_earlier_units_work(
    people: dict[str, Actor], units: dict[str, str]
) -> None:
    op, sup, env, water = people["op1"], people["sup1"], people["h_env"], people["h_water"]
    case = dispatched(op, units["water"])
    cid = case["id"]
    water.post(f"/api/unit/cases/{cid}/sign")
    first = water.client.post(
        f"/api/unit/cases/{cid}/replies",
        headers=water.headers,
        data={"facts": "水务局现场查看", "finding": "untrue", "measures": "无需处理"},
        files=[("files", ("水务局意见.pdf", PDF, "application/pdf"))],
    )
    assert first.status_code == 201, first.text
    water_file = first.json()["attachments"][0]["id"]
    sup.post(f"/api/cases/{cid}/review", {"passed": False, "note": "请水务局补充"})
    sup.post(
        f"/api/cases/{cid}/reassignment",
        {"reason": "应由环保部门办理", "lead_unit_id": units["env"], "category": "环境保护"},
    )

    # The new unit: a new case for it, not a reply of its own sent back.
    assert env.get("/api/unit/summary") == {"new": 1, "sent_back": 0, "overdue": 0, "due_soon": 0}
    assert env.get(f"/api/unit/cases/{cid}/replies") == []
    assert env.get(f"/api/unit/cases/{cid}")["attachments"] == []
    assert env.fetch(f"/api/unit/cases/{cid}/attachments/{water_file}").status_code == 404
    page = env.fetch(f"/unit/cases/{cid}").text
    assert 'id="sent-back"' not in page
    for secret in ("水务局", "请水务局补充", "应由环保部门办理", "h_water"):
        assert secret not in page, secret
        assert secret not in str(env.get(f"/api/unit/cases/{cid}/history")), secret
    # The earlier unit no longer reaches the case, nor its own file through it.
    assert water.fetch(f"/api/unit/cases/{cid}/attachments/{water_file}").status_code == 404
