"""A case's status table: which action leads where, and the Chinese message otherwise."""

from __future__ import annotations

import pytest

from dispatch.lifecycle import OPEN, Action, IllegalTransition, Status, next_status

LEGAL = [
    (Action.REGISTER, None, Status.REGISTERED),
    (Action.ACCEPT, Status.REGISTERED, Status.ACCEPTED),
    (Action.REJECT, Status.REGISTERED, Status.REJECTED),
    (Action.ANSWER_ON_SPOT, Status.REGISTERED, Status.CLOSED),
    (Action.MERGE, Status.REGISTERED, Status.MERGED),
    (Action.MERGE, Status.ACCEPTED, Status.MERGED),
    (Action.ATTACH, Status.REGISTERED, Status.REGISTERED),
    (Action.ATTACH, Status.ACCEPTED, Status.ACCEPTED),
]
LEGAL_PAIRS = {(action, status) for action, status, _to in LEGAL}
ILLEGAL = [(action, status) for action in Action for status in [None, *Status]
           if (action, status) not in LEGAL_PAIRS]


@pytest.mark.parametrize(("action", "status", "expected"), LEGAL)
def test_legal_transitions(action: Action, status: Status | None, expected: Status) -> None:
    assert next_status(action, status) is expected


def test_illegal_list_covers_the_rest_of_the_table() -> None:
    assert len(ILLEGAL) == len(Action) * (len(Status) + 1) - len(LEGAL) == 28


@pytest.mark.parametrize(("action", "status"), ILLEGAL)
def test_illegal_transitions_raise(action: Action, status: Status | None) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status(action, status)
    assert caught.value.action is action
    assert caught.value.status is status
    assert caught.value.message_zh.startswith("案件当前状态为“")


@pytest.mark.parametrize("status", [Status.REJECTED, Status.CLOSED, Status.MERGED])
@pytest.mark.parametrize("action", list(Action))
def test_finished_cases_take_no_action(action: Action, status: Status) -> None:
    with pytest.raises(IllegalTransition):
        next_status(action, status)


@pytest.mark.parametrize(("action", "status", "zh", "en"), [
    (Action.ACCEPT, None, "案件当前状态为“尚未登记”，不能受理",
     "case is not registered: cannot accept"),
    (Action.REJECT, Status.CLOSED, "案件当前状态为“已办结（即办）”，不能不予受理",
     "case is closed: cannot reject"),
    (Action.REGISTER, Status.REGISTERED, "案件当前状态为“已登记待受理”，不能登记",
     "case is registered: cannot register"),
    (Action.ANSWER_ON_SPOT, Status.ACCEPTED, "案件当前状态为“已受理”，不能即办答复",
     "case is accepted: cannot answer_on_spot"),
    (Action.ATTACH, Status.MERGED, "案件当前状态为“已并单”，不能补充证据材料",
     "case is merged: cannot attach"),
    (Action.MERGE, Status.REJECTED, "案件当前状态为“不予受理”，不能并单",
     "case is rejected: cannot merge"),
])
def test_illegal_transition_messages(action: Action, status: Status | None, zh: str,
                                     en: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status(action, status)
    assert caught.value.message_zh == zh
    assert str(caught.value) == en


def test_illegal_transition_is_a_value_error_without_the_key_error() -> None:
    with pytest.raises(ValueError) as caught:
        next_status(Action.ACCEPT, Status.ACCEPTED)
    assert isinstance(caught.value, IllegalTransition)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_open_statuses() -> None:
    assert frozenset({Status.REGISTERED, Status.ACCEPTED}) == OPEN
