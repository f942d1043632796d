"""漏接回拨 through the operator's phone, end to end: an operator clicks 一键回拨 in Debian's
Chromium; the ivr service's dialer sends AMI Originate to the real Asterisk, which rings the
operator's SIPp phone and, once it answers, dials the citizen's SIPp phone through the
outbound trunk; the outcome (answered, then the call's end; busy) is recorded on the dial and
as an attempt on the callback list, and shown on the page."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest
from playwright.sync_api import Browser, expect

from core.db import transaction
from core.waiting import wait_for
from dispatch.cases.models import CallbackAttempt
from dispatch.feedback import operator_dial
from dispatch.feedback.operator_dial_models import OperatorDial
from ivr.models import Call, CallbackRequest
from phones.citizen import Behaviour, CitizenPhone
from tests.builders import PASSWORD, add_user
from tests.conftest import SAMPLES
from tests.e2e.browser import logged_in, screenshot
from tests.e2e.conftest import Hotline

pytestmark = pytest.mark.asterisk

OPERATOR, PHONE = "h6-operator", "8001"
VOICE = SAMPLES / "magicdata_cs_insurance_000012.wav"


def citizen_port(hotline: Hotline) -> int:
    return int(hotline.settings.outbound_sip_target.rsplit(":", 1)[1])


def add_callback(hotline: Hotline, uid: str, number: str) -> str:
    """An abandoned call from ``number`` on the callback list; the request's id."""
    now = dt.datetime.now(dt.UTC)
    with transaction(hotline.sessions) as session:
        call = Call(
            asterisk_uniqueid=uid,
            caller_number=number,
            started_at=now - dt.timedelta(minutes=3),
            ended_at=now - dt.timedelta(minutes=2),
            outcome="abandoned",
        )
        session.add(call)
        session.flush()
        request = CallbackRequest(call_id=call.id, created_at=now - dt.timedelta(minutes=2))
        session.add(request)
        session.flush()
        return request.id


def dials_of(hotline: Hotline, request_id: str) -> list[OperatorDial]:
    with hotline.sessions() as session:
        return list(session.query(OperatorDial).filter_by(callback_request_id=request_id).all())


def settled(hotline: Hotline, request_id: str, check: str, timeout: float = 60) -> OperatorDial:
    def done() -> OperatorDial | None:
        found = [d for d in dials_of(hotline, request_id) if d.status == check]
        return found[0] if found else None

    return wait_for(done, timeout, f"the callback's dial to be {check}")


def attempts(hotline: Hotline, request_id: str) -> list[tuple[str, str]]:
    with hotline.sessions() as session:
        rows = session.query(CallbackAttempt).filter_by(request_id=request_id).all()
        return [(a.actor, a.outcome) for a in rows]


def test_an_operator_calls_a_missed_caller_back_through_their_phone(
    hotline: Hotline, browser: Browser
) -> None:
    add_user(hotline.sessions, OPERATOR, "operator", phone=PHONE)
    base = f"http://127.0.0.1:{hotline.settings.api_port}"
    port = citizen_port(hotline)
    reached, busy_number = "13900000601", "13900000602"
    request_id = add_callback(hotline, "h6.e2e.1", reached)
    busy_request = add_callback(hotline, "h6.e2e.2", busy_number)

    operator_phone = hotline.operator_phone(PHONE, VOICE)
    operator_phone.hang_up_after = 5.0  # the operator talks five seconds, then hangs up
    with operator_phone, CitizenPhone(port=port, behaviour=Behaviour.ANSWER) as citizen:
        page = logged_in(browser, base, OPERATOR)
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(f"{base}/callbacks")
        row = page.locator(f"#callback-{request_id}")
        expect(row).to_contain_text(reached)
        row.get_by_role("button", name="一键回拨").click()
        # The page follows the dial and shows the answer (the callback then leaves the list).
        recent = page.locator("#recent-dials")
        expect(recent).to_contain_text("已接通", timeout=45_000)
        answered = settled(hotline, request_id, "answered")
        screenshot(page, "h6-callbacks-answered")
        assert answered.operator == OPERATOR and answered.phone == PHONE
        assert answered.started_at is not None and answered.operator_answered_at is not None
        assert answered.answered_at is not None
        assert answered.started_at <= answered.operator_answered_at <= answered.answered_at
        assert citizen.invites() == [f"sip:{reached}@127.0.0.1:{port}"]
        assert f"From: <sip:{hotline.settings.hotline_number}@" in citizen.message_log.read_text()
        ended = wait_for(
            lambda: next((d for d in dials_of(hotline, request_id) if d.ended_at), None),
            30,
            "the call to end",
        )
        assert ended.ended_at is not None
        talked = (ended.ended_at - answered.answered_at).total_seconds()
        assert 1 < talked < 10, talked
        assert attempts(hotline, request_id) == [(OPERATOR, "reached")]
        with hotline.sessions() as session:
            request = session.get(CallbackRequest, request_id)
            assert request is not None and request.status == "done"
        page.reload()
        expect(page.locator("#recent-dials")).to_contain_text("秒")  # its length once over
        expect(page.locator(f"#callback-{request_id}")).to_have_count(0)
        expect(page.locator(f"#callback-{busy_request}")).to_be_visible()
        screenshot(page, "h6-callbacks")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the callback list scrolls sideways on a phone ({width}px)"
        screenshot(page, "h6-callbacks-phone")
        page.close()

    # The same through the JSON API, to a busy phone: recorded, the callback stays open.
    with hotline.operator_phone(PHONE, VOICE), CitizenPhone(port=port, behaviour=Behaviour.BUSY):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        body = json.dumps({"username": OPERATOR, "password": PASSWORD}).encode()
        login = urllib.request.Request(
            f"{base}/api/session", data=body, headers={"Content-Type": "application/json"}
        )
        with opener.open(login, timeout=10) as answer:
            csrf = json.loads(answer.read())["csrf_token"]
        ask = urllib.request.Request(
            f"{base}/api/callbacks/{busy_request}/dial",
            data=b"",
            method="POST",
            headers={"X-CSRF-Token": csrf},
        )
        with opener.open(ask, timeout=10) as answer:
            assert answer.status == 201
            dial_id = json.loads(answer.read())["id"]
        busy = settled(hotline, busy_request, "busy")
        assert busy.id == dial_id and busy.failed_leg == "" and busy.answered_at is None
        with opener.open(f"{base}/api/operator-dials/{dial_id}", timeout=10) as answer:
            assert json.loads(answer.read())["status"] == "busy"
    assert attempts(hotline, busy_request) == [(OPERATOR, "busy")]
    with hotline.sessions() as session:
        request = session.get(CallbackRequest, busy_request)
        assert request is not None and request.status == "pending"


def test_an_operator_phone_that_does_not_answer_fails_the_dial_on_the_operators_side(
    hotline: Hotline,
) -> None:
    """Nobody is dialled when the operator's own phone is not answered."""
    add_user(hotline.sessions, "h6-op2", "operator", phone="8002")
    request_id = add_callback(hotline, "h6.e2e.3", "13900000603")
    port = citizen_port(hotline)
    with (
        hotline.operator_phone("8002", None, answer=False),
        CitizenPhone(port=port, behaviour=Behaviour.ANSWER) as citizen,
    ):
        with transaction(hotline.sessions) as session:
            operator_dial.request_dial(
                session, request_id, "h6-op2", "8002", dt.datetime.now(dt.UTC), trunk=True
            )
        failed = settled(
            hotline, request_id, "failed", timeout=hotline.settings.queue_ring_seconds + 40
        )
        assert citizen.invites() == []
    assert (failed.failed_leg, failed.reason) == ("operator", "no answer")
    assert failed.finished_at is not None and failed.started_at is not None
    rang = (failed.finished_at - failed.started_at).total_seconds()
    assert rang >= hotline.settings.queue_ring_seconds - 1
    assert attempts(hotline, request_id) == []
