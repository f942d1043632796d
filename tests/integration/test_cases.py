"""Registration, acceptance, merging, evidence, the work queue and the knowledge base,
through the JSON API and the form pages, on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from asr.models import TranscriptRecord
from core.db import transaction
from core.settings import Settings
from dispatch.cases.models import Attachment, Case, CaseEvent, CaseNumberCounter
from dispatch.intake import call_context, call_queue, case_store, register
from ivr import call_store
from ivr.call_state import CallState
from ivr.models import Call
from recordings.models import Recording
from tests.builders import PASSWORD, T0, add_recorded_call, add_user, recently

ZONE = ZoneInfo("Asia/Shanghai")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    add_user(sessions, "op1", "operator")
    add_user(sessions, "op2", "operator")
    add_user(sessions, "sup1", "supervisor")
    # The calls here are dated T0 and operators read them (the pre-filled form): a window
    # that holds whatever today's date (the window itself: test_transcript_access).
    return Settings(
        data_dir=tmp_path,
        database_url=db_url,
        attachment_max_bytes=4096,
        attachment_max_files=3,
        operator_replay_days=36500,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def log_in(client: TestClient, username: str = "op1") -> dict[str, str]:
    response = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def form(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "received_at": "2026-11-20T09:30",
        "channel": "walk_in",
        "case_type": "complaint",
        "complainant_name": "张三",
        "complainant_phone": "13800138000",
        "subject_unit": "幸福里小区物业",
        "title": "小区物业乱收费",
        "content": "幸福里小区物业每月多收二十元停车费，没有任何收据。",
        "request": "退还多收的费用",
    }
    values.update(changes)
    return values


def register_now(
    sessions: sessionmaker[Session], settings: Settings, actor: str = "op1", **changes: object
) -> Case:
    return register.register(
        sessions, _config(settings), form(**changes), [], actor, dt.datetime.now(dt.UTC)
    )


def _config(settings: Settings) -> register.IntakeConfig:
    return register.IntakeConfig(
        ZONE,
        settings.case_number_format,
        settings.attachments_dir,
        settings.attachment_max_bytes,
        settings.attachment_max_files,
    )


def add_transcript(sessions: sessionmaker[Session], recording_id: str, text: str) -> str:
    with transaction(sessions) as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        record = TranscriptRecord(
            recording_sha256=recording.sha256,
            model="test",
            engine="vosk",
            status="ok",
            reason="",
            resampling="vosk",
            audio_seconds=1.0,
            decode_seconds=0.1,
            channels=["caller"],
            text=text,
            clean_text=text,
            created_at=T0,
            segments=[
                {
                    "channel": "caller",
                    "start": 0.0,
                    "end": 1.0,
                    "text": text,
                    "clean_text": text,
                    "words": [],
                }
            ],
        )
        session.add(record)
        session.flush()
        return record.id


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Case)) or 0,
            session.scalar(select(func.count()).select_from(CaseEvent)) or 0,
            session.scalar(select(func.count()).select_from(Attachment)) or 0,
        )


def test_a_call_is_registered_with_its_number_links_and_first_history_entry(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    started = recently()  # the prefill needs the transcript: within op1's replay window
    call_id, recording_id = add_recorded_call(sessions, tmp_path, "1.1", started_at=started)
    transcript_id = add_transcript(sessions, recording_id, "我要投诉幸福里小区物业乱收费")
    headers = log_in(client)

    context = client.get(f"/api/calls/{call_id}/registration").json()
    assert context["form"]["complainant_phone"] == "13800138000"
    assert context["form"]["received_at"] == f"{started.astimezone(ZONE):%Y-%m-%dT%H:%M}"
    assert context["form"]["case_type"] == "complaint" and context["type_reason"] == "投诉"
    assert context["subjects"] == ["幸福里小区物业"]

    response = client.post(
        "/api/cases", json={**form(channel="phone"), "call_id": call_id}, headers=headers
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["number"] == "TS202611200001"
    assert (case["call_id"], case["recording_id"], case["transcript_id"]) == (
        call_id,
        recording_id,
        transcript_id,
    )
    assert case["status"] == "registered"
    [first] = case["history"]
    assert (first["actor"], first["action"], first["to_status"]) == (
        "op1",
        "register",
        "registered",
    )

    again = client.post(
        "/api/cases", json={**form(channel="phone"), "call_id": call_id}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["case_number"] == "TS202611200001"
    assert [c["id"] for c in client.get("/api/queue").json()] == []


def test_numbers_follow_the_format_setting_and_restart_each_day(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    first = register_now(sessions, settings, received_at="2026-11-20T23:59")
    second = register_now(sessions, settings, received_at="2026-11-20T08:00")
    third = register_now(sessions, settings, received_at="2026-11-21T00:01")
    assert [first.number, second.number, third.number] == [
        "TS202611200001",
        "TS202611200002",
        "TS202611210001",
    ]
    custom = settings.model_copy(update={"case_number_format": "12345-{date:%y%m}-{seq:05d}"})
    assert register_now(sessions, custom).number.startswith("12345-")


def test_concurrent_saves_get_distinct_numbers(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    workers = 8
    barrier = threading.Barrier(workers)
    numbers: list[str] = []
    failures: list[BaseException] = []

    def save(index: int) -> None:
        barrier.wait()
        try:
            case = register_now(sessions, settings, actor=f"op{index}")
            numbers.append(case.number)
        except BaseException as exc:  # collected and reported below
            failures.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert sorted(numbers) == [f"TS20261120{n:04d}" for n in range(1, workers + 1)]


def test_two_operators_saving_at_once_through_the_api_get_two_numbers(
    client: TestClient, settings: Settings
) -> None:
    clients = [TestClient(client.app, follow_redirects=False) for _ in range(2)]
    headers = [log_in(c, name) for c, name in zip(clients, ("op1", "op2"), strict=True)]
    barrier = threading.Barrier(2)
    results: list[int | str] = []

    def save(index: int) -> None:
        barrier.wait()
        response = clients[index].post("/api/cases", json=form(), headers=headers[index])
        results.append(
            response.json()["number"] if response.status_code == 201 else response.status_code
        )

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(map(str, results)) == ["TS202611200001", "TS202611200002"]


def test_a_failed_save_leaves_no_half_written_case_and_no_file(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full while writing the history")

    monkeypatch.setattr(case_store, "add_event", broken)
    with pytest.raises(RuntimeError):
        register.register(
            sessions,
            _config(settings),
            form(channel="letter"),
            [register.Upload("letter.pdf", io.BytesIO(PDF))],
            "op1",
            dt.datetime.now(dt.UTC),
        )
    assert counts(sessions) == (0, 0, 0)
    assert [p for p in settings.attachments_dir.rglob("*") if p.is_file()] == []
    with sessions() as session:  # the counter rolled back too: no number was burnt
        assert session.scalar(select(CaseNumberCounter.value)) is None
    monkeypatch.undo()
    assert register_now(sessions, settings).number == "TS202611200001"


def test_invalid_input_is_refused_field_by_field_and_nothing_is_written(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    headers = log_in(client)
    response = client.post(
        "/api/cases",
        headers=headers,
        json=form(complainant_phone="12345", complainant_name="", title="", subject_unit=""),
    )
    assert response.status_code == 422
    errors = {e["loc"][-1]: e["msg"] for e in response.json()["detail"]}
    assert set(errors) == {"complainant_phone", "complainant_name", "title", "subject_unit"}
    assert "phone" in errors["complainant_phone"]
    assert counts(sessions) == (0, 0, 0)


def test_the_form_page_shows_chinese_messages_at_the_fields(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    call_id, _ = add_recorded_call(sessions, tmp_path, "2.1")
    headers = log_in(client)
    data = {**form(complainant_phone="12345"), "csrf_token": headers["X-CSRF-Token"]}
    page = client.post(f"/calls/{call_id}/register", data=data)
    assert page.status_code == 422
    field = re.search(
        r'<span class="error" data-error-for="complainant_phone"[^>]*>([^<]*)<', page.text
    )
    assert field is not None and field.group(1).startswith("联系电话格式不正确")
    assert 'value="12345"' in page.text  # what was typed stays in the form
    assert counts(sessions) == (0, 0, 0)

    data["complainant_phone"] = "010-62345678"
    data["title"] = "<script>alert(1)</script>物业"
    saved = client.post(f"/calls/{call_id}/register", data=data)
    assert saved.status_code == 303
    case_page = client.get(saved.headers["location"])
    assert "案件编号" in case_page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;物业" in case_page.text
    assert "<script>alert(1)" not in case_page.text
    assert "script-src 'self'" in case_page.headers["content-security-policy"]


def test_acceptance_decisions_and_their_history(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    headers = log_in(client)
    accepted = register_now(sessions, settings)
    response = client.post(
        f"/api/cases/{accepted.number}/decision", headers=headers, json={"decision": "accept"}
    )
    assert response.json()["status"] == "accepted"
    assert [e["action"] for e in response.json()["history"]] == ["register", "accept"]
    twice = client.post(
        f"/api/cases/{accepted.id}/decision",
        headers=headers,
        json={"decision": "reject", "reason": "x", "refer_to": "y"},
    )
    assert twice.status_code == 409

    rejected = register_now(sessions, settings)
    missing = client.post(
        f"/api/cases/{rejected.id}/decision", headers=headers, json={"decision": "reject"}
    )
    assert missing.status_code == 422
    done = client.post(
        f"/api/cases/{rejected.id}/decision",
        headers=headers,
        json={"decision": "reject", "reason": "该事项已进入诉讼程序", "refer_to": "南山区人民法院"},
    ).json()
    assert done["status"] == "rejected"
    assert "该事项已进入诉讼程序" in done["reply_text"] and "南山区人民法院" in done["reply_text"]

    sup = TestClient(client.app, follow_redirects=False)
    sup_headers = log_in(sup, "sup1")
    entry = sup.post(
        "/api/knowledge",
        headers=sup_headers,
        json={
            "question": "如何办理居住证",
            "answer": "携带身份证和租房合同到社区服务中心申请。",
            "keywords": "居住证 暂住证",
            "owner_unit": "市公安局",
        },
    ).json()
    on_spot = register_now(sessions, settings, case_type="consultation", subject_unit="")
    closed = client.post(
        f"/api/cases/{on_spot.id}/decision",
        headers=headers,
        json={"decision": "on_spot", "knowledge_entry_id": entry["id"]},
    ).json()
    assert closed["status"] == "closed"
    assert closed["reply_text"] == "携带身份证和租房合同到社区服务中心申请。"
    assert closed["knowledge_entry_id"] == entry["id"]


def test_registration_with_an_on_the_spot_answer_closes_at_once(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    case = register_now(
        sessions,
        settings,
        case_type="consultation",
        subject_unit="",
        decision="on_spot",
        reply_text="工作日9点到17点可以办理。",
    )
    assert case.status == "closed"
    with sessions() as session:
        actions = [
            e.action
            for e in session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        ]
    assert actions == ["register", "answer_on_spot"]


def test_repeats_and_similar_cases_are_found_and_merged_with_a_reason(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    headers = log_in(client)
    first = register_now(sessions, settings)
    other = register_now(
        sessions,
        settings,
        complainant_phone="13900000000",
        content="幸福里小区的物业每个月多收停车费二十元，也不给收据。",
    )
    unrelated = register_now(
        sessions,
        settings,
        complainant_phone="13700000000",
        title="路灯不亮",
        content="滨河路的路灯坏了一个月没人修。",
    )
    related = client.get(
        "/api/cases/related", params={"phone": "13800138000", "text": "幸福里小区物业多收停车费"}
    ).json()
    assert [c["number"] for c in related["same_phone_unfinished"]] == [first.number]
    similar = [s["case"]["number"] for s in related["similar"]]
    assert first.number in similar and other.number in similar
    assert unrelated.number not in similar

    no_reason = client.post(
        f"/api/cases/{other.id}/merge", headers=headers, json={"into": first.number, "reason": " "}
    )
    assert no_reason.status_code == 422
    merged = client.post(
        f"/api/cases/{other.id}/merge",
        headers=headers,
        json={"into": first.number, "reason": "同一事项重复反映"},
    ).json()
    assert merged["status"] == "merged" and merged["merged_into_id"] == first.id
    target = client.get(f"/api/cases/{first.number}").json()
    assert "同一事项重复反映" in target["history"][-1]["note"]
    closed_target = client.post(
        f"/api/cases/{unrelated.id}/merge",
        headers=headers,
        json={"into": other.number, "reason": "重复"},
    )
    assert closed_target.status_code == 409


def test_evidence_is_checked_stored_and_served_only_by_id(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    headers = log_in(client)
    case = register_now(sessions, settings, channel="letter")
    ok = client.post(
        f"/api/cases/{case.id}/attachments",
        headers=headers,
        files=[("files", ("来信.pdf", PDF, "application/pdf"))],
    )
    assert ok.status_code == 201, ok.text
    [attachment] = ok.json()
    download = client.get(f"/api/attachments/{attachment['id']}")
    assert download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"

    before = sorted(p for p in settings.attachments_dir.rglob("*") if p.is_file())
    for name, content in (
        ("x.pdf", b"\x7fELF\x02\x01\x01" + bytes(50)),
        ("big.pdf", b"%PDF-" + bytes(5000)),
        ("empty.txt", b""),
    ):
        refused = client.post(
            f"/api/cases/{case.id}/attachments",
            headers=headers,
            files=[("files", (name, content, "application/pdf"))],
        )
        assert refused.status_code == 422, name
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "attachments"] and name in error["msg"]
    assert sorted(p for p in settings.attachments_dir.rglob("*") if p.is_file()) == before
    for bad in ("../../etc/passwd", "..%2F..%2Fhotline.db", "0" * 32):
        assert client.get(f"/api/attachments/{bad}").status_code == 404


def test_other_channels_register_through_the_form_with_evidence(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    headers = log_in(client)
    data = {
        **form(channel="walk_in", complainant_name="李四"),
        "csrf_token": headers["X-CSRF-Token"],
    }
    response = client.post(
        "/cases",
        data=data,
        files=[
            ("attachments", ("收据.pdf", PDF, "application/pdf")),
            ("attachments", ("说明.txt", "多收停车费的说明".encode(), "text/plain")),
        ],
    )
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert "收据.pdf" in page.text and "说明.txt" in page.text
    with sessions() as session:
        [case] = session.scalars(select(Case))
        assert case.channel == "walk_in"
        assert [e.action for e in case.history] == ["register", "attach"]
        assert {a.content_type for a in case.attachments} == {
            "application/pdf",
            "text/plain; charset=utf-8",
        }
    refused = client.post(
        "/cases",
        data=data,
        files=[("attachments", ("a.exe", b"MZ\x90\x00" + bytes(10), "application/octet-stream"))],
    )
    assert refused.status_code == 422
    assert "文件类型不允许" in refused.text
    assert counts(sessions)[0] == 1


def test_the_queue_puts_real_names_first_then_newest(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    headers = log_in(client)
    anonymous_old, _ = add_recorded_call(sessions, tmp_path, "3.1")
    with transaction(sessions) as session:  # newer callers: one named on an earlier case
        for uid, number, name, hours in [
            ("3.2", "13700000000", "", 1),
            ("3.3", "13600000000", "王五", 2),  # the caller ID's name: not a real name
        ]:
            session.add(
                Call(
                    asterisk_uniqueid=uid,
                    caller_number=number,
                    caller_name=name,
                    started_at=T0 + dt.timedelta(hours=hours),
                    outcome="message_left",
                )
            )
    register_now(sessions, settings, complainant_phone="13700000000", complainant_name="赵六")
    queue = client.get("/api/queue").json()
    assert queue[0]["real_name"] and queue[0]["known_name"] == "赵六"
    assert not queue[1]["real_name"] and queue[1]["known_name"] == "王五"
    assert [item["call"]["asterisk_uniqueid"] for item in queue] == ["3.2", "3.3", "3.1"]

    dismissed = client.post(
        f"/api/calls/{anonymous_old}/dismissal", headers=headers, json={"reason": "无声来电"}
    )
    assert dismissed.status_code == 204
    assert [i["call"]["asterisk_uniqueid"] for i in client.get("/api/queue").json()] == [
        "3.2",
        "3.3",
    ]


def test_callbacks_record_every_attempt_until_one_settles_it(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    headers = log_in(client)
    state = CallState(
        "4.1",
        caller_number="13500000000",
        started_at=T0,
        notice_finished_at=T0,
        queued_at=T0,
        abandoned_at=T0,
        ended_at=T0 + dt.timedelta(seconds=20),
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)
    [callback] = client.get("/api/callbacks").json()
    url = f"/api/callbacks/{callback['id']}/attempts"
    assert client.post(url, headers=headers, json={"outcome": "nonsense"}).status_code == 422
    assert client.post(url, headers=headers, json={"outcome": "no_answer"}).status_code == 201
    [pending] = client.get("/api/callbacks").json()
    assert [a["outcome"] for a in pending["attempts"]] == ["no_answer"]
    assert (
        client.post(
            url, headers=headers, json={"outcome": "reached", "note": "已回拨，来电人稍后再来电"}
        ).status_code
        == 201
    )
    assert client.get("/api/callbacks").json() == []
    [done] = client.get("/api/callbacks", params={"include_done": True}).json()
    assert [a["outcome"] for a in done["attempts"]] == ["no_answer", "reached"]
    assert client.post(url, headers=headers, json={"outcome": "busy"}).status_code == 422


def test_the_knowledge_base_finds_entries_by_a_phrase_that_is_not_their_title(
    client: TestClient,
) -> None:
    sup_headers = log_in(client, "sup1")
    entries = [
        ("如何办理居住证", "携带身份证、租房合同到社区服务中心申请。", "居住证 暂住证"),
        ("社保卡丢失怎么补办", "到社保经办机构或合作银行网点挂失补办。", "社保卡 补卡"),
        ("夜间施工噪音扰民找谁", "夜间施工噪音由生态环境部门查处。", "噪音 施工 扰民"),
    ]
    for question, answer, keywords in entries:
        created = client.post(
            "/api/knowledge",
            headers=sup_headers,
            json={"question": question, "answer": answer, "keywords": keywords},
        )
        assert created.status_code == 201
    operator = TestClient(client.app, follow_redirects=False)
    op_headers = log_in(operator, "op1")
    for phrase, expected in (
        ("我想问一下暂住证去哪里申请", "如何办理居住证"),
        ("社保卡掉了能补吗", "社保卡丢失怎么补办"),
        ("半夜工地施工噪音太大", "夜间施工噪音扰民找谁"),
    ):
        hits = operator.get("/api/knowledge", params={"q": phrase}).json()
        assert hits and hits[0]["entry"]["question"] == expected, (phrase, hits)
    assert operator.get("/api/knowledge", params={"q": "护照签证"}).json() == []
    refused = operator.post(
        "/api/knowledge", headers=op_headers, json={"question": "q", "answer": "a"}
    )
    assert refused.status_code == 403
    [hit] = operator.get("/api/knowledge", params={"q": "社保卡掉了"}).json()
    retired = client.delete(f"/api/knowledge/{hit['entry']['id']}", headers=sup_headers)
    assert retired.status_code == 204
    assert operator.get("/api/knowledge", params={"q": "社保卡掉了"}).json() == []


def test_the_openapi_schema_documents_the_console_api(client: TestClient) -> None:
    log_in(client)
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/cases",
        "/api/cases/{case_key}",
        "/api/cases/{case_key}/decision",
        "/api/cases/{case_key}/merge",
        "/api/cases/{case_key}/attachments",
        "/api/calls/{call_id}/registration",
        "/api/queue",
        "/api/callbacks",
        "/api/callbacks/{request_id}/attempts",
        "/api/knowledge",
        "/api/console/events",
        "/api/recordings/{recording_id}/waveform",
    ):
        assert path in paths, path
    assert not any(p.startswith(("/calls", "/cases", "/knowledge")) for p in paths)


def test_a_refused_workbench_action_comes_back_with_a_chinese_message(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    headers = log_in(client)
    call_id, _ = add_recorded_call(sessions, tmp_path, "5.1")
    state = CallState(
        "5.2",
        caller_number="13500000000",
        started_at=T0,
        notice_finished_at=T0,
        queued_at=T0,
        abandoned_at=T0,
        ended_at=T0 + dt.timedelta(seconds=20),
    )
    with transaction(sessions) as session:
        call_store.save_state(session, state)
    [callback] = client.get("/api/callbacks").json()
    token = {"csrf_token": headers["X-CSRF-Token"]}
    no_outcome = client.post(f"/callbacks/{callback['id']}/attempts", data=token)
    assert no_outcome.status_code == 422 and "请选择回拨结果" in no_outcome.text
    no_reason = client.post(f"/calls/{call_id}/dismissal", data={**token, "reason": " "})
    assert no_reason.status_code == 422 and "请填写无需登记的原因" in no_reason.text
    done = client.post(f"/calls/{call_id}/dismissal", data={**token, "reason": "打错电话"})
    assert done.status_code == 303
    again = client.post(f"/calls/{call_id}/dismissal", data={**token, "reason": "打错电话"})
    assert again.status_code == 422 and "该来电已标记为无需登记" in again.text
    assert (
        client.post(f"/calls/{'0' * 32}/dismissal", data={**token, "reason": "x"}).status_code
        == 404
    )


def test_a_known_caller_is_named_alike_in_the_queue_and_on_the_form(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    """One rule for the caller's known name: a caller ID that is a phone number, written as
    cases hold it ("+86" dropped), matched to the latest real-name case; an extension or a
    withheld number looks nothing up."""
    register_now(sessions, settings, complainant_phone="13912340002", complainant_name="周七")
    register_now(sessions, settings, complainant_phone="13912340002", complainant_name="周八")
    register_now(sessions, settings, complainant_phone="13912340002", anonymous="on")
    assert call_queue.caller_phone("+86 139 1234 0002") == "13912340002"
    assert call_queue.caller_phone("anonymous") == call_queue.caller_phone("1001") == ""
    with transaction(sessions) as session:
        for uid, number in [("5.1", "+8613912340002"), ("5.2", "13912340002"), ("5.3", "1001")]:
            session.add(
                Call(asterisk_uniqueid=uid, caller_number=number, started_at=T0, outcome="answered")
            )
    with sessions() as session:
        calls = {c.asterisk_uniqueid: c for c in session.scalars(select(Call))}
        queued = {w.call.asterisk_uniqueid: w.known_name for w in call_queue.waiting_calls(session)}
        assert queued == {"5.1": "周八", "5.2": "周八", "5.3": ""}
        for uid, name in queued.items():
            assert call_queue.known_name(session, calls[uid]) == name
            form = call_context.build(session, calls[uid], ZONE, T0, 30, readable=False).form
            assert form["complainant_name"] == name
