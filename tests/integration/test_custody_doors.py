"""Each custody step through both front doors: the JSON route and the console's page call the
same ``custody`` function, so each test runs once per door and expects the same outcome
(who may, which reason is needed, what is stored and what the access log says). A door that
skipped a rule fails its run. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from custody.models import CaseArchive, LegalHold, RecordingAccess, RecordingGrant
from dispatch.cases.models import Case
from tests.api_actor import Actor
from tests.integration import test_replay

# The replay tests' people and case: one of each role, a recorded call answered by op1 and
# the case registered from it, dispatched to a unit (another unit is complained about).
settings, people, case = test_replay.settings, test_replay.people, test_replay.case

DOORS = ["json", "page"]
Z = "0" * 32


def log_rows(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, str | None]]:
    """(actor, action, outcome, case id) of each access-log entry, oldest first."""
    with sessions() as session:
        return [
            (r.actor, r.action, r.outcome, r.case_id)
            for r in session.scalars(select(RecordingAccess).order_by(RecordingAccess.id))
        ]


def form(actor: Actor, url: str, **fields: str) -> Any:
    """Post a console form (with the actor's CSRF token); the whole response."""
    return actor.client.post(url, data={"csrf_token": actor.headers["X-CSRF-Token"], **fields})


def send(door: str, actor: Actor, json_url: str, page_url: str, **fields: str) -> int:
    """One step through the chosen door; the status it answered with."""
    if door == "json":
        return int(actor.client.post(json_url, json=fields, headers=actor.headers).status_code)
    return int(form(actor, page_url, **fields).status_code)


def done(door: str, created: bool = True) -> int:
    """The status of a step that went through: the JSON route's, or the page's redirect."""
    return (201 if created else 200) if door == "json" else 303


# -- 立卷归档 -------------------------------------------------------------------------------


def close(people: dict[str, Actor], number: str) -> None:
    handler = people["h_env"]
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
    people["sup1"].post(f"/api/cases/{number}/review", {"passed": True})
    people["op1"].post(
        f"/api/cases/{number}/feedback",
        {"method": "phone", "note": "已电话告知", "satisfaction": "satisfied"},
    )


@pytest.mark.parametrize("door", DOORS)
def test_archiving_a_case_is_the_same_step_through_both_doors(
    door: str, people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    def archive(name: str) -> int:
        return send(
            door, people[name], f"/api/cases/{case['id']}/archive", f"/cases/{case['id']}/archive"
        )

    def archived() -> CaseArchive | None:
        with sessions() as session:
            return session.get(CaseArchive, case["id"])

    assert archive("op1") == 403, "only supervisors archive"
    # Not closed yet: refused, nothing written (the page shows why on the case page).
    assert archive("sup1") == (409 if door == "json" else 422)
    assert archived() is None
    close(people, case["number"])
    assert archive("op1") == 403 and archived() is None
    assert archive("sup1") == done(door, created=False)
    bundle = archived()
    assert bundle is not None and bundle.created_by == "sup1"
    with sessions() as session:
        stored = session.get(Case, case["id"])
        assert stored is not None and stored.status == "archived"
        assert [e.action for e in stored.history].count("archive") == 1
    assert archive("sup1") == (409 if door == "json" else 422), "archived once only"


# -- listening, with and without a reason ---------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_listening_needs_a_reason_given_through_either_door(
    door: str, people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    sup, rid, cid = people["sup1"], case["recording_id"], case["id"]

    def give(reason: str) -> int:
        return send(
            door,
            sup,
            f"/api/cases/{cid}/replay-reason",
            f"/cases/{cid}/evidence/reason",
            reason=reason,
        )

    def hears() -> tuple[int, int]:
        return (
            sup.fetch(f"/api/recordings/{rid}/audio").status_code,
            sup.fetch(f"/api/recordings/{rid}/waveform").status_code,
        )

    page = sup.fetch(f"/cases/{cid}/evidence").text
    assert "<audio" not in page and "转写（查看即记入调听日志）" not in page
    assert hears() == (403, 403)
    assert give("查") == 422, "a reason of at least four characters"
    assert hears() == (403, 403)
    assert give("核查话务员服务态度投诉") == done(door)
    assert hears() == (200, 200)
    page = sup.fetch(f"/cases/{cid}/evidence").text
    assert f'src="/api/recordings/{rid}/audio"' in page
    assert "转写（查看即记入调听日志）" in page and "废气" in page
    assert log_rows(sessions) == [
        ("sup1", "play", "denied", None),
        ("sup1", "waveform", "denied", None),
        ("sup1", "play", "denied", None),
        ("sup1", "waveform", "denied", None),
        ("sup1", "play", "allowed", cid),
        ("sup1", "waveform", "allowed", cid),
        ("sup1", "transcript", "allowed", cid),
    ]
    assert give("x") == 422 and give("") == 422
    assert (
        send(
            door,
            people["op1"],
            f"/api/cases/{cid}/replay-reason",
            f"/cases/{cid}/evidence/reason",
            reason="核查服务态度投诉",
        )
        == 403
    )


def test_the_waveform_follows_the_rule_for_hearing_the_recording(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    url = f"/api/recordings/{case['recording_id']}/waveform"
    heard = people["op1"].fetch(url)  # op1 answered the call: they may hear it
    assert heard.status_code == 200 and heard.json()["channels"]
    for name in ("op2", "sup1", "inv1", "admin1", "aud1", "h_env", "h_prop"):
        refused = people[name].fetch(url)
        assert refused.status_code == 403, name
        assert (
            refused.json()["detail"]
            == people[name].fetch(f"/api/recordings/{case['recording_id']}/audio").json()["detail"]
        ), name
    assert people["op1"].fetch(f"/api/recordings/{Z}/waveform").status_code == 404
    rows = [(actor, action, outcome) for actor, action, outcome, _ in log_rows(sessions)]
    assert rows[0] == ("op1", "waveform", "allowed")
    assert rows[1:] == [
        (name, action, "denied")
        for name in ("op2", "sup1", "inv1", "admin1", "aud1", "h_env", "h_prop")
        for action in ("waveform", "play")
    ]
    audit = people["aud1"].fetch("/audit").text
    assert "查看波形" in audit


# -- the evidence package -------------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_exporting_the_evidence_package_is_the_same_through_both_doors(
    door: str, people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    cid = case["id"]
    url = (
        f"/api/cases/{cid}/evidence-package" if door == "json" else f"/cases/{cid}/evidence/package"
    )
    assert people["op1"].fetch(url).status_code == 403, "operators never export"
    assert people["inv1"].fetch(url).status_code == 403, "not without a reason"
    people["inv1"].post(
        f"/api/cases/{cid}/replay-reason", {"reason": "纪检调查：核实办理过程"}, status=201
    )
    exported = people["inv1"].fetch(url)
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    assert exported.headers["cache-control"] == "no-store, private"
    assert f"{case['number']}-evidence.zip" in exported.headers["content-disposition"]
    assert log_rows(sessions) == [
        ("op1", "export", "denied", cid),
        ("inv1", "export", "denied", cid),
        ("inv1", "export", "allowed", cid),
    ]


# -- legal holds and grants -----------------------------------------------------------------


@pytest.mark.parametrize("door", DOORS)
def test_a_legal_hold_is_the_same_step_through_both_doors(
    door: str, people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    cid = case["id"]

    def place(name: str, reason: str) -> int:
        return send(
            door,
            people[name],
            f"/api/cases/{cid}/legal-holds",
            f"/cases/{cid}/evidence/hold",
            reason=reason,
        )

    def release(hold_id: str, reason: str) -> int:
        return send(
            door,
            people["sup1"],
            f"/api/cases/{cid}/legal-holds/{hold_id}/release",
            f"/cases/{cid}/evidence/hold/{hold_id}/release",
            reason=reason,
        )

    def holds() -> list[LegalHold]:
        with sessions() as session:
            return list(session.scalars(select(LegalHold).where(LegalHold.case_id == cid)))

    assert place("op1", "诉讼保全") == 403 and place("inv1", "诉讼保全") == 403
    assert place("sup1", "   ") == 422
    assert holds() == []
    assert place("sup1", "法院调取证据，诉讼保全") == done(door)
    [hold] = holds()
    assert hold.placed_by == "sup1" and hold.released_at is None
    assert release(Z, "诉讼结束") == 404, "no such hold"
    assert release(hold.id, "") == 422
    assert release(hold.id, "诉讼结束") == done(door, created=False)
    assert release(hold.id, "诉讼结束") == 422, "already released"
    [hold] = holds()
    assert hold.released_by == "sup1" and hold.release_reason == "诉讼结束"


@pytest.mark.parametrize("door", DOORS)
def test_a_grant_to_a_unit_is_the_same_step_through_both_doors(
    door: str, people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    cid, units = case["id"], case["units"]

    def grant(name: str, unit: str) -> int:
        return send(
            door,
            people[name],
            f"/api/cases/{cid}/recording-grants",
            f"/cases/{cid}/evidence/grant",
            unit_id=units[unit],
            reason="请核实诉求细节",
        )

    def revoke(grant_id: str) -> int:
        url = f"/api/cases/{cid}/recording-grants/{grant_id}/revoke"
        status = send(door, people["sup1"], url, f"/cases/{cid}/evidence/grant/{grant_id}/revoke")
        return 303 if door == "json" and status == 204 else status

    assert grant("op1", "市生态环境局") == 403
    assert grant("sup1", "幸福里小区物业服务中心") == 422, "never the unit complained about"
    assert grant("sup1", "市生态环境局") == done(door)
    with sessions() as session:
        [granted] = session.scalars(select(RecordingGrant).where(RecordingGrant.case_id == cid))
    assert granted.unit_id == units["市生态环境局"]
    assert people["h_env"].fetch(f"/api/recordings/{case['recording_id']}/audio").status_code == 200
    assert revoke(Z) == 404, "no such grant: 404 through both doors"
    assert revoke(granted.id) == 303
    assert people["h_env"].fetch(f"/api/recordings/{case['recording_id']}/audio").status_code == 403


# -- 调听：页面只在可以调听时提供播放器 ----------------------------------------------------------


def test_the_call_page_offers_the_player_exactly_when_listening_allows(
    people: dict[str, Actor], case: dict[str, Any]
) -> None:
    """The call page asks custody's listening rule, the one the stream applies."""
    audio = f"/api/recordings/{case['recording_id']}/audio"
    for name, person in people.items():
        page = person.fetch(f"/calls/{case['call_id']}")
        if page.status_code != 200:
            continue
        heard = person.fetch(audio).status_code
        assert ("<audio" in page.text) == (heard == 200), (name, heard)


def test_the_unit_page_offers_the_recording_only_while_the_grant_still_counts(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    """A grant counts only while the disclosure rules let the unit see the evidence: once the
    complainant asks for confidentiality the unit's page offers no player (it would answer
    403), though the grant itself is not revoked."""
    handler, cid = people["h_env"], case["id"]
    people["sup1"].post(
        f"/api/cases/{cid}/recording-grants",
        {"unit_id": case["units"]["市生态环境局"], "reason": "请核实诉求细节"},
        status=201,
    )
    player = f'src="/api/recordings/{case["recording_id"]}/audio"'
    audio = f"/api/recordings/{case['recording_id']}/audio"
    assert player in handler.fetch(f"/unit/cases/{cid}").text
    assert handler.fetch(audio).status_code == 200
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == cid).values(confidential=True))
    assert handler.fetch(audio).status_code == 403
    page = handler.fetch(f"/unit/cases/{cid}")
    assert page.status_code == 200 and "<audio" not in page.text


@pytest.mark.parametrize("door", DOORS)
def test_downloading_the_archive_bundle_is_the_same_through_both_doors(
    door: str, people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    cid, number = case["id"], case["number"]
    close(people, number)
    people["sup1"].post(f"/api/cases/{cid}/archive")
    url = f"/api/cases/{cid}/archive/bundle" if door == "json" else f"/cases/{cid}/evidence/archive"
    assert people["op1"].fetch(url).status_code == 403, "operators never"
    assert people["sup1"].fetch(url).status_code == 403, "not without a reason"
    people["sup1"].post(f"/api/cases/{cid}/replay-reason", {"reason": "核查归档材料"}, status=201)
    got = people["sup1"].fetch(url)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert got.headers["cache-control"] == "no-store, private"
    with sessions() as session:
        archived = session.scalars(select(CaseArchive).where(CaseArchive.case_id == cid)).one()
    assert hashlib.sha256(got.content).hexdigest() == archived.sha256
    assert [row[:3] for row in log_rows(sessions)][-3:] == [
        ("op1", "download", "denied"),
        ("sup1", "download", "denied"),
        ("sup1", "download", "allowed"),
    ]
