"""Who may hear a recording."""

from __future__ import annotations

import datetime as dt

from accounts.models import Role
from recordings.replay_rules import OPERATOR_OWN_CALL, Facts, Listener, decide

CALL = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
LATER = CALL + dt.timedelta(days=3)


def test_supervisors_and_investigators_need_a_reason() -> None:
    for role in (Role.SUPERVISOR, Role.INVESTIGATOR):
        refused = decide(Listener("s", role), Facts(CALL, "op1", case_ids=("c1",)), LATER, 7)
        assert not refused.allowed and "调听事由" in refused.refusal_zh
        allowed = decide(Listener("s", role), Facts(CALL, "op1", case_ids=("c1",),
                                                    reason="核查服务态度", reason_case_id="c1"),
                         LATER, 7)
        assert allowed.allowed and allowed.reason == "核查服务态度" and allowed.case_id == "c1"


def test_operators_hear_their_own_calls_for_a_set_number_of_days() -> None:
    mine = Facts(CALL, "1001", case_ids=("c1",))
    allowed = decide(Listener("op1", Role.OPERATOR, "1001"), mine, LATER, 7)
    assert allowed.allowed and allowed.reason == OPERATOR_OWN_CALL and allowed.case_id == "c1"
    late = decide(Listener("op1", Role.OPERATOR, "1001"), mine, CALL + dt.timedelta(days=8), 7)
    assert not late.allowed and "7 天" in late.refusal_zh
    other = decide(Listener("op2", Role.OPERATOR, "1002"), mine, LATER, 7)
    assert not other.allowed
    registered = Facts(CALL, "1001", registered_by=("op2",))
    assert decide(Listener("op2", Role.OPERATOR, "1002"), registered, LATER, 7).allowed
    message = Facts(CALL, None)  # a message left with nobody answering: the pool's work
    assert decide(Listener("op2", Role.OPERATOR, "1002"), message, LATER, 7).allowed
    assert not decide(Listener("op2", Role.OPERATOR, ""), Facts(CALL, ""), LATER, 7).allowed


def test_unit_handlers_only_with_a_grant_and_others_never() -> None:
    assert not decide(Listener("h", Role.UNIT_HANDLER), Facts(CALL, "1001"), LATER, 7).allowed
    granted = decide(Listener("h", Role.UNIT_HANDLER),
                     Facts(CALL, "1001", grant_reason="核实诉求", grant_case_id="c1"), LATER, 7)
    assert granted.allowed and granted.case_id == "c1"
    for role in (Role.ADMIN, Role.AUDITOR):
        facts = Facts(CALL, None, reason="x" * 8, reason_case_id="c1", grant_reason="y",
                      grant_case_id="c1")
        assert not decide(Listener("a", role), facts, LATER, 7).allowed
