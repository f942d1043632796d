"""The access log says what was heard (issue 16, defect 8): the console's players load
nothing before play, the first request of a listening is its play, the player's further
requests of the same listening are logged as what they are (续播), each with its range, and
the auditor reads roles and scopes in Chinese. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from custody import access
from custody.models import RecordingAccess
from tests.api_actor import Actor
from tests.integration import test_replay

settings, people, case = test_replay.settings, test_replay.people, test_replay.case
REASON = "核查话务员服务态度投诉"


def entries(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, str]]:
    with sessions() as session:
        return [
            (r.actor, r.action, r.outcome, r.byte_range)
            for r in session.scalars(select(RecordingAccess).order_by(RecordingAccess.id))
        ]


def test_a_listening_is_one_play_and_the_rest_of_it_is_logged_as_what_it_is(
    people: dict[str, Actor], case: dict[str, Any], sessions: sessionmaker[Session]
) -> None:
    sup, inv, op2 = people["sup1"], people["inv1"], people["op2"]
    url = f"/api/recordings/{case['recording_id']}/audio"
    for who in (sup, inv):
        who.post(f"/api/cases/{case['id']}/replay-reason", {"reason": REASON}, status=201)
    middle = len(case["audio"]) // 2

    assert sup.fetch(url, headers={"Range": "bytes=0-"}).status_code == 206
    assert sup.fetch(url, headers={"Range": f"bytes={middle}-"}).status_code == 206
    assert sup.fetch(url).content == case["audio"], "a range or not, the same bytes as before"
    assert inv.fetch(url, headers={"Range": "bytes=0-"}).status_code == 206, "someone else"
    assert op2.fetch(url).status_code == 403
    assert op2.fetch(url).status_code == 403, "a refusal is always what was attempted"
    assert sup.fetch(url + "?download=true").status_code == 200
    with time_machine.travel(
        dt.datetime.now(dt.UTC) + access.LISTENING_GAP + dt.timedelta(minutes=1), tick=True
    ):
        assert sup.fetch(url, headers={"Range": f"bytes={middle}-"}).status_code == 206
        assert sup.fetch(url, headers={"Range": "bytes=44-99"}).status_code == 206

    assert entries(sessions) == [
        ("sup1", "play", "allowed", "bytes=0-"),
        ("sup1", "range", "allowed", f"bytes={middle}-"),
        ("sup1", "range", "allowed", ""),
        ("inv1", "play", "allowed", "bytes=0-"),
        ("op2", "play", "denied", ""),
        ("op2", "play", "denied", ""),
        ("sup1", "download", "allowed", ""),
        ("sup1", "play", "allowed", f"bytes={middle}-"),  # back to it after a while
        ("sup1", "range", "allowed", "bytes=44-99"),
    ]
    log = people["aud1"].fetch("/api/audit/recording-access").json()
    assert log["chain_intact"] and [e["action"] for e in log["entries"]][:2] == ["range", "play"]


def test_the_auditor_reads_roles_actions_and_scopes_in_chinese(
    people: dict[str, Actor], case: dict[str, Any]
) -> None:
    sup = people["sup1"]
    url = f"/api/recordings/{case['recording_id']}/audio"
    sup.post(f"/api/cases/{case['id']}/replay-reason", {"reason": REASON}, status=201)
    sup.fetch(url, headers={"Range": "bytes=0-"})
    sup.fetch(url, headers={"Range": "bytes=44-99"})
    people["op1"].fetch(f"/calls/{case['call_id']}")  # the transcript shown on the call page
    people["h_prop"].fetch(url)  # the unit complained about: refused

    page = people["aud1"].fetch("/audit")
    assert page.status_code == 200
    rows = re.findall(r"<tr><td>\d+</td>(.*?)</tr>", page.text)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows]
    # newest first: actor, role, action, outcome, …, scope is the tenth cell after the time
    seen = [(c[1], c[2], c[3], c[4], c[9]) for c in cells]
    assert seen[:4] == [
        ("h_prop", "承办单位经办人", "播放", "拒绝", "整个文件"),
        ("op1", "话务员", "查看转写", "允许", "来电页面"),
        ("sup1", "督查员", "续播", "允许", "第 44–99 字节"),
        ("sup1", "督查员", "播放", "允许", "从头开始"),
    ]
    assert "supervisor" not in page.text and "call page" not in page.text


def actions_on_page(text: str) -> list[tuple[str, str, str]]:
    """(who, action, scope) of each row of the evidence page's access log."""
    body = text.split('<table id="access-log">', 1)[1].split("</tbody>", 1)[0]
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]
    return [(c[1], c[2], c[6]) for c in cells if len(c) == 7]


def test_the_evidence_page_player_loads_nothing_before_play(
    people: dict[str, Actor], case: dict[str, Any]
) -> None:
    sup = people["sup1"]
    sup.post(f"/api/cases/{case['id']}/replay-reason", {"reason": REASON}, status=201)
    page = sup.fetch(f"/cases/{case['id']}/evidence")
    players = re.findall(r"<audio[^>]*>", page.text)
    assert players and all('preload="none"' in p for p in players), players
    assert actions_on_page(page.text) == [], "the page's own transcript read comes after it"
    sup.fetch(f"/api/recordings/{case['recording_id']}/audio", headers={"Range": "bytes=0-"})
    page = sup.fetch(f"/cases/{case['id']}/evidence")
    assert actions_on_page(page.text) == [
        ("sup1", "播放", "从头开始"),
        ("sup1", "查看转写", "调听与证据页面"),
    ]
