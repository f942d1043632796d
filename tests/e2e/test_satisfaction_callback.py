"""End to end: the hotline calls a citizen back through the real Asterisk (AMI Originate),
asks for their satisfaction, reads the key they press (RFC 2833, from a SIPp phone) and
stores it; busy and unanswered phones are tried again later, then given up."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from core.db import transaction
from core.waiting import wait_for
from dispatch.cases.models import Case
from dispatch.cases.survey_models import SatisfactionCall
from dispatch.feedback import callbacks as sc
from phones.citizen import Behaviour, CitizenPhone
from tests.e2e.conftest import Hotline
from tests.satisfaction_helpers import add_case

pytestmark = pytest.mark.asterisk


def citizen_port(hotline: Hotline) -> int:
    return int(hotline.settings.outbound_sip_target.rsplit(":", 1)[1])


def schedule(hotline: Hotline, number: str, phone: str) -> tuple[str, str]:
    case_id = add_case(hotline.sessions, number, phone)
    with transaction(hotline.sessions) as session:
        call = sc.schedule(session, case_id, phone, number, dt.datetime.now(dt.UTC))
        return case_id, call.id


def settled(hotline: Hotline, call_id: str, timeout: float = 90) -> SatisfactionCall:
    def done() -> SatisfactionCall | None:
        with hotline.sessions() as session:
            row = session.get(SatisfactionCall, call_id)
            return row if row is not None and row.status not in sc.OPEN_STATUSES else None

    return wait_for(done, timeout, f"satisfaction call {call_id} to settle")


def case_of(hotline: Hotline, case_id: str) -> Case:
    with hotline.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def test_the_citizen_presses_2_and_the_case_records_satisfied(hotline: Hotline) -> None:
    phone_number, port = "13900000101", citizen_port(hotline)
    # The key goes 3 s after answering: the question (about 25 s) is playing by then.
    with CitizenPhone(port=port, behaviour=Behaviour.ANSWER, keys=[(3.0, "2")]) as phone:
        case_id, call_id = schedule(hotline, "TS209912310101", phone_number)
        call = settled(hotline, call_id)
        assert (call.status, call.digit) == ("answered", "2"), call.outcome
        wait_for(
            lambda: len(phone.invites()) == 1 and "BYE" in phone.message_log.read_text(),
            30,
            "the hotline to hang up",
        )
        assert phone.invites() == [f"sip:{phone_number}@127.0.0.1:{port}"]
        assert "Aborting" not in phone.errors()  # SIPp saw nothing unexpected
    assert call.attempt == 1 and call.started_at is not None and call.finished_at is not None
    # The question is played before the key can be read: the call lasted seconds.
    assert (call.finished_at - call.started_at).total_seconds() > 3
    case = case_of(hotline, case_id)
    assert case.satisfaction == "satisfied"
    assert case.status == "closed"  # a satisfied citizen's case closes


def test_a_wrong_key_gets_the_question_again(hotline: Hotline) -> None:
    phone_number = "13900000102"
    with CitizenPhone(
        port=citizen_port(hotline), behaviour=Behaviour.ANSWER, keys=[(3.0, "7"), (2.0, "4")]
    ):
        case_id, call_id = schedule(hotline, "TS209912310102", phone_number)
        call = settled(hotline, call_id)
    assert (call.status, call.digit) == ("answered", "4"), call.outcome
    case = case_of(hotline, case_id)
    assert case.satisfaction == "dissatisfied" and case.reopen_review


def make_due(hotline: Hotline, call_id: str) -> None:
    """Time passes: the retry is due now."""
    with transaction(hotline.sessions) as session:
        session.execute(
            update(SatisfactionCall)
            .where(SatisfactionCall.id == call_id)
            .values(due_at=dt.datetime.now(dt.UTC))
        )


def next_attempt(hotline: Hotline, case_id: str) -> SatisfactionCall:
    with hotline.sessions() as session:
        retry = sc.open_call(session, case_id)
        assert retry is not None
        return retry


def test_busy_and_unanswered_phones_are_retried_then_given_up(hotline: Hotline) -> None:
    settings = hotline.settings
    phone_number, port = "13900000103", citizen_port(hotline)
    with CitizenPhone(port=port, behaviour=Behaviour.BUSY) as busy:
        case_id, first_id = schedule(hotline, "TS209912310103", phone_number)
        first = settled(hotline, first_id)
        assert (first.status, first.outcome) == ("no_answer", "busy")
        assert busy.invites() == [f"sip:{phone_number}@127.0.0.1:{port}"]

    second = next_attempt(hotline, case_id)
    assert (second.attempt, second.status) == (2, "pending")
    assert first.finished_at is not None
    assert second.due_at == first.finished_at + dt.timedelta(
        minutes=settings.satisfaction_retry_minutes
    )
    assert second.due_at - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=59)

    with CitizenPhone(port=port, behaviour=Behaviour.RING) as ringing:
        make_due(hotline, second.id)
        second = settled(hotline, second.id, timeout=settings.satisfaction_ring_seconds + 60)
        assert (second.status, second.outcome) == ("no_answer", "no answer")
        assert second.started_at is not None and second.finished_at is not None
        rang = (second.finished_at - second.started_at).total_seconds()
        assert rang >= settings.satisfaction_ring_seconds - 1
        assert len(ringing.invites()) == 1

    third = next_attempt(hotline, case_id)
    assert third.attempt == 3 == settings.satisfaction_max_attempts
    with CitizenPhone(port=port, behaviour=Behaviour.BUSY):
        make_due(hotline, third.id)
        third = settled(hotline, third.id)
    assert third.status == "gave_up"
    assert third.outcome.startswith("busy; gave up after 3 attempts")
    with hotline.sessions() as session:
        assert sc.open_call(session, case_id) is None
        assert third.id in {c.id for c in sc.given_up(session)}
    assert case_of(hotline, case_id).satisfaction == ""
