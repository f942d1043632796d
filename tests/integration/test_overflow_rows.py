"""Overflow between nodes (Issue 18, H7) on both databases and over FastAGI: the other node's
call flow marks its call a leg of the first node's call (named in the header), its row says
so, the first node's row names the operator who answered there (whichever row is written
last), and the calls list and the reports' reader hold the citizen's call once."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role
from api.app import create_app
from core.db import transaction
from core.settings import Settings
from custody import call_search
from custody.requester import Requester
from dispatch.reports import reader
from ivr import call_store
from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr.call_flow import CallFlow
from ivr.call_state import CallState, replay
from ivr.models import Call
from tests.builders import PASSWORD, add_user
from tests.integration.test_fastagi_call_flow import NOON, config, run_call

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
FIRST = "node-a-1763604000.7"
LEG = "node-b-1763604010.3"
CALLER = "13800138000"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def first_state() -> CallState:
    """The first node's call: notice, recording, queue, passed on and answered there (the
    first node learns only that: operator ``overflow``), hung up."""
    return replay(
        FIRST,
        [
            ev.CallStarted(FIRST, at(0), FIRST, "PJSIP/citizens-1", CALLER, "", "12345"),
            ev.NoticeFinished(FIRST, at(5)),
            ev.RecordingStarted(FIRST, at(5.1), path="/spool/a.wav"),
            ev.CallQueued(FIRST, at(5.2), queue="hotline"),
            ev.OperatorAnswered(FIRST, at(14), operator=dv.OVERFLOW_OPERATOR),
            ev.CallHungUp(FIRST, at(40), cause=16, cause_text=""),
        ],
    )


def leg_state(answered: bool = True) -> CallState:
    events: list[ev.CallEvent] = [
        ev.CallStarted(LEG, at(10), LEG, "PJSIP/router-1", CALLER, "", "12345"),
        ev.OverflowLeg(LEG, at(10.1), of_call=FIRST, from_node="a"),
        ev.CallQueued(LEG, at(10.2), queue="hotline"),
    ]
    if answered:
        events.append(ev.OperatorAnswered(LEG, at(14), operator="8003"))
    events.append(ev.CallHungUp(LEG, at(40), cause=16, cause_text=""))
    return replay(LEG, events)


def save(sessions: sessionmaker[Session], state: CallState, node: str) -> None:
    with transaction(sessions) as session:
        call_store.save_state(session, state, node)


def rows(sessions: sessionmaker[Session]) -> dict[str, Call]:
    with sessions() as session:
        return {c.asterisk_uniqueid: c for c in session.query(Call).all()}


def test_the_leg_written_last_names_the_operator_on_the_first_row(
    sessions: sessionmaker[Session],
) -> None:
    save(sessions, first_state(), "a")
    assert rows(sessions)[FIRST].operator == dv.OVERFLOW_OPERATOR
    save(sessions, leg_state(), "b")
    found = rows(sessions)
    assert found[FIRST].operator == "8003" and found[FIRST].outcome == "answered"
    assert found[LEG].overflow_of == FIRST and found[LEG].outcome == "overflow_answered"
    # The first node writes its row again (its hang-up, the recording): the operator stays.
    save(sessions, first_state(), "a")
    assert rows(sessions)[FIRST].operator == "8003"


def test_the_first_row_written_last_takes_the_operator_from_the_leg(
    sessions: sessionmaker[Session],
) -> None:
    save(sessions, leg_state(), "b")
    save(sessions, first_state(), "a")
    assert rows(sessions)[FIRST].operator == "8003"


def test_the_citizens_call_is_listed_and_read_once_with_its_leg_on_its_page(
    sessions: sessionmaker[Session],
) -> None:
    save(sessions, first_state(), "a")
    save(sessions, leg_state(answered=False), "b")
    with sessions() as session:
        assert [c.asterisk_uniqueid for c in call_store.list_calls(session)] == [FIRST]
        first = session.query(Call).filter_by(asterisk_uniqueid=FIRST).one()
        legs = call_store.overflow_legs(session, first)
        assert [(leg.node, leg.outcome) for leg in legs] == [("b", "overflow_unanswered")]
        data = reader.load(session, at(-3600), at(3600))
    assert [row.id for row in data.calls] == [first.id]
    with sessions() as session:
        assert session.query(Call).filter_by(asterisk_uniqueid=LEG).one().operator is None
        # Unanswered at the other node: no call-back filed for the leg.
        leg_id = session.query(Call.id).filter_by(asterisk_uniqueid=LEG).scalar()
        assert leg_id is not None
        assert call_store.needs_callback(leg_state(answered=False)) is False


def test_the_call_search_finds_the_citizens_call_once(sessions: sessionmaker[Session]) -> None:
    save(sessions, first_state(), "a")
    save(sessions, leg_state(), "b")
    add_user(sessions, "op3", "operator", "8003")
    admin = Requester("admin-id", "admin1", Role.ADMIN, "")
    with sessions() as session:
        first_id = session.query(Call.id).filter_by(asterisk_uniqueid=FIRST).scalar()
        for params in ({"q": CALLER}, {"operator": "op3"}, {}):
            wanted, paging = call_search.call_filters(params, ZoneInfo("UTC"))
            page = call_search.search(session, wanted, paging, admin, at(3600), 7)
            assert [c.id for c in page.items] == [first_id], params
            assert page.total == 1


def test_the_call_page_shows_the_leg_and_the_legs_page_its_first_call(
    sessions: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    save(sessions, first_state(), "a")
    save(sessions, leg_state(), "b")
    add_user(sessions, "sup1", "supervisor")
    with sessions() as session:
        ids = dict(session.query(Call.asterisk_uniqueid, Call.id).all())
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        login = client.post("/api/session", json={"username": "sup1", "password": PASSWORD})
        assert login.status_code == 200, login.text
        first = client.get(f"/calls/{ids[FIRST]}")
        assert first.status_code == 200, first.text
        assert "转接至节点 b，由 8003 接听" in first.text
        leg = client.get(f"/calls/{ids[LEG]}").text
        assert "转接来电（本节点已接听）" in leg and f"原来电 {FIRST}" in leg


def responder(header: str) -> Callable[[str], str]:
    variables = {"PJSIP_HEADER(read,X-Hotline-Overflow)": [header], "QUEUESTATUS": ["TIMEOUT"]}

    def respond(command: str) -> str:
        if command.startswith("GET VARIABLE"):
            values = variables.get(command.removeprefix("GET VARIABLE "), [])
            return f"200 result=1 ({values.pop(0)})" if values else "200 result=0"
        return "200 result=0"

    return respond


def test_the_other_nodes_call_flow_marks_its_call_a_leg_of_the_call_in_the_header(
    tmp_path: Path,
) -> None:
    flow = CallFlow(dataclasses.replace(config(tmp_path), overflow_in=True), clock=lambda: NOON)
    commands = run_call(flow, responder(f"a/{FIRST}"))
    assert commands[1] == f'EXEC UserEvent "{dv.EVENT_OVERFLOW_LEG},Call: {FIRST},Node: a"'
    assert commands[2] == 'EXEC Queue "hotline,r,,,30"'
    assert "ANSWER" not in commands
