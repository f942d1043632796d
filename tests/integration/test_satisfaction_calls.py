"""The satisfaction call-back in the database: scheduling, exclusive claims, answers stored
on the case, retries and giving up — on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases.handling_models import Feedback
from dispatch.cases.lifecycle import Status
from dispatch.cases.models import Case
from dispatch.cases.survey_models import SatisfactionCall
from dispatch.feedback import callback_answers as answers
from dispatch.feedback import callbacks as sc
from tests.satisfaction_helpers import add_case

NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)


def schedule(
    sessions: sessionmaker[Session],
    number: str = "TS202611210001",
    phone: str = "13800138000",
    at: dt.datetime = NOW,
) -> tuple[str, str]:
    case_id = add_case(sessions, number, phone)
    with transaction(sessions) as session:
        return case_id, sc.schedule(session, case_id, phone, number, at).id


def claim(sessions: sessionmaker[Session], at: dt.datetime = NOW) -> list[sc.DueCall]:
    with transaction(sessions) as session:
        return sc.claim_due(session, at)


def row(sessions: sessionmaker[Session], call_id: str) -> SatisfactionCall:
    with sessions() as session:
        found = session.get(SatisfactionCall, call_id)
        assert found is not None
        return found


def fail(
    sessions: sessionmaker[Session], call_id: str, at: dt.datetime, reason: str = "busy"
) -> SatisfactionCall | None:
    with transaction(sessions) as session:
        return sc.record_failure(session, call_id, reason, at, retry_minutes=60, max_attempts=3)


def test_schedule_makes_a_due_first_attempt_with_a_diallable_number(
    sessions: sessionmaker[Session],
) -> None:
    case_id = add_case(sessions, "TS202611210001", "021-12345678")
    with transaction(sessions) as session:
        call = sc.schedule(session, case_id, "021-1234 5678", "TS202611210001", NOW)
        again = sc.schedule(session, case_id, "021-12345678", "TS202611210001", NOW)
        assert again.id == call.id, "a case has one call-back under way at a time"
    stored = row(sessions, call.id)
    assert (stored.phone, stored.case_number, stored.attempt) == (
        "02112345678",
        "TS202611210001",
        1,
    )
    assert (stored.status, stored.due_at, stored.digit) == ("pending", NOW, "")


@pytest.mark.parametrize("phone", ["", "12", "138001380001380013800138", "1380013800&1"])
def test_schedule_refuses_what_cannot_be_dialled(
    sessions: sessionmaker[Session], phone: str
) -> None:
    case_id = add_case(sessions, "TS202611210002")
    with pytest.raises(ValueError), transaction(sessions) as session:
        sc.schedule(session, case_id, phone, "TS202611210002", NOW)


def test_claim_takes_due_calls_once(sessions: sessionmaker[Session]) -> None:
    _, due = schedule(sessions, "TS202611210001")
    _, later = schedule(sessions, "TS202611210002", at=NOW + dt.timedelta(minutes=5))

    claimed = claim(sessions)
    assert [c.id for c in claimed] == [due]
    assert claimed[0] == sc.DueCall(due, claimed[0].case_id, "13800138000", "TS202611210001", 1)
    assert (row(sessions, due).status, row(sessions, due).started_at) == ("dialling", NOW)
    assert row(sessions, later).status == "pending"
    assert claim(sessions) == []
    assert [c.id for c in claim(sessions, NOW + dt.timedelta(minutes=5))] == [later]


def test_concurrent_dialers_never_claim_the_same_call(sessions: sessionmaker[Session]) -> None:
    ids = {schedule(sessions, f"TS2026112100{i:02d}")[1] for i in range(30)}
    start = threading.Barrier(4)
    taken: list[list[str]] = [[] for _ in range(4)]

    def dialer(index: int) -> None:
        start.wait()
        while True:
            with transaction(sessions) as session:
                batch = sc.claim_due(session, NOW, limit=3)
            if not batch:
                return
            taken[index].extend(c.id for c in batch)

    threads = [threading.Thread(target=dialer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [call_id for batch in taken for call_id in batch]
    assert sorted(everything) == sorted(ids), "each call claimed exactly once"


def test_a_key_is_stored_and_the_case_gets_its_satisfaction(
    sessions: sessionmaker[Session],
) -> None:
    case_id, call_id = schedule(sessions)
    claim(sessions)
    later = NOW + dt.timedelta(seconds=40)
    with transaction(sessions) as session:
        assert answers.record_answer(session, call_id, "2", later) == "satisfied"
    stored = row(sessions, call_id)
    assert (stored.status, stored.digit, stored.finished_at) == ("answered", "2", later)
    assert stored.outcome == "key 2: satisfied"
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.satisfaction, case.satisfaction_at) == ("satisfied", later)
        assert case.status == Status.CLOSED  # a satisfied citizen's case closes
        feedback = session.scalars(select(Feedback).where(Feedback.case_id == case_id)).one()
        assert (feedback.method, feedback.actor, feedback.satisfaction) == (
            "auto_call",
            "system:callback",
            "satisfied",
        )


def test_dissatisfaction_puts_the_case_up_for_reopening(sessions: sessionmaker[Session]) -> None:
    case_id, call_id = schedule(sessions)
    claim(sessions)
    with transaction(sessions) as session:
        assert answers.record_answer(session, call_id, "5", NOW) == "very_dissatisfied"
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.reopen_review
        assert case.status == Status.FEEDBACK_GIVEN


def test_a_key_outside_1_to_5_or_a_settled_call_is_refused(
    sessions: sessionmaker[Session],
) -> None:
    _, call_id = schedule(sessions)
    with pytest.raises(sc.NotDialling), transaction(sessions) as session:
        answers.record_answer(session, call_id, "2", NOW)  # still pending, never dialled
    claim(sessions)
    for digit in ("0", "6", "*", "#", "22", ""):
        with pytest.raises(ValueError), transaction(sessions) as session:
            answers.record_answer(session, call_id, digit, NOW)
    assert row(sessions, call_id).status == "dialling"
    with transaction(sessions) as session:
        answers.record_answer(session, call_id, "1", NOW)
    with pytest.raises(sc.NotDialling), transaction(sessions) as session:
        answers.record_answer(session, call_id, "3", NOW)
    with pytest.raises(sc.NotDialling):
        fail(sessions, call_id, NOW)
    assert row(sessions, call_id).digit == "1"


def test_a_case_that_cannot_take_the_level_still_keeps_the_key(
    sessions: sessionmaker[Session],
) -> None:
    case_id = add_case(sessions, "TS202611210009", status=Status.ACCEPTED)  # reopened
    with transaction(sessions) as session:
        call_id = sc.schedule(session, case_id, "13800138000", "TS202611210009", NOW).id
    claim(sessions)
    with transaction(sessions) as session:
        answers.record_answer(session, call_id, "2", NOW)
    stored = row(sessions, call_id)
    assert (stored.status, stored.digit) == ("answered", "2")
    assert "not applied to the case" in stored.outcome
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None and (case.status, case.satisfaction) == ("accepted", "")
        assert session.scalars(select(Feedback).where(Feedback.case_id == case_id)).all() == []


def test_failures_are_retried_after_the_delay_then_given_up(
    sessions: sessionmaker[Session],
) -> None:
    case_id, first = schedule(sessions)
    claim(sessions)
    retry = fail(sessions, first, NOW, "busy")
    assert retry is not None
    assert (retry.attempt, retry.status, retry.due_at) == (
        2,
        "pending",
        NOW + dt.timedelta(minutes=60),
    )
    assert (row(sessions, first).status, row(sessions, first).outcome) == ("no_answer", "busy")

    assert claim(sessions, NOW + dt.timedelta(minutes=59)) == []
    second_time = NOW + dt.timedelta(minutes=60)
    assert [c.id for c in claim(sessions, second_time)] == [retry.id]
    third = fail(sessions, retry.id, second_time, "no answer")
    assert third is not None and third.attempt == 3

    last_time = second_time + dt.timedelta(minutes=60)
    assert [c.id for c in claim(sessions, last_time)] == [third.id]
    assert fail(sessions, third.id, last_time, "no valid key pressed") is None
    given_up = row(sessions, third.id)
    assert given_up.status == "gave_up" and given_up.finished_at == last_time
    assert given_up.outcome.startswith("no valid key pressed; gave up after 3 attempts")
    with sessions() as session:
        assert [c.status for c in sc.calls_for_case(session, case_id)] == [
            "no_answer",
            "no_answer",
            "gave_up",
        ]
        assert [c.id for c in sc.given_up(session)] == [third.id]
        assert sc.open_call(session, case_id) is None
    assert claim(sessions, last_time + dt.timedelta(days=1)) == []


def test_calls_left_dialling_are_counted_as_failed(sessions: sessionmaker[Session]) -> None:
    _, call_id = schedule(sessions)
    claim(sessions)
    with transaction(sessions) as session:
        assert (
            sc.recover_stale(
                session, NOW + dt.timedelta(minutes=5), dt.timedelta(minutes=10), 60, 3
            )
            == []
        )
        assert sc.recover_stale(
            session, NOW + dt.timedelta(minutes=11), dt.timedelta(minutes=10), 60, 3
        ) == [call_id]
    stored = row(sessions, call_id)
    assert stored.status == "no_answer" and "lost" in stored.outcome
