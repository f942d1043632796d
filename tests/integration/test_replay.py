"""Replay for investigations over HTTP: a reason before the first play, exact byte ranges,
operators' own calls for a set number of days, units only with a grant, every attempt in a
hash-chained access log, no file touched for a malicious identifier, and an evidence
package that ``sha256sum -c`` accepts. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import Settings
from core.waiting import wait_for
from custody import integrity
from custody.models import CaseArchive, IntegrityCheck, RecordingAccess
from dispatch.cases.handling_models import Assignment
from ivr.models import Call
from recordings import lookup
from recordings.models import ManifestEntry, Recording
from recordings.store import sha256_file
from tests.api_actor import Actor
from tests.builders import (
    add_recorded_call,
    drop_append_only_guards,
    flip_byte,
    recently,
)
from tests.integration.test_cases import add_transcript
from tests.replay_people import logged_in, settings_with_people

NAME, PHONE = "李秀英", "13912345678"


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    return settings_with_people(db_url, sessions, tmp_path)


@pytest.fixture
def people(settings: Settings) -> Iterator[dict[str, Actor]]:
    with logged_in(settings) as actors:
        yield actors


@pytest.fixture
def case(
    people: dict[str, Actor], sessions: sessionmaker[Session], settings: Settings
) -> dict[str, Any]:
    """A call answered by op1 (extension 1001), its recording with a transcript, and the case
    registered from it, dispatched to the environment bureau; the property office is the
    unit complained about."""
    started = recently()  # op1's replay window is measured from the real clock
    call_id, recording_id = add_recorded_call(
        sessions, settings.data_dir, "9.1", answered_after=0.5, started_at=started
    )
    with transaction(sessions) as session:
        session.execute(update(Call).where(Call.id == call_id).values(operator="1001"))
    add_transcript(sessions, recording_id, "我要投诉幸福里小区旁工厂排放废气")
    sup, op = people["sup1"], people["op1"]
    units = {}
    for name, kind in [("市生态环境局", "department"), ("幸福里小区物业服务中心", "office")]:
        units[name] = sup.post("/api/units", {"name": name, "kind": kind}, status=201)["id"]
    sup.post(f"/api/units/{units['市生态环境局']}/members", {"username": "h_env"}, status=204)
    sup.post(
        f"/api/units/{units['幸福里小区物业服务中心']}/members", {"username": "h_prop"}, status=204
    )
    registered = op.post(
        "/api/cases",
        {
            "received_at": f"{started.astimezone(ZoneInfo(settings.timezone)):%Y-%m-%dT%H:%M}",
            "channel": "phone",
            "case_type": "complaint",
            "complainant_name": NAME,
            "complainant_phone": PHONE,
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
    op.post(
        f"/api/cases/{registered['id']}/dispatch",
        {
            "lead_unit_id": units["市生态环境局"],
            "mode": "transfer",
            "category": "环境保护",
            "assist_unit_ids": [units["幸福里小区物业服务中心"]],
            "complained_unit_id": units["幸福里小区物业服务中心"],
        },
    )
    with sessions() as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        audio = (settings.recordings_dir / recording.path).read_bytes()
    return {
        "id": registered["id"],
        "number": registered["number"],
        "call_id": call_id,
        "recording_id": recording_id,
        "audio": audio,
        "units": units,
    }


def log_rows(sessions: sessionmaker[Session]) -> list[RecordingAccess]:
    with sessions() as session:
        return list(session.scalars(select(RecordingAccess).order_by(RecordingAccess.id)))


def audio_url(case: dict[str, Any]) -> str:
    return f"/api/recordings/{case['recording_id']}/audio"


def test_a_supervisor_gives_a_reason_then_streams_exact_ranges(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    sup = people["sup1"]
    refused = sup.fetch(audio_url(case))
    assert refused.status_code == 403 and "reason" in refused.json()["detail"]
    short = sup.post(f"/api/cases/{case['id']}/replay-reason", {"reason": "查"}, status=422)
    assert short["detail"][0]["msg"].startswith("a reason of at least")
    given = sup.post(
        f"/api/cases/{case['number']}/replay-reason",
        {"reason": "核查话务员服务态度投诉"},
        status=201,
    )
    assert given["case_id"] == case["id"]

    whole = sup.fetch(audio_url(case))
    assert whole.status_code == 200 and whole.content == case["audio"]
    assert whole.headers["cache-control"] == "no-store, private", "no replay from a cache"
    part = sup.fetch(audio_url(case), headers={"Range": "bytes=44-99"})
    assert part.status_code == 206 and part.content == case["audio"][44:100]
    assert part.headers["content-range"] == f"bytes 44-99/{len(case['audio'])}"
    tail = sup.fetch(audio_url(case), headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == case["audio"][-10:]
    middle = len(case["audio"]) // 2
    seek = sup.fetch(audio_url(case), headers={"Range": f"bytes={middle}-"})
    assert seek.status_code == 206 and seek.content == case["audio"][middle:]
    download = sup.fetch(audio_url(case) + "?download=true")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]

    rows = log_rows(sessions)
    # One listening: its first request is the play, the player's further ranges go on with it.
    assert [(r.action, r.outcome, r.byte_range) for r in rows] == [
        ("play", "denied", ""),
        ("play", "allowed", ""),
        ("range", "allowed", "bytes=44-99"),
        ("range", "allowed", "bytes=-10"),
        ("range", "allowed", f"bytes={middle}-"),
        ("download", "allowed", ""),
    ]
    assert {(r.actor, r.role, r.client, r.recording_id) for r in rows} == {
        ("sup1", "supervisor", "testclient", case["recording_id"])
    }
    assert all(r.case_id == case["id"] and r.reason == "核查话务员服务态度投诉" for r in rows[1:])

    # Auditors see it all, with the chain whole; nobody else reads the log.
    log = people["aud1"].fetch("/api/audit/recording-access").json()
    assert log["chain_intact"] and [e["id"] for e in log["entries"]] == [6, 5, 4, 3, 2, 1]
    assert people["sup1"].fetch("/api/audit/recording-access").status_code == 403
    page = people["aud1"].fetch("/audit")
    assert page.status_code == 200 and "调听日志哈希链完整" in page.text
    assert case["number"] in page.text and "核查话务员服务态度投诉" in page.text
    evidence = sup.fetch(f"/api/cases/{case['id']}/evidence").json()
    assert len(evidence["access"]) == 6 and evidence["reason"]["reason"] == "核查话务员服务态度投诉"


def test_editing_the_access_log_breaks_its_chain(
    people: dict[str, Actor],
    case: dict[str, Any],
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    people["op1"].fetch(audio_url(case))
    people["op1"].fetch(audio_url(case), headers={"Range": "bytes=0-1"})
    people["h_env"].fetch(audio_url(case))
    drop_append_only_guards(sessions)
    with transaction(sessions) as session:  # hide who listened
        session.execute(
            update(RecordingAccess).where(RecordingAccess.id == 1).values(actor="nobody")
        )
    log = people["aud1"].fetch("/api/audit/recording-access").json()
    assert not log["chain_intact"]
    assert log["chain_problems"] == ["entry 1: content does not match its hash (edited)"]
    assert "调听日志哈希链断裂" in people["aud1"].fetch("/audit").text


def test_operators_replay_their_own_calls_for_the_set_number_of_days(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    def call_started(days_ago: float) -> None:
        with transaction(sessions) as session:
            session.execute(
                update(Call)
                .where(Call.id == case["call_id"])
                .values(started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago))
            )

    call_started(6.9)
    assert people["op1"].fetch(audio_url(case)).status_code == 200
    other = people["op2"].fetch(audio_url(case))
    assert other.status_code == 403 and "handled" in other.json()["detail"]
    call_started(7.1)
    late = people["op1"].fetch(audio_url(case))
    assert late.status_code == 403 and "7 days" in late.json()["detail"]
    rows = log_rows(sessions)
    assert [(r.actor, r.outcome) for r in rows] == [
        ("op1", "allowed"),
        ("op2", "denied"),
        ("op1", "denied"),
    ]
    assert rows[0].reason == "话务员复听本人受理的来电" and rows[0].case_id == case["id"]


def test_roles_without_access_get_403_and_the_attempt_is_logged(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    for name in ("admin1", "aud1", "h_env", "h_prop"):
        assert people[name].fetch(audio_url(case)).status_code == 403, name
    export = people["op1"].fetch(f"/api/cases/{case['id']}/evidence-package")
    assert export.status_code == 403
    no_reason = people["inv1"].fetch(f"/api/cases/{case['id']}/evidence-package")
    assert no_reason.status_code == 403
    rows = log_rows(sessions)
    assert [(r.actor, r.action, r.outcome) for r in rows] == [
        ("admin1", "play", "denied"),
        ("aud1", "play", "denied"),
        ("h_env", "play", "denied"),
        ("h_prop", "play", "denied"),
        ("op1", "export", "denied"),
        ("inv1", "export", "denied"),
    ]
    assert rows[4].case_id == case["id"] and rows[5].case_id == case["id"]


def test_a_unit_hears_the_recording_only_with_a_grant_never_the_unit_complained_about(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    sup, units = people["sup1"], case["units"]
    refused = sup.post(
        f"/api/cases/{case['id']}/recording-grants",
        {"unit_id": units["幸福里小区物业服务中心"], "reason": "请核实诉求细节"},
        status=422,
    )
    assert "complained about" in refused["detail"][0]["msg"]
    grant = sup.post(
        f"/api/cases/{case['id']}/recording-grants",
        {"unit_id": units["市生态环境局"], "reason": "请核实诉求细节"},
        status=201,
    )
    heard = people["h_env"].fetch(audio_url(case), headers={"Range": "bytes=0-43"})
    assert heard.status_code == 206 and heard.content == case["audio"][:44]
    assert people["h_prop"].fetch(audio_url(case)).status_code == 403
    # A grant lapses with the unit's part in the case (returned, or found complained about).
    with transaction(sessions) as session:
        session.execute(
            update(Assignment)
            .where(Assignment.unit_id == units["市生态环境局"])
            .values(active=False)
        )
    assert people["h_env"].fetch(audio_url(case)).status_code == 403
    with transaction(sessions) as session:
        session.execute(
            update(Assignment)
            .where(Assignment.unit_id == units["市生态环境局"])
            .values(active=True)
        )
    assert people["h_env"].fetch(audio_url(case)).status_code == 200
    sup.post(f"/api/cases/{case['id']}/recording-grants/{grant['id']}/revoke", status=204)
    assert people["h_env"].fetch(audio_url(case)).status_code == 403
    rows = log_rows(sessions)
    assert [(r.actor, r.outcome, r.reason) for r in rows] == [
        ("h_env", "allowed", "请核实诉求细节"),
        ("h_prop", "denied", ""),
        ("h_env", "denied", ""),
        ("h_env", "allowed", "请核实诉求细节"),
        ("h_env", "denied", ""),
    ]


BAD_IDS = [
    "..%2F..%2Fhotline.db",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "." * 32,
    "0" * 31 + "%2F",
    "../" * 10 + "aa",
    "0" * 32,
    "A" * 32,
    "0" * 33,
    "%00" + "0" * 29,
    "..\\..\\core.db",
]


def test_a_path_traversal_in_any_identifier_gets_404_and_touches_no_file(
    people: dict[str, Actor],
    case: dict[str, Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sup = people["sup1"]
    sup.post(f"/api/cases/{case['id']}/replay-reason", {"reason": "核查服务态度投诉"}, status=201)
    opened: list[str] = []
    watching = [False]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if watching[0] and event == "open" and isinstance(args[0], str | bytes | Path):
            opened.append(str(args[0]))

    sys.addaudithook(hook)
    touched: list[str] = []
    original = lookup.file_of

    def watched(*args: Any) -> Path | None:
        touched.append("file_of")
        return original(*args)

    monkeypatch.setattr(lookup, "file_of", watched)
    urls = []
    for bad in BAD_IDS:
        urls += [
            f"/api/recordings/{bad}/audio",
            f"/api/recordings/{bad}/audio?download=true",
            f"/api/recordings/{bad}/waveform",
            f"/api/cases/{bad}/evidence-package",
            f"/api/cases/{bad}/evidence",
            f"/cases/{bad}/evidence/package",
            f"/cases/{bad}/evidence/archive",
            f"/api/attachments/{bad}",
        ]
    watching[0] = True
    try:
        for url in urls:
            response = sup.client.get(url, follow_redirects=True)  # a trailing / redirects
            # A NUL is not text: refused (422) before any route reads the identifier.
            expected = 422 if "%00" in url else 404
            assert response.status_code == expected, (url, response.status_code)
    finally:
        watching[0] = False
    data_dir = str(settings.data_dir.resolve())
    assert not [p for p in opened if p.startswith(data_dir) or "passwd" in p], opened
    assert touched == [], "no request reached the store's files"


def test_the_evidence_package_verifies_with_sha256sum(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    inv = people["inv1"]
    inv.post(
        f"/api/cases/{case['id']}/replay-reason", {"reason": "纪检调查：核实办理过程"}, status=201
    )
    assert inv.fetch(audio_url(case), headers={"Range": "bytes=0-99"}).status_code == 206
    response = inv.fetch(f"/api/cases/{case['number']}/evidence-package")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert f"{case['number']}-evidence.zip" in response.headers["content-disposition"]
    package = tmp_path / "out" / f"{case['number']}-evidence.zip"
    package.parent.mkdir()
    package.write_bytes(response.content)
    subprocess.run(["unzip", "-q", package.name], cwd=package.parent, check=True)
    folder = package.parent / f"{case['number']}-evidence"
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = sorted(line.rsplit(": ", 1)[0] for line in checked.stdout.splitlines())
    rid = case["recording_id"]
    assert listed == sorted(
        [
            "access_log.csv",
            "case.json",
            "registration.txt",
            f"recordings/{rid}.wav",
            "store_manifest.json",
            f"transcripts/{rid}.json",
            f"transcripts/{rid}.txt",
        ]
    )
    assert all(line.endswith(": OK") for line in checked.stdout.splitlines())
    assert (folder / f"recordings/{rid}.wav").read_bytes() == case["audio"]
    record = json.loads((folder / "case.json").read_text())
    assert record["case"]["number"] == case["number"]
    assert [h["action"] for h in record["history"]] == ["register", "accept", "dispatch"]
    assert record["recordings"][0]["sha256"] == sha256_file(folder / f"recordings/{rid}.wav")
    manifest_rows = json.loads((folder / "store_manifest.json").read_text())
    assert (
        manifest_rows[0]["object_id"] == rid
        and manifest_rows[0]["sha256"] == record["recordings"][0]["sha256"]
    )
    assert "废气" in (folder / f"transcripts/{rid}.txt").read_text()
    log = list(csv.DictReader(io.StringIO((folder / "access_log.csv").read_text())))
    assert [(row["actor"], row["action"], row["reason"]) for row in log] == [
        ("inv1", "play", "纪检调查：核实办理过程"),
        ("inv1", "export", "纪检调查：核实办理过程"),
    ]
    readme = (folder / "README.txt").read_text()
    assert "sha256sum -c SHA256SUMS" in readme and case["number"] in readme
    # The check can fail: one flipped byte and sha256sum says so.
    wav = folder / f"recordings/{rid}.wav"
    flip_byte(wav, -1)
    again = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert again.returncode != 0 and f"recordings/{rid}.wav: FAILED" in again.stdout
    with zipfile.ZipFile(package) as archive:
        assert all(name.startswith(f"{case['number']}-evidence/") for name in archive.namelist())


def test_a_closed_case_is_archived_as_a_verifiable_bundle(
    people: dict[str, Actor],
    case: dict[str, Any],
    sessions: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
) -> None:
    op, sup, handler = people["op1"], people["sup1"], people["h_env"]
    number = case["number"]
    handler.post(f"/api/unit/cases/{number}/sign")
    handler.post(f"/api/unit/cases/{number}/start")
    handler.post(
        f"/api/unit/cases/{number}/reply",
        {
            "facts": "经现场检查，该厂废气处理设施未正常运行。",
            "finding": "true",
            "measures": "责令停产整改。",
        },
    )
    sup.post(f"/api/cases/{number}/review", {"passed": True})
    op.post(
        f"/api/cases/{number}/feedback",
        {"method": "phone", "note": "已电话告知", "satisfaction": "satisfied"},
    )
    sup.post(f"/api/cases/{number}/archive")
    with sessions() as session:
        bundle = session.get(CaseArchive, case["id"])
        assert bundle is not None
        entry = session.scalar(select(ManifestEntry).where(ManifestEntry.kind == "archive"))
        assert entry is not None and entry.object_id == bundle.id
        assert entry.sha256 == bundle.sha256 and entry.case_id == case["id"]
    path = settings.archives_dir / bundle.path
    assert sha256_file(path) == bundle.sha256
    subprocess.run(["unzip", "-q", str(path), "-d", str(tmp_path / "a")], check=True)
    folder = tmp_path / "a" / f"{number}-archive"
    assert (
        subprocess.run(
            ["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=folder, check=False
        ).returncode
        == 0
    )
    record = json.loads((folder / "case.json").read_text())
    assert record["history"][-1]["action"] == "archive"
    assert record["unit_replies"][0]["finding"] == "true"
    assert record["feedback"][0]["satisfaction"] == "satisfied"
    assert "案件编号：" + number in (folder / "registration.txt").read_text()
    rid = case["recording_id"]
    assert (folder / f"recordings/{rid}.wav").read_bytes() == case["audio"]
    assert (folder / f"transcripts/{rid}.txt").exists()
    verified = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "recordings", "verify"],
        env={**settings.to_env(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "files checked: 2" in verified.stdout
    # Downloading the bundle needs a reason and is logged.
    assert sup.fetch(f"/cases/{case['id']}/evidence/archive").status_code == 403
    sup.post(f"/api/cases/{case['id']}/replay-reason", {"reason": "复核归档卷宗"}, status=201)
    got = sup.fetch(f"/cases/{case['id']}/evidence/archive")
    assert got.status_code == 200 and got.content == path.read_bytes()
    rows = log_rows(sessions)
    assert [(r.action, r.outcome, r.byte_range) for r in rows[-2:]] == [
        ("download", "denied", "archive bundle"),
        ("download", "allowed", "archive bundle"),
    ]


def test_the_evidence_page_asks_for_a_reason_before_offering_the_player(
    people: dict[str, Actor], case: dict[str, Any]
) -> None:
    sup = people["sup1"]
    page = sup.fetch(f"/cases/{case['id']}/evidence").text
    assert "调听事由" in page and "<audio" not in page
    token = sup.headers["X-CSRF-Token"]
    short = sup.client.post(
        f"/cases/{case['id']}/evidence/reason", data={"csrf_token": token, "reason": "查"}
    )
    assert short.status_code == 422 and "请填写调听事由（至少 4 个字）" in short.text
    given = sup.client.post(
        f"/cases/{case['id']}/evidence/reason",
        data={"csrf_token": token, "reason": "核查服务态度投诉"},
    )
    assert given.status_code == 303
    page = sup.fetch(f"/cases/{case['id']}/evidence").text
    assert f'src="/api/recordings/{case["recording_id"]}/audio"' in page
    assert "导出证据包" in page and "核查服务态度投诉" in page
    call_page = people["op2"].fetch(f"/calls/{case['call_id']}").text
    assert "话务员只能复听本人受理的来电" in call_page and "<audio" not in call_page
    assert "<audio" in people["op1"].fetch(f"/calls/{case['call_id']}").text
    finder = people["inv1"].fetch("/evidence", params={"number": case["number"]})
    assert finder.status_code == 303
    assert finder.headers["location"] == f"/cases/{case['id']}/evidence"
    assert people["inv1"].fetch("/evidence", params={"number": "../x"}).status_code == 404


def test_a_failed_integrity_check_alerts_supervisors(
    people: dict[str, Actor],
    case: dict[str, Any],
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    sup = people["sup1"]
    ok = sup.post("/api/integrity/run")
    assert ok["ok"] and ok["files_checked"] == 1
    assert 'id="store-alert"' not in sup.fetch("/").text
    with sessions() as session:
        recording = session.get(Recording, case["recording_id"])
        assert recording is not None
        path = settings.recordings_dir / recording.path
    flip_byte(path, 50)
    found = sup.post("/api/integrity/run")
    assert not found["ok"] and [p["kind"] for p in found["problems"]] == ["altered"]
    assert people["aud1"].fetch("/api/integrity").json() == found
    home = sup.fetch("/").text
    assert 'id="store-alert"' in home and "文件被改动" in home and recording.path in home
    assert 'id="store-alert"' not in people["op1"].fetch("/").text


def test_the_service_verifies_the_store_on_a_schedule(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    recording_id = add_recorded_call(sessions, settings.data_dir, "10.1")[1]
    scheduled = settings.model_copy(update={"integrity_check_interval_seconds": 0.2})

    def checks() -> list[IntegrityCheck]:
        with sessions() as session:
            return list(session.scalars(select(IntegrityCheck).order_by(IntegrityCheck.id)))

    with TestClient(create_app(scheduled)):
        wait_for(lambda: len(checks()) >= 1, 10, "the first scheduled check")
        assert checks()[0].ok
        with sessions() as session:
            recording = session.get(Recording, recording_id)
            assert recording is not None
        (settings.recordings_dir / recording.path).unlink()
        wait_for(lambda: not checks()[-1].ok, 10, "a check that finds the missing file")
    problems = integrity.problems_of(checks()[-1])
    assert [(p.kind, p.name) for p in problems] == [("missing", f"recordings/{recording.path}")]


def test_an_altered_recording_refuses_the_export_and_nothing_is_delivered(
    people: dict[str, Actor],
    case: dict[str, Any],
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    inv = people["inv1"]
    inv.post(
        f"/api/cases/{case['id']}/replay-reason", {"reason": "纪检调查：核实办理过程"}, status=201
    )
    with sessions() as session:
        recording = session.get(Recording, case["recording_id"])
        assert recording is not None
        path = settings.recordings_dir / recording.path
    flip_byte(path, 60)
    refused = inv.fetch(f"/api/cases/{case['id']}/evidence-package")
    assert refused.status_code == 409
    assert "missing or altered" in refused.json()["detail"]
    assert [r.action for r in log_rows(sessions)] == [], "no export was delivered"
