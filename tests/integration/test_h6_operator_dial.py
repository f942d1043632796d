"""Callbacks dialled through the operator's phone, on SQLite and PostgreSQL: the console's
request and its refusals, the ivr dialer's claim, and what the AMI messages Asterisk sends
(OriginateResponse, BridgeEnter, the dial plan's UserEvent, Hangup) do to the row and to the
callback list — through the real adapter (``ListenerDialAmi``) on a hand-written stand-in
for the AMI connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import transaction
from core.settings import Settings
from core.waiting import async_wait_for
from dispatch.cases.models import CallbackAttempt
from dispatch.cases.registration import Invalid
from dispatch.feedback import operator_dial
from dispatch.feedback.operator_dial_models import OperatorDial
from dispatch.feedback.operator_dialer import (
    ListenerDialAmi,
    OperatorDialer,
    OperatorDialerConfig,
    operator_dialer_for,
)
from ivr.ami_adapter import event_time
from ivr.models import Call, CallbackRequest
from tests.api_actor import Actor
from tests.builders import add_user

NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)
CONFIG = OperatorDialerConfig(operator_ring_seconds=15, citizen_ring_seconds=30, poll_seconds=0.05)


def add_callback(sessions: sessionmaker[Session], uid: str, number: str = "13800138000") -> str:
    """An abandoned call on the callback list; the request's id."""
    with transaction(sessions) as session:
        call = Call(
            asterisk_uniqueid=uid,
            caller_number=number,
            started_at=NOW - dt.timedelta(minutes=5),
            ended_at=NOW - dt.timedelta(minutes=4),
            outcome="abandoned",
        )
        session.add(call)
        session.flush()
        request = CallbackRequest(call_id=call.id, created_at=NOW - dt.timedelta(minutes=4))
        session.add(request)
        session.flush()
        return request.id


def ask(
    sessions: sessionmaker[Session],
    request_id: str,
    phone: str = "8001",
    at: dt.datetime = NOW,
    trunk: bool = True,
    operator: str = "op1",
) -> OperatorDial:
    with transaction(sessions) as session:
        return operator_dial.request_dial(session, request_id, operator, phone, at, trunk)


def dial_row(sessions: sessionmaker[Session], dial_id: str) -> OperatorDial:
    with sessions() as session:
        found = session.get(OperatorDial, dial_id)
        assert found is not None
        return found


def request_row(sessions: sessionmaker[Session], request_id: str) -> CallbackRequest:
    with sessions() as session:
        found = session.get(CallbackRequest, request_id)
        assert found is not None
        return found


def attempts(sessions: sessionmaker[Session], request_id: str) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.query(CallbackAttempt).filter_by(request_id=request_id).all()
        return [(a.actor, a.outcome, a.note) for a in rows]


def refusal(action: Callable[[], object]) -> str:
    with pytest.raises(Invalid) as refused:
        action()
    return refused.value.errors["dial"].zh


def test_a_request_is_refused_with_the_reason_the_operator_can_act_on(
    sessions: sessionmaker[Session],
) -> None:
    request_id = add_callback(sessions, "1.1")
    assert "未绑定话务分机" in refusal(lambda: ask(sessions, request_id, phone=""))
    assert "未配置外呼线路" in refusal(lambda: ask(sessions, request_id, trunk=False))
    hidden = add_callback(sessions, "1.2", number="anonymous")
    assert "来电号码无法回拨" in refusal(lambda: ask(sessions, hidden))
    with pytest.raises(LookupError):
        ask(sessions, "f" * 32)

    first = ask(sessions, request_id)
    assert (first.status, first.number, first.phone, first.operator) == (
        "pending",
        "13800138000",
        "8001",
        "op1",
    )
    assert "正在回拨中" in refusal(lambda: ask(sessions, request_id, phone="8002"))
    other = add_callback(sessions, "1.3", number="021-12345678")
    assert "正在进行另一通回拨" in refusal(lambda: ask(sessions, other))
    assert ask(sessions, other, phone="8002").number == "02112345678"

    with transaction(sessions) as session:
        session.get(CallbackRequest, request_id).status = "done"  # type: ignore[union-attr]
    done = add_callback(sessions, "1.4")
    with transaction(sessions) as session:
        session.get(CallbackRequest, done).status = "done"  # type: ignore[union-attr]
    assert refusal(lambda: ask(sessions, done, phone="8003")) == "该回拨已完成"


def test_claims_take_each_request_once_and_drop_stale_ones(
    sessions: sessionmaker[Session],
) -> None:
    ids = [ask(sessions, add_callback(sessions, f"2.{i}"), phone=f"80{i:02d}").id for i in range(8)]
    old = ask(
        sessions, add_callback(sessions, "2.old"), phone="8099", at=NOW - dt.timedelta(minutes=2)
    )
    taken: list[list[str]] = [[] for _ in range(3)]
    start = threading.Barrier(3)

    def dialer(index: int) -> None:
        start.wait()
        while True:
            with transaction(sessions) as session:
                batch = operator_dial.claim_pending(session, NOW, limit=2)
            if not batch:
                return
            taken[index].extend(d.id for d in batch)

    threads = [threading.Thread(target=dialer, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(d for batch in taken for d in batch) == sorted(ids)
    assert dial_row(sessions, ids[0]).status == "calling_operator"
    expired = dial_row(sessions, old.id)
    assert (expired.status, expired.failed_leg, expired.reason) == (
        "failed",
        "system",
        "not dialled in time",
    )
    assert operator_dial.describe(expired) == "未能接通：系统超时未拨出（语音服务未运行？）"

    later = NOW + CONFIG.stale_after + dt.timedelta(seconds=1)
    with transaction(sessions) as session:
        lost = operator_dial.recover_stale(session, later, CONFIG.stale_after)
    assert sorted(lost) == sorted(ids)
    assert dial_row(sessions, ids[0]).reason == "no outcome: the call was lost"


class FakeManager:
    """What ``ListenerDialAmi`` uses of panoramisk's Manager: event callbacks and actions.
    The test answers each action by resolving its future."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list[Callable[[Any, Mapping[str, str]], None]]] = {}
        self.actions: list[tuple[dict[str, str], asyncio.Future[Any]]] = []

    def register_event(self, name: str, callback: Callable[[Any, Mapping[str, str]], None]) -> None:
        self.callbacks.setdefault(name, []).append(callback)

    def send_action(self, action: dict[str, str]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.actions.append((action, future))
        return future

    def emit(self, message: dict[str, str]) -> None:
        for callback in self.callbacks.get(message["Event"], []):
            callback(self, message)


class FakeListener:
    def __init__(self) -> None:
        self.manager = FakeManager()
        self.connected = True


async def until(check: Callable[[], Any], what: str) -> Any:
    async def condition() -> Any:
        return check()

    return await async_wait_for(condition, 10, what, interval=0.01)


def stamp(at: dt.datetime) -> str:
    return f"{at.timestamp():.6f}"


def response(success: bool, at: dt.datetime, reason: str = "4") -> list[dict[str, str]]:
    return [
        {"Response": "Success", "Message": "Originate successfully queued"},
        {
            "Event": "OriginateResponse",
            "Response": "Success" if success else "Failure",
            "Reason": reason,
            "Timestamp": stamp(at),
        },
    ]


class Bench:
    """The dialer on a fake AMI connection, in its own event loop."""

    def __init__(self, sessions: sessionmaker[Session], clock: dt.datetime = NOW) -> None:
        self.sessions = sessions
        self.listener = FakeListener()
        self.ami = ListenerDialAmi(self.listener)  # type: ignore[arg-type]
        self.dialer = OperatorDialer(CONFIG, sessions, self.ami, lambda: clock)

    @property
    def manager(self) -> FakeManager:
        return self.listener.manager

    async def originated(self, count: int) -> dict[str, str]:
        await until(lambda: len(self.manager.actions) >= count, "an Originate")
        return self.manager.actions[count - 1][0]

    async def settles(self, dial_id: str, check: Callable[[OperatorDial], bool]) -> OperatorDial:
        def ready() -> OperatorDial | None:
            row = dial_row(self.sessions, dial_id)
            return row if check(row) else None

        result: OperatorDial = await until(ready, f"dial {dial_id}")
        return result


def run(scenario: Callable[[Bench], Any], sessions: sessionmaker[Session]) -> None:
    async def main() -> None:
        bench = Bench(sessions)
        bench.dialer.start()
        try:
            await scenario(bench)
        finally:
            await bench.dialer.close()

    asyncio.run(main())


def test_the_operator_answers_then_the_citizen_and_the_callback_is_settled(
    sessions: sessionmaker[Session],
) -> None:
    request_id = add_callback(sessions, "3.1")
    dial = ask(sessions, request_id)
    answered_at = NOW + dt.timedelta(seconds=9)

    async def scenario(bench: Bench) -> None:
        action = await bench.originated(1)
        assert action == {
            "Action": "Originate",
            "Channel": "PJSIP/8001",
            "Context": "hotline-operator-dial",
            "Exten": "13800138000",
            "Priority": "1",
            "Timeout": "15000",
            "CallerID": '"Callback 13800138000" <13800138000>',
            "ChannelId": dial.id,
            "Async": "true",
        }
        bench.manager.actions[0][1].set_result(response(True, NOW + dt.timedelta(seconds=3)))
        row = await bench.settles(dial.id, lambda r: r.status == "calling_citizen")
        assert row.operator_answered_at == NOW + dt.timedelta(seconds=3)
        # another channel entering a bridge means nothing to this dial
        bench.manager.emit(
            {"Event": "BridgeEnter", "Uniqueid": "other", "Timestamp": stamp(answered_at)}
        )
        bench.manager.emit(
            {"Event": "BridgeEnter", "Uniqueid": dial.id, "Timestamp": stamp(answered_at)}
        )
        await bench.settles(dial.id, lambda r: r.status == "answered")
        again = {"Event": "BridgeEnter", "Uniqueid": dial.id, "Timestamp": stamp(NOW)}
        bench.manager.emit(again)  # reported twice: nothing changes
        bench.manager.emit(
            {
                "Event": "Hangup",
                "Uniqueid": dial.id,
                "Cause": "16",
                "Timestamp": stamp(answered_at + dt.timedelta(seconds=40)),
            }
        )
        await bench.settles(dial.id, lambda r: r.ended_at is not None)
        assert dial.id not in bench.ami.watched

    run(scenario, sessions)
    row = dial_row(sessions, dial.id)
    assert (row.status, row.answered_at, row.finished_at) == ("answered", answered_at, answered_at)
    assert row.ended_at == answered_at + dt.timedelta(seconds=40)
    assert attempts(sessions, request_id) == [("op1", "reached", "经分机 8001 一键回拨，已接通")]
    assert row.attempt_id is not None
    assert request_row(sessions, request_id).status == "done"
    assert operator_dial.describe(row) == "已接通"


@pytest.mark.parametrize(
    ("dial_status", "cause", "status", "attempt", "described"),
    [
        ("BUSY", "17", "busy", "busy", "来电人占线"),
        ("NOANSWER", "19", "no_answer", "no_answer", "来电人无人接听"),
        ("CHANUNAVAIL", "1", "failed", None, "未能接通：来电人号码空号"),
    ],
)
def test_the_citizen_not_answering_is_recorded_and_the_callback_stays_open(
    sessions: sessionmaker[Session],
    dial_status: str,
    cause: str,
    status: str,
    attempt: str | None,
    described: str,
) -> None:
    request_id = add_callback(sessions, "4.1")
    dial = ask(sessions, request_id)
    at = NOW + dt.timedelta(seconds=20)

    async def scenario(bench: Bench) -> None:
        await bench.originated(1)
        # The dial plan's report may even come before the OriginateResponse is read.
        bench.manager.emit(
            {
                "Event": "UserEvent",
                "UserEvent": "HotlineOperatorDial",
                "Uniqueid": dial.id,
                "DialStatus": dial_status,
                "Cause": cause,
                "Timestamp": stamp(at),
            }
        )
        await bench.settles(dial.id, lambda r: r.status == status)
        bench.manager.actions[0][1].set_result(response(True, NOW + dt.timedelta(seconds=2)))
        bench.manager.emit(
            {"Event": "Hangup", "Uniqueid": dial.id, "Cause": "16", "Timestamp": stamp(at)}
        )
        await until(lambda: dial.id not in bench.ami.watched, "the dial forgotten")

    run(scenario, sessions)
    row = dial_row(sessions, dial.id)
    assert (row.status, row.finished_at, row.ended_at) == (status, at, None)
    assert row.operator_answered_at is not None
    assert operator_dial.describe(row) == described
    expected = [] if attempt is None else [("op1", attempt, "经分机 8001 一键回拨")]
    assert attempts(sessions, request_id) == expected
    assert request_row(sessions, request_id).status == "pending", "called again later"


def test_the_operator_not_answering_fails_without_an_attempt(
    sessions: sessionmaker[Session],
) -> None:
    request_id = add_callback(sessions, "5.1")
    dial = ask(sessions, request_id)

    async def scenario(bench: Bench) -> None:
        await bench.originated(1)
        bench.manager.emit(
            {"Event": "Hangup", "Uniqueid": dial.id, "Cause": "19", "Timestamp": stamp(NOW)}
        )
        bench.manager.actions[0][1].set_result(response(False, NOW, reason="3"))
        await bench.settles(dial.id, lambda r: r.status == "failed")

    run(scenario, sessions)
    row = dial_row(sessions, dial.id)
    assert (row.failed_leg, row.reason) == ("operator", "no answer")
    assert operator_dial.describe(row) == "未能接通：话务员分机无人接听"
    assert attempts(sessions, request_id) == []
    assert request_row(sessions, request_id).status == "pending"


def test_the_operator_hanging_up_while_the_citizen_rings_is_the_operators(
    sessions: sessionmaker[Session],
) -> None:
    request_id = add_callback(sessions, "6.1")
    dial = ask(sessions, request_id)

    async def scenario(bench: Bench) -> None:
        await bench.originated(1)
        bench.manager.actions[0][1].set_result(response(True, NOW))
        await bench.settles(dial.id, lambda r: r.status == "calling_citizen")
        bench.manager.emit(
            {"Event": "Hangup", "Uniqueid": dial.id, "Cause": "16", "Timestamp": stamp(NOW)}
        )
        await bench.settles(dial.id, lambda r: r.status == "failed")

    run(scenario, sessions)
    row = dial_row(sessions, dial.id)
    assert (row.failed_leg, row.reason) == (
        "operator",
        "operator hung up before the citizen answered",
    )
    assert attempts(sessions, request_id) == []
    # the next dial for the same callback may go now
    assert ask(sessions, request_id).status == "pending"


def test_both_doors_ask_for_a_dial_and_say_why_not(
    sessions: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    add_user(sessions, "op1", "operator", phone="8001")
    add_user(sessions, "op2", "operator")
    first, second = add_callback(sessions, "7.1"), add_callback(sessions, "7.2")
    settings = Settings(
        data_dir=tmp_path, database_url=db_url, outbound_sip_target="127.0.0.1:5999"
    )
    app = create_app(settings)
    with TestClient(app):
        unbound = Actor(app, "op2")
        refused = unbound.client.post(f"/api/callbacks/{first}/dial", headers=unbound.headers)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["msg"] == (
            "your account has no phone bound: ask an administrator"
        )
        page = unbound.client.post(
            f"/callbacks/{first}/dial", data={"csrf_token": unbound.headers["X-CSRF-Token"]}
        )
        assert page.status_code == 422
        assert "您的账号未绑定话务分机，无法一键回拨" in page.text
        assert 'id="no-phone"' in page.text

        bound = Actor(app, "op1")
        asked = bound.post(f"/api/callbacks/{first}/dial", status=201)
        assert (asked["status"], asked["phone"], asked["number"]) == (
            "pending",
            "8001",
            "13800138000",
        )
        assert bound.get(f"/api/operator-dials/{asked['id']}")["status"] == "pending"
        assert [d["id"] for d in bound.get("/api/operator-dials")] == [asked["id"]]
        listing = bound.fetch("/callbacks").text
        assert f'data-open-dial="{asked["id"]}"' in listing and "等待拨号" in listing
        via_page = bound.client.post(
            f"/callbacks/{second}/dial", data={"csrf_token": bound.headers["X-CSRF-Token"]}
        )
        assert via_page.status_code == 422, "one dial at a time per phone"
        assert "分机 8001 正在进行另一通回拨" in via_page.text
        outcome = bound.client.post(
            f"/callbacks/{second}/outcome",
            data={"csrf_token": bound.headers["X-CSRF-Token"], "outcome": "busy", "note": "手机"},
        )
        assert (outcome.status_code, outcome.headers["location"]) == (
            303,
            f"/callbacks#callback-{second}",
        )
        assert attempts(sessions, second) == [("op1", "busy", "手机")]
        missing = bound.client.post("/api/callbacks/" + "f" * 32 + "/dial", headers=bound.headers)
        assert (missing.status_code, missing.json()) == (
            404,
            {"detail": "callback request not found"},
        )
    no_trunk = create_app(Settings(data_dir=tmp_path, database_url=db_url))
    with TestClient(no_trunk):
        operator = Actor(no_trunk, "op1")
        page_text = operator.fetch("/callbacks").text
        assert 'id="no-trunk"' in page_text and "一键回拨</button>" not in page_text


TRACES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def replayed(name: str) -> list[dict[str, str]]:
    lines = (TRACES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize(
    ("name", "dial_id", "status", "attempt"),
    [
        ("operator_dial_answered", "be44f915e3b2409c8bd662d8fcddf95b", "answered", "reached"),
        ("operator_dial_busy", "f8ec55adb43b400d8583c65eb1911f41", "busy", "busy"),
    ],
)
def test_a_real_asterisk_trace_replayed_settles_the_dial(
    sessions: sessionmaker[Session], name: str, dial_id: str, status: str, attempt: str
) -> None:
    """The AMI messages Asterisk 22 sent for a one-button callback in the e2e test, fed to
    the dialer after its OriginateResponse: the same outcome as on the real PBX."""
    request_id = add_callback(sessions, f"8.{name}")
    asked = ask(sessions, request_id)
    with transaction(sessions) as session:
        session.execute(update(OperatorDial).where(OperatorDial.id == asked.id).values(id=dial_id))
    messages = replayed(name)
    times = [event_time(m) for m in messages]

    async def scenario(bench: Bench) -> None:
        await bench.originated(1)
        bench.manager.actions[0][1].set_result(response(True, times[0]))
        await bench.settles(dial_id, lambda r: r.status != "calling_operator")
        for message in messages:
            bench.manager.emit(message)
        if status == "answered":
            await bench.settles(dial_id, lambda r: r.ended_at is not None)
        else:
            await bench.settles(dial_id, lambda r: r.status == status)

    run(scenario, sessions)
    row = dial_row(sessions, dial_id)
    assert row.status == status
    assert [a for _who, a, _note in attempts(sessions, request_id)] == [attempt]
    if status == "answered":
        assert row.answered_at is not None and row.ended_at is not None
        assert 4 < (row.ended_at - row.answered_at).total_seconds() < 5  # as on the PBX
    else:
        assert row.ended_at is None and row.finished_at == times[3]  # the UserEvent's time


def test_each_node_dials_only_through_its_own_operators_phones(
    sessions: sessionmaker[Session],
) -> None:
    """Issue 18: two nodes' dialers on one database; each claims only the dials of the
    operators whose phones are on it. The single machine claims every phone's."""
    on_a = ask(sessions, add_callback(sessions, "3.1"), phone="8001")
    on_b = ask(sessions, add_callback(sessions, "3.2"), phone="8002")
    nowhere = ask(
        sessions, add_callback(sessions, "3.3"), phone="8009", at=NOW - dt.timedelta(minutes=2)
    )

    def node_dialer(node_name: str, operators: list[str]) -> OperatorDialer:
        settings = Settings(
            node_name=node_name, operators=operators, outbound_sip_target="127.0.6.1:5070"
        )
        dialer = operator_dialer_for(settings, sessions, FakeListener(), lambda: NOW)  # type: ignore[arg-type]
        assert dialer is not None
        return dialer

    node_a, node_b = node_dialer("a", ["8001", "8003"]), node_dialer("b", ["8002"])
    assert node_a.config.phones == frozenset({"8001", "8003"})
    assert [d.id for d in node_a.claim(NOW)] == [on_a.id]
    assert dial_row(sessions, on_b.id).status == "pending", "node a never takes b's"
    expired = dial_row(sessions, nowhere.id)
    assert (expired.status, expired.reason) == ("failed", "not dialled in time"), (
        "a request for a phone on no node still fails in time"
    )
    assert node_a.claim(NOW) == []
    assert [d.id for d in node_b.claim(NOW)] == [on_b.id]

    single = node_dialer("", ["8001"])
    assert single.config.phones is None
    anyone = ask(sessions, add_callback(sessions, "3.4"), phone="8004")
    assert [d.id for d in single.claim(NOW)] == [anyone.id], "the single machine: unchanged"
