"""Who may hear a recording, and read its transcript."""

from __future__ import annotations

import datetime as dt

from accounts.models import Role
from custody.replay_rules import (
    NEEDS_REASON,
    NOT_HANDLED,
    OPERATOR_OWN_CALL,
    OPERATOR_OWN_TRANSCRIPT,
    ROLE,
    TOO_OLD,
    TRANSCRIPT,
    Facts,
    Listener,
    decide,
)

CALL = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
LATER = CALL + dt.timedelta(days=3)


def test_supervisors_and_investigators_need_a_reason() -> None:
    for role in (Role.SUPERVISOR, Role.INVESTIGATOR):
        refused = decide(Listener("s", role), Facts(CALL, "op1", case_ids=("c1",)), LATER, 7)
        assert not refused.allowed and "调听事由" in refused.refusal_zh
        assert refused.refusal == NEEDS_REASON and refused.reason_case_id == "c1"
        allowed = decide(
            Listener("s", role),
            Facts(CALL, "op1", case_ids=("c1",), reason="核查服务态度", reason_case_id="c1"),
            LATER,
            7,
        )
        assert allowed.allowed and allowed.reason == "核查服务态度" and allowed.case_id == "c1"
    unregistered = decide(Listener("s", Role.SUPERVISOR), Facts(CALL, "op1"), LATER, 7)
    assert unregistered.refusal == NEEDS_REASON and unregistered.reason_case_id is None


def test_operators_hear_their_own_calls_for_a_set_number_of_days() -> None:
    mine = Facts(CALL, "1001", case_ids=("c1",))
    allowed = decide(Listener("op1", Role.OPERATOR, "1001"), mine, LATER, 7)
    assert allowed.allowed and allowed.reason == OPERATOR_OWN_CALL and allowed.case_id == "c1"
    late = decide(Listener("op1", Role.OPERATOR, "1001"), mine, CALL + dt.timedelta(days=8), 7)
    assert not late.allowed and "7 天" in late.refusal_zh and late.refusal == TOO_OLD
    other = decide(Listener("op2", Role.OPERATOR, "1002"), mine, LATER, 7)
    assert not other.allowed and other.refusal == NOT_HANDLED
    message = Facts(CALL, None)  # a message left with nobody answering: the pool's work
    assert decide(Listener("op2", Role.OPERATOR, "1002"), message, LATER, 7).allowed
    assert not decide(Listener("op2", Role.OPERATOR, ""), Facts(CALL, ""), LATER, 7).allowed


def test_registering_a_colleagues_call_grants_no_replay() -> None:
    """op2 registers the case of a call op1 answered (a handover): the case is op2's, the
    call's recording and transcript stay op1's."""
    registered = Facts(CALL, "1001", case_ids=("c1",))
    for what in ("recording", TRANSCRIPT):
        refused = decide(Listener("op2", Role.OPERATOR, "1002"), registered, LATER, 7, what)
        assert not refused.allowed and refused.refusal == NOT_HANDLED
        assert decide(Listener("op1", Role.OPERATOR, "1001"), registered, LATER, 7, what).allowed


def test_transcripts_follow_the_recordings_rules_in_their_own_words() -> None:
    cases: list[tuple[Listener, Facts, dt.datetime]] = [
        (Listener("op1", Role.OPERATOR, "1001"), Facts(CALL, "1001"), LATER),
        (Listener("op1", Role.OPERATOR, "1001"), Facts(CALL, "1001"), CALL + dt.timedelta(days=8)),
        (Listener("op2", Role.OPERATOR, "1002"), Facts(CALL, "1001"), LATER),
        (Listener("op2", Role.OPERATOR, "1002"), Facts(CALL, None), LATER),
        (Listener("s", Role.SUPERVISOR), Facts(CALL, "1001", case_ids=("c1",)), LATER),
        (
            Listener("s", Role.INVESTIGATOR),
            Facts(CALL, "1001", case_ids=("c1",), reason="核查", reason_case_id="c1"),
            LATER,
        ),
        (Listener("h", Role.UNIT_HANDLER), Facts(CALL, "1001"), LATER),
        (
            Listener("h", Role.UNIT_HANDLER),
            Facts(CALL, "1001", grant_reason="核实诉求", grant_case_id="c1"),
            LATER,
        ),
        (Listener("a", Role.ADMIN), Facts(CALL, None), LATER),
        (Listener("a", Role.AUDITOR), Facts(CALL, None, reason="x" * 8), LATER),
    ]
    for listener, facts, now in cases:
        audio = decide(listener, facts, now, 7)
        text = decide(listener, facts, now, 7, TRANSCRIPT)
        assert (text.allowed, text.refusal, text.case_id) == (
            audio.allowed,
            audio.refusal,
            audio.case_id,
        ), listener
        if not text.allowed:
            assert text.refusal_zh != audio.refusal_zh and "转写" in text.refusal_zh
    own = decide(Listener("op1", Role.OPERATOR, "1001"), Facts(CALL, "1001"), LATER, 7, TRANSCRIPT)
    assert own.reason == OPERATOR_OWN_TRANSCRIPT
    admin = decide(Listener("a", Role.ADMIN), Facts(CALL, None), LATER, 7, TRANSCRIPT)
    assert admin.refusal == ROLE and admin.refusal_en == "your role may not read transcripts"
    assert (
        decide(Listener("s", Role.SUPERVISOR), Facts(CALL, None), LATER, 7, TRANSCRIPT).refusal_zh
        == "需先说明调听事由，方可查看转写"
    )


def test_unit_handlers_only_with_a_grant_and_others_never() -> None:
    assert not decide(Listener("h", Role.UNIT_HANDLER), Facts(CALL, "1001"), LATER, 7).allowed
    granted = decide(
        Listener("h", Role.UNIT_HANDLER),
        Facts(CALL, "1001", grant_reason="核实诉求", grant_case_id="c1"),
        LATER,
        7,
    )
    assert granted.allowed and granted.case_id == "c1"
    for role in (Role.ADMIN, Role.AUDITOR):
        facts = Facts(
            CALL, None, reason="x" * 8, reason_case_id="c1", grant_reason="y", grant_case_id="c1"
        )
        assert not decide(Listener("a", role), facts, LATER, 7).allowed
