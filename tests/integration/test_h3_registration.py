"""The call page's registration on SQLite and a real PostgreSQL server: a repeat caller's
unfinished cases (at a unit too) listed and 并单 into one at a unit, from a new call and
from a case page; one phone rule for the form's check and the save; correcting a saved
registration (更正登记) at both doors; what the console says with no speech model; the
addresses a form posts to answered for GET (back after logging in again)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import Settings
from dispatch.cases.models import Case, CaseEvent
from dispatch.cases.registration import Decision
from dispatch.deadlines.policy import HOTLINE
from dispatch.deadlines.stage_clocks import Rules
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling import steps
from dispatch.handling.steps import DispatchOrder, Mode
from dispatch.intake import case_store, register
from dispatch.routing import units
from tests.builders import KOREAN_MODEL, PASSWORD, add_recorded_call, add_user, recently

ZONE = ZoneInfo("Asia/Shanghai")
RULES = Rules(WorkingCalendar(), HOTLINE, ZONE)
CALLER = "13800138000"  # add_recorded_call's caller


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    add_user(sessions, "op1", "operator")
    return Settings(data_dir=tmp_path, database_url=db_url, operator_replay_days=36500)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def log_in(client: TestClient) -> str:
    response = client.post("/api/session", json={"username": "op1", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def form(**changes: str) -> dict[str, str]:
    return {
        "received_at": (now() - dt.timedelta(hours=2)).astimezone(ZONE).strftime("%Y-%m-%dT%H:%M"),
        "channel": "walk_in",
        "case_type": "complaint",
        "complainant_name": "张三",
        "complainant_phone": CALLER,
        "subject_unit": "幸福里小区物业",
        "title": "小区物业乱收费",
        "content": "幸福里小区物业每月多收二十元停车费，没有任何收据。",
        "decision": "",
        **changes,
    }


def registered(
    sessions: sessionmaker[Session], settings: Settings, **changes: str
) -> tuple[str, str]:
    case = register.register(
        sessions,
        register.IntakeConfig(
            ZONE,
            settings.case_number_format,
            settings.attachments_dir,
            settings.attachment_max_bytes,
            settings.attachment_max_files,
            RULES,
        ),
        form(**changes),
        [],
        "op1",
        now(),
    )
    return case.id, case.number


def at_unit(sessions: sessionmaker[Session], settings: Settings) -> tuple[str, str]:
    """A case of the caller's number, accepted and dispatched to 市住建局: (id, number)."""
    case_id, number = registered(sessions, settings, decision="accept")
    with transaction(sessions) as session:
        unit = units.create_unit(session, "市住建局", "department", now())
        case = session.get(Case, case_id)
        assert case is not None
        steps.dispatch(
            session,
            case,
            DispatchOrder(unit.id, Mode.TRANSFER, category="物业管理"),
            "op1",
            now(),
            RULES,
        )
        assert case.status == "dispatched"
    return case_id, number


def history(sessions: sessionmaker[Session], case_id: str) -> list[CaseEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )


def status_of(sessions: sessionmaker[Session], case_id: str) -> tuple[str, str | None]:
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.status, case.merged_into_id


def case_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def same_phone_block(page: str) -> str:
    found = re.search(r'<ul id="same-phone".*?</ul>', page, re.S)
    assert found is not None
    return found.group(0)


def test_a_repeat_callers_case_at_a_unit_is_listed_and_the_new_call_merged_into_it(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    token = log_in(client)
    target_id, target_number = at_unit(sessions, settings)
    call_id, _ = add_recorded_call(sessions, settings.data_dir, "8.1", started_at=recently())

    page = client.get(f"/calls/{call_id}").text
    listed = same_phone_block(page)
    assert target_number in listed and "已交办待签收" in listed and "承办：市住建局" in listed
    assert f'name="merge_into" value="{target_number}"' in listed  # 并入此案
    related = client.get("/api/cases/related", params={"phone": CALLER}).json()
    assert [(c["number"], c["units"]) for c in related["same_phone_unfinished"]] == [
        (target_number, ["市住建局"])
    ]

    sent = client.post(
        f"/calls/{call_id}/register",
        data={
            **form(channel="phone", title="催办：物业乱收费仍未处理"),
            "merge_into": target_number,
            "merge_reason": "来电人催办，称至今无人联系",
            "csrf_token": token,
        },
    )
    assert sent.status_code == 303, sent.text
    new_id = sent.headers["location"].removeprefix("/cases/").split("?")[0]
    assert status_of(sessions, new_id) == ("merged", target_id)
    assert status_of(sessions, target_id) == ("dispatched", None)  # still with its unit
    entry = history(sessions, target_id)[-1]
    assert entry.action == "merge" and entry.to_status == "dispatched"
    assert "催办：物业乱收费仍未处理" in entry.note and "来电人催办，称至今无人联系" in entry.note
    shown = client.get(f"/cases/{target_id}").text
    assert 'id="merged-cases"' in shown and "催办：物业乱收费仍未处理" in shown


def test_a_case_merges_into_one_at_a_unit_from_its_page_and_the_json_api(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    token = log_in(client)
    target_id, target_number = at_unit(sessions, settings)
    by_page, _ = registered(sessions, settings, title="再次反映停车费")
    by_api, _ = registered(sessions, settings, title="第三次反映停车费")

    page = client.get(f"/cases/{by_page}").text
    assert f'name="into_pick" value="{target_number}"' in same_phone_block(page)
    merged = client.post(
        f"/cases/{by_page}/merge",
        data={"into_pick": target_number, "reason": "同一事项重复反映", "csrf_token": token},
    )
    assert merged.status_code == 303, merged.text
    assert status_of(sessions, by_page) == ("merged", target_id)
    answer = client.post(
        f"/api/cases/{by_api}/merge",
        headers={"X-CSRF-Token": token},
        json={"into": target_number, "reason": "同一事项重复反映"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "merged"
    notes = [e.note for e in history(sessions, target_id) if e.action == "merge"]
    assert len(notes) == 2 and all("并入本案" in n for n in notes)


def test_nothing_is_merged_into_a_finished_case_and_the_registration_is_not_saved(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    token = log_in(client)
    closed_id, closed_number = registered(sessions, settings)
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == closed_id).values(status="closed"))
    before = case_count(sessions)
    refused = client.post(
        "/cases/new",
        data={**form(), "merge_into": closed_number, "merge_reason": "重复", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "该案件已办结，不能再并入" in refused.text
    assert case_count(sessions) == before
    no_reason = client.post(
        "/api/cases",
        headers={"X-CSRF-Token": token},
        json={**form(), "merge_into": closed_number},
    )
    assert no_reason.status_code == 422
    assert [e["loc"][-1] for e in no_reason.json()["detail"]] == ["merge_reason"]


@pytest.mark.parametrize(
    ("typed", "valid", "stored"),
    [
        ("１３８００１３８０００", True, "13800138000"),  # full-width digits
        ("13800138000转123", True, "13800138000转123"),  # an extension
        ("010-62345678 分机 8001", True, "010-62345678转8001"),
        ("12345", False, ""),
        ("62345678", False, ""),
    ],
)
def test_one_phone_rule_for_the_forms_check_and_the_save(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    typed: str,
    valid: bool,
    stored: str,
) -> None:
    token = log_in(client)
    check = client.post(
        "/api/phone-check", headers={"X-CSRF-Token": token}, json={"value": typed}
    ).json()
    assert (check["valid"], check["phone"]) == (valid, stored)
    assert bool(check["message_zh"]) is not valid
    saved = client.post("/cases/new", data={**form(complainant_phone=typed), "csrf_token": token})
    assert saved.status_code == (303 if valid else 422)
    if valid:
        case_id = saved.headers["location"].removeprefix("/cases/").split("?")[0]
        with sessions() as session:
            case = session.get(Case, case_id)
            assert case is not None and case.complainant_phone == stored
    else:
        assert check["message_zh"] in saved.text


def test_a_saved_registration_is_corrected_with_a_history_entry_at_both_doors(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    token = log_in(client)
    case_id, _ = registered(sessions, settings, complainant_name="张山", confidential="on")
    page = client.get(f"/cases/{case_id}").text
    assert 'id="correction-form"' in page and 'value="张山"' in page

    fields = {**form(complainant_name="张三", title="小区物业多收停车费"), "confidential": "on"}
    corrected = client.post(
        f"/cases/{case_id}/correction",
        data={**fields, "correction_reason": "来电人回电更正姓名", "csrf_token": token},
    )
    assert corrected.status_code == 303, corrected.text
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.complainant_name, case.title) == ("张三", "小区物业多收停车费")
        assert case.confidential and case.status == "registered"
    entry = history(sessions, case_id)[-1]
    assert entry.action == "correct" and entry.actor == "op1"
    assert "姓名" in entry.note and "事项摘要（原为“小区物业乱收费”）" in entry.note
    assert "来电人回电更正姓名" in entry.note
    assert "张山" not in entry.note and "张三" not in entry.note  # identity never in history

    # Refused: no reason; the form comes back open with what was typed.
    refused = client.post(
        f"/cases/{case_id}/correction",
        data={**fields, "title": "改了但没写原因", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "请填写更正原因" in refused.text and 'value="改了但没写原因"' in refused.text
    assert re.search(r'<details id="correction"[^>]* open', refused.text)

    api = client.patch(
        f"/api/cases/{case_id}",
        headers={"X-CSRF-Token": token},
        json={"complainant_phone": "13800138000转8", "reason": "补充分机号"},
    )
    assert api.status_code == 200, api.text
    assert api.json()["complainant_phone"] == "13800138000转8"
    assert api.json()["complainant_name"] == "张三"  # what was not sent stays
    same = client.patch(
        f"/api/cases/{case_id}", headers={"X-CSRF-Token": token}, json={"reason": "无改动"}
    )
    assert same.status_code == 422
    phone_case = client.patch(
        f"/api/cases/{case_id}",
        headers={"X-CSRF-Token": token},
        json={"channel": "phone", "reason": "改渠道"},
    )
    assert phone_case.status_code == 422  # only a call's case is a phone case

    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == case_id).values(status="closed"))
    closed = client.patch(
        f"/api/cases/{case_id}",
        headers={"X-CSRF-Token": token},
        json={"title": "办结后再改", "reason": "试试"},
    )
    assert closed.status_code == 409
    assert 'id="correction-form"' not in client.get(f"/cases/{case_id}").text


def test_with_no_speech_model_the_call_page_says_so_instead_of_waiting(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    log_in(client)
    call_id, _ = add_recorded_call(sessions, settings.data_dir, "8.2", started_at=recently())
    page = client.get(f"/calls/{call_id}").text
    assert "未安装语音模型，本通话不会自动转写" in page and "等待转写" not in page
    assert 'id="content-manual"' in page and "已按转写预填" not in page
    assert "未安装语音模型" in client.get("/").text


def test_with_a_speech_model_a_queued_call_is_waiting(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with_model = settings.model_copy(update={"vosk_model": KOREAN_MODEL})
    with TestClient(create_app(with_model), follow_redirects=False) as client:
        log_in(client)
        call_id, _ = add_recorded_call(sessions, settings.data_dir, "8.3", started_at=recently())
        page = client.get(f"/calls/{call_id}").text
        assert "等待转写" in page and "未安装语音模型" not in page


def test_the_addresses_a_form_posts_to_lead_back_to_the_form(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, _ = add_recorded_call(sessions, settings.data_dir, "8.4", started_at=recently())
    case_id, _ = registered(sessions, settings)
    expired = client.post(f"/calls/{call_id}/register", data=form())
    assert expired.status_code == 303
    assert expired.headers["location"] == f"/login?next=/calls/{call_id}/register"
    log_in(client)
    assert client.get(f"/calls/{call_id}/register").headers["location"] == f"/calls/{call_id}"
    assert client.get("/cases/new").status_code == 200
    assert (
        client.get(f"/cases/{case_id}/correction").headers["location"]
        == f"/cases/{case_id}?correct=1#correction"
    )


def test_the_registration_decision_is_left_to_the_case_merged_into(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    target_id, target_number = registered(sessions, settings)
    merged_id, _ = registered(
        sessions, settings, decision="accept", merge_into=target_number, merge_reason="重复"
    )
    with sessions() as session:
        merged = case_store.get(session, merged_id)
        assert merged is not None
        assert (merged.status, merged.decision) == ("merged", Decision.PENDING.value)
    assert status_of(sessions, target_id) == ("registered", None)
