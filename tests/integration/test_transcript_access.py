"""A transcript is the recording in writing: the recordings' rules decide who reads it (the
JSON route, the call page, the registration form, the lists' summaries), every text shown and
every refused request is in the hash-chained access log, and registering a call someone else
answered opens neither. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.settings import Settings
from custody import access
from custody.models import RecordingAccess
from ivr.models import Call
from tests.api_actor import Actor
from tests.builders import add_recorded_call, tone_wav
from tests.integration.test_cases import add_transcript
from tests.replay_people import logged_in, settings_with_people

SAID = "我要投诉幸福里小区旁工厂排放废气"
MESSAGE = "请问社保卡补办需要什么材料"


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    return settings_with_people(db_url, sessions, tmp_path)


@pytest.fixture
def people(settings: Settings) -> Iterator[dict[str, Actor]]:
    with logged_in(settings) as actors:
        yield actors


def started(sessions: sessionmaker[Session], call_id: str, days_ago: float) -> None:
    """Date the call by the real clock: the operator's window is measured from it."""
    with transaction(sessions) as session:
        session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago))
        )


def call(
    sessions: sessionmaker[Session], settings: Settings, uid: str, text: str, operator: str | None
) -> tuple[str, str]:
    """A call of an hour ago with a transcript: answered at ``operator``'s phone, or (None)
    a message nobody answered."""
    audio = tone_wav(
        settings.data_dir / "tones" / f"{uid}.wav",  # a sound of its own
        seconds=1 + int(uid.replace(".", "")) / 1000,
    )
    call_id, recording_id = add_recorded_call(
        sessions, settings.data_dir, uid, audio, answered_after=0.5 if operator else None
    )
    with transaction(sessions) as session:
        session.execute(update(Call).where(Call.id == call_id).values(operator=operator))
    started(sessions, call_id, 1 / 24)
    add_transcript(sessions, recording_id, text)
    return call_id, recording_id


def register(actor: Actor, call_id: str) -> dict[str, Any]:
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M")
    return actor.post(  # type: ignore[no-any-return]
        "/api/cases",
        {
            "received_at": today,
            "channel": "phone",
            "case_type": "complaint",
            "complainant_name": "李秀英",
            "complainant_phone": "13912345678",
            "subject_unit": "幸福里小区物业服务中心",
            "title": "小区旁工厂夜间排放刺鼻废气",
            "content": "小区旁的化工厂每天夜里排放刺鼻气味。",
            "request": "请环保部门查处",
            "decision": "accept",
            "identity_consent": True,
            "call_id": call_id,
        },
        status=201,
    )


def log_rows(sessions: sessionmaker[Session]) -> list[RecordingAccess]:
    with sessions() as session:
        return list(session.scalars(select(RecordingAccess).order_by(RecordingAccess.id)))


def test_registering_a_colleagues_call_does_not_unlock_its_recording_or_transcript(
    people: dict[str, Actor], sessions: sessionmaker[Session], settings: Settings
) -> None:
    """op2 may register the call op1 answered (a handover), but hears and reads it no more
    than before; op1 still does. A message nobody answered stays every operator's work."""
    call_id, recording_id = call(sessions, settings, "10.1", SAID, "1001")
    audio = f"/api/recordings/{recording_id}/audio"
    op1, op2 = people["op1"], people["op2"]
    assert op2.fetch(audio).status_code == 403
    case = register(op2, call_id)
    assert case["registered_by"] == "op2" and case["call_id"] == call_id
    refused = op2.fetch(audio)
    assert refused.status_code == 403 and "handled" in refused.json()["detail"]
    assert op2.fetch(f"/api/calls/{call_id}/transcript").status_code == 403
    assert op1.fetch(audio).status_code == 200
    assert op1.get(f"/api/calls/{call_id}/transcript")["transcript"]["clean_text"] == SAID

    message_id, message_recording = call(sessions, settings, "10.2", MESSAGE, None)
    register(op2, message_id)
    assert op2.fetch(f"/api/recordings/{message_recording}/audio").status_code == 200
    assert op1.fetch(f"/api/recordings/{message_recording}/audio").status_code == 200


def test_the_transcript_route_follows_the_recordings_rules_and_logs_every_request(
    people: dict[str, Actor], sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, recording_id = call(sessions, settings, "11.1", SAID, "1001")
    case = register(people["op1"], call_id)
    url = f"/api/calls/{call_id}/transcript"
    assert "transcript_text" not in people["op2"].get(f"/api/cases/{case['id']}"), (
        "the case record does not repeat the transcript past its rules"
    )

    assert people["op1"].get(url)["transcript"]["clean_text"] == SAID
    other = people["op2"].fetch(url)
    assert other.status_code == 403 and "handled" in other.json()["detail"]
    for name in ("sup1", "inv1"):
        refused = people[name].fetch(url)
        assert refused.status_code == 403 and "reason" in refused.json()["detail"], name
    for name in ("admin1", "aud1", "h_env"):  # h_env: a unit's handler of no unit
        never = people[name].fetch(url)
        assert (
            never.status_code == 403
            and never.json()["detail"] == "your role may not read transcripts"
        ), name
    assert "transcript" not in people["sup1"].fetch(url).json()
    people["inv1"].post(
        f"/api/cases/{case['number']}/replay-reason",
        {"reason": "核查话务员服务态度投诉"},
        status=201,
    )
    assert people["inv1"].get(url)["transcript"]["text"] == SAID
    started(sessions, call_id, 7.1)
    late = people["op1"].fetch(url)
    assert late.status_code == 403 and "7 days" in late.json()["detail"]

    rows = log_rows(sessions)
    assert [(r.actor, r.role, r.action, r.outcome, r.byte_range) for r in rows] == [
        ("op1", "operator", "transcript", "allowed", "transcript api"),
        ("op2", "operator", "transcript", "denied", "transcript api"),
        ("sup1", "supervisor", "transcript", "denied", "transcript api"),
        ("inv1", "investigator", "transcript", "denied", "transcript api"),
        ("admin1", "admin", "transcript", "denied", "transcript api"),
        ("aud1", "auditor", "transcript", "denied", "transcript api"),
        ("h_env", "unit_handler", "transcript", "denied", "transcript api"),
        ("sup1", "supervisor", "transcript", "denied", "transcript api"),
        ("inv1", "investigator", "transcript", "allowed", "transcript api"),
        ("op1", "operator", "transcript", "denied", "transcript api"),
    ]
    assert (rows[0].recording_id, rows[0].case_id, rows[0].reason) == (
        recording_id,
        case["id"],
        "话务员查看本人受理来电的转写",
    )
    assert (rows[8].case_id, rows[8].reason) == (case["id"], "核查话务员服务态度投诉")
    assert rows[4].recording_id is None, "a role that never may is refused before any lookup"
    with sessions() as session:
        assert not access.breaks(session), "the entries are chained"
    page = people["aud1"].fetch("/audit").text
    assert "查看转写" in page and "转写接口" in page
    assert people["op1"].fetch("/api/calls/" + "0" * 32 + "/transcript").status_code == 404
    assert people["op1"].fetch("/api/calls/..%2F..%2Fetc/transcript").status_code == 404


def test_a_unit_reads_the_transcript_only_with_a_grant(
    people: dict[str, Actor], sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, _recording = call(sessions, settings, "12.1", SAID, "1001")
    sup = people["sup1"]
    unit = sup.post("/api/units", {"name": "市生态环境局", "kind": "department"}, status=201)
    sup.post(f"/api/units/{unit['id']}/members", {"username": "h_env"}, status=204)
    case = register(people["op1"], call_id)
    people["op1"].post(
        f"/api/cases/{case['id']}/dispatch",
        {"lead_unit_id": unit["id"], "mode": "transfer", "category": "环境保护"},
    )
    url = f"/api/calls/{call_id}/transcript"
    refused = people["h_env"].fetch(url)
    assert (
        refused.status_code == 403
        and refused.json()["detail"] == "your role may not read transcripts"
    )
    grant = sup.post(
        f"/api/cases/{case['id']}/recording-grants",
        {"unit_id": unit["id"], "reason": "请核实诉求细节"},
        status=201,
    )
    assert people["h_env"].get(url)["transcript"]["clean_text"] == SAID
    sup.post(f"/api/cases/{case['id']}/recording-grants/{grant['id']}/revoke", status=204)
    assert people["h_env"].fetch(url).status_code == 403
    assert [(r.actor, r.outcome, r.reason) for r in log_rows(sessions)] == [
        ("h_env", "denied", ""),
        ("h_env", "allowed", "请核实诉求细节"),
        ("h_env", "denied", ""),
    ]


def test_the_call_page_and_its_form_show_the_transcript_only_to_those_who_may_read_it(
    people: dict[str, Actor], sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, recording_id = call(sessions, settings, "13.1", SAID, "1001")
    page = people["op1"].fetch(f"/calls/{call_id}").text
    assert page.count(SAID) >= 3, "segments, the pre-filled content and the hidden text"
    assert 'id="type-reason"' in page and "transcript-withheld" not in page
    form = people["op1"].get(f"/api/calls/{call_id}/registration")
    assert form["form"]["content"] == SAID and form["type_reason"] == "投诉"
    assert form["transcript_withheld"] is None

    other = people["op2"].fetch(f"/calls/{call_id}").text
    assert SAID not in other and 'id="type-reason"' not in other
    assert "话务员只能查看本人受理来电的转写" in other
    withheld = people["op2"].get(f"/api/calls/{call_id}/registration")
    assert withheld["form"]["content"] == "" and withheld["form"]["transcript_text"] == ""
    assert withheld["type_reason"] == "" and "handled" in withheld["transcript_withheld"]
    sup = people["sup1"].fetch(f"/calls/{call_id}").text
    assert SAID not in sup and "需先说明调听事由" in sup and "尚未登记" in sup

    case = register(people["op1"], call_id)
    sup = people["sup1"].fetch(f"/calls/{call_id}").text
    assert SAID not in sup and f'href="/cases/{case["id"]}/evidence">调听与证据</a>' in sup
    people["sup1"].post(
        f"/api/cases/{case['id']}/replay-reason", {"reason": "核查服务态度投诉"}, status=201
    )
    assert SAID in people["sup1"].fetch(f"/calls/{call_id}").text

    rows = log_rows(sessions)
    assert [(r.actor, r.outcome, r.byte_range) for r in rows] == [
        ("op1", "allowed", "call page"),
        ("op1", "allowed", "registration form"),
        ("op2", "denied", "call page"),
        ("op2", "denied", "registration form"),
        ("sup1", "denied", "call page"),
        ("sup1", "denied", "call page"),
        ("sup1", "allowed", "call page"),
    ]
    assert all(r.action == "transcript" and r.recording_id == recording_id for r in rows)
    assert rows[-1].reason == "核查服务态度投诉" and rows[-1].case_id == case["id"]


def test_the_lists_show_a_summary_only_where_it_may_be_read_and_log_each_one_shown(
    people: dict[str, Actor], sessions: sessionmaker[Session], settings: Settings
) -> None:
    answered_id, answered = call(sessions, settings, "14.1", SAID, "1001")
    _message_id, message = call(sessions, settings, "14.2", MESSAGE, None)

    mine = people["op1"].fetch("/").text
    assert SAID in mine and MESSAGE in mine
    theirs = people["op2"].fetch("/").text
    assert SAID not in theirs and MESSAGE in theirs and "非本人受理，不显示转写" in theirs
    calls = people["sup1"].fetch("/calls").text
    assert SAID not in calls and MESSAGE not in calls and "需先说明调听事由" in calls
    assert "/audio" not in calls, "no player where the rules refuse"
    admin = people["admin1"].fetch("/calls").text
    assert SAID not in admin and MESSAGE not in admin and "无权查看转写" in admin
    started(sessions, answered_id, 8)
    late = people["op1"].fetch("/calls").text
    assert SAID not in late and MESSAGE in late and "已超过复听期限" in late
    assert f"/api/recordings/{message}/audio" in late
    assert f"/api/recordings/{answered}/audio" not in late

    rows = log_rows(sessions)
    shown = {(r.actor, r.recording_id, r.byte_range) for r in rows}
    assert shown == {
        ("op1", answered, "work queue"),
        ("op1", message, "work queue"),
        ("op2", message, "work queue"),
        ("op1", message, "calls list"),
    }
    assert len(rows) == 4 and all(
        r.outcome == "allowed" and r.action == "transcript" for r in rows
    ), "a list leaving a text out logs nothing"
    assert [r.id for r in rows] == [1, 2, 3, 4] and rows[1].prev_hash == rows[0].entry_hash
    with sessions() as session:
        assert not access.breaks(session), "a page's entries, written together, chain"


def test_investigators_read_the_transcript_on_the_evidence_page_after_giving_a_reason(
    people: dict[str, Actor], sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, recording_id = call(sessions, settings, "15.1", SAID, "1001")
    case = register(people["op1"], call_id)
    inv = people["inv1"]
    assert SAID not in inv.fetch(f"/cases/{case['id']}/evidence").text
    assert log_rows(sessions) == []
    inv.post(
        f"/api/cases/{case['id']}/replay-reason", {"reason": "核查话务员服务态度投诉"}, status=201
    )
    page = inv.fetch(f"/cases/{case['id']}/evidence").text
    assert SAID in page and 'id="transcript-1"' in page
    [row] = log_rows(sessions)
    assert (
        row.actor,
        row.action,
        row.outcome,
        row.byte_range,
        row.recording_id,
        row.case_id,
        row.reason,
    ) == (
        "inv1",
        "transcript",
        "allowed",
        "evidence page",
        recording_id,
        case["id"],
        "核查话务员服务态度投诉",
    )
    assert "查看转写" in inv.fetch(f"/cases/{case['id']}/evidence").text, (
        "the case's access log on the page names the read"
    )
