"""A case's status table: named legal moves along every path, the Chinese message for the
rest, the actions that need a reason, and properties of the whole table (every status
reachable from registration, none a dead end, archiving absorbing) checked with hypothesis."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.cases.lifecycle import (
    ACTION_LABELS,
    AT_UNIT,
    FINAL,
    NEEDS_REASON,
    OPEN,
    STATUS_LABELS,
    TRANSITIONS,
    UNFINISHED,
    Action,
    IllegalTransition,
    ReasonRequired,
    Status,
    allowed_actions,
    check_reason,
    next_status,
)

Move = tuple[Action, Status | None, Status]

MAIN_PATH: list[Move] = [
    (Action.REGISTER, None, Status.REGISTERED),
    (Action.ACCEPT, Status.REGISTERED, Status.ACCEPTED),
    (Action.DISPATCH, Status.ACCEPTED, Status.DISPATCHED),
    (Action.SIGN, Status.DISPATCHED, Status.SIGNED),
    (Action.START, Status.SIGNED, Status.IN_PROGRESS),
    (Action.REPLY, Status.IN_PROGRESS, Status.REPLIED),
    (Action.PASS_REVIEW, Status.REPLIED, Status.REVIEWED),
    (Action.FEEDBACK, Status.REVIEWED, Status.FEEDBACK_GIVEN),
    (Action.CLOSE, Status.FEEDBACK_GIVEN, Status.CLOSED),
    (Action.ARCHIVE, Status.CLOSED, Status.ARCHIVED),
]

OTHER_PATHS: list[Move] = [
    # 报批: the leader approves, or sends it back to the centre.
    (Action.SUBMIT_APPROVAL, Status.ACCEPTED, Status.PENDING_APPROVAL),
    (Action.APPROVE, Status.PENDING_APPROVAL, Status.APPROVED),
    (Action.DENY_APPROVAL, Status.PENDING_APPROVAL, Status.ACCEPTED),
    (Action.DISPATCH, Status.APPROVED, Status.DISPATCHED),
    # 退回: before or after signing, back to the centre to re-route.
    (Action.UNIT_RETURN, Status.DISPATCHED, Status.ACCEPTED),
    (Action.UNIT_RETURN, Status.SIGNED, Status.ACCEPTED),
    # A signed case may be answered at once.
    (Action.REPLY, Status.SIGNED, Status.REPLIED),
    # 审核退回: the reply goes back to the unit.
    (Action.RETURN_REPLY, Status.REPLIED, Status.IN_PROGRESS),
    # 重办 after dissatisfaction, before or after closing.
    (Action.REOPEN, Status.FEEDBACK_GIVEN, Status.ACCEPTED),
    (Action.REOPEN, Status.CLOSED, Status.ACCEPTED),
    # 撤回 while the centre or a unit has it.
    (Action.WITHDRAW, Status.REGISTERED, Status.WITHDRAWN),
    (Action.WITHDRAW, Status.APPROVED, Status.WITHDRAWN),
    (Action.WITHDRAW, Status.IN_PROGRESS, Status.WITHDRAWN),
    # Decided at registration.
    (Action.REJECT, Status.REGISTERED, Status.REJECTED),
    (Action.ANSWER_ON_SPOT, Status.REGISTERED, Status.CLOSED),
    (Action.MERGE, Status.PENDING_APPROVAL, Status.MERGED),
    # Every finished case is archived.
    (Action.ARCHIVE, Status.REJECTED, Status.ARCHIVED),
    (Action.ARCHIVE, Status.MERGED, Status.ARCHIVED),
    (Action.ARCHIVE, Status.WITHDRAWN, Status.ARCHIVED),
    # Traces that keep the status.
    (Action.REQUEST_EXTENSION, Status.IN_PROGRESS, Status.IN_PROGRESS),
    (Action.DECIDE_EXTENSION, Status.SIGNED, Status.SIGNED),
    (Action.SATISFACTION, Status.CLOSED, Status.CLOSED),
    (Action.RED_CARD, Status.DISPATCHED, Status.DISPATCHED),
    (Action.ATTACH, Status.ACCEPTED, Status.ACCEPTED),
]


def _reachable_from_registration() -> set[Status]:
    seen = {Status.REGISTERED}
    todo = deque(seen)
    while todo:
        status = todo.popleft()
        for action in allowed_actions(status):
            target = next_status(action, status)
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _path_to_archive(status: Status) -> list[Action]:
    """The shortest list of actions taking ``status`` to ARCHIVED (breadth first)."""
    paths: dict[Status, list[Action]] = {status: []}
    todo = deque([status])
    while todo:
        here = todo.popleft()
        if here is Status.ARCHIVED:
            return paths[here]
        for action in allowed_actions(here):
            target = next_status(action, here)
            if target not in paths:
                paths[target] = [*paths[here], action]
                todo.append(target)
    raise AssertionError(f"{status} cannot reach {Status.ARCHIVED}")


def follow(status: Status, actions: list[Action]) -> Status:
    for action in actions:
        status = next_status(action, status)
    return status


REACHABLE = _reachable_from_registration()


# -- named transitions ------------------------------------------------------------------


def test_the_main_path_from_registration_to_the_archive() -> None:
    status: Status | None = None
    for action, source, target in MAIN_PATH:
        assert status is source
        status = next_status(action, status)
        assert status is target
    assert status is Status.ARCHIVED


@pytest.mark.parametrize(("action", "source", "target"), MAIN_PATH + OTHER_PATHS)
def test_legal_transitions(action: Action, source: Status | None, target: Status) -> None:
    assert next_status(action, source) is target
    assert TRANSITIONS[(action, source)] is target


@pytest.mark.parametrize(
    ("action", "status", "zh", "en"),
    [
        (
            Action.ACCEPT,
            None,
            "案件当前状态为“尚未登记”，不能受理",
            "case is not registered: cannot accept",
        ),
        (
            Action.REGISTER,
            Status.REGISTERED,
            "案件当前状态为“已登记待受理”，不能登记",
            "case is registered: cannot register",
        ),
        (
            Action.DISPATCH,
            Status.PENDING_APPROVAL,
            "案件当前状态为“待领导审批”，不能交办",
            "case is pending_approval: cannot dispatch",
        ),
        (
            Action.DISPATCH,
            Status.REGISTERED,
            "案件当前状态为“已登记待受理”，不能交办",
            "case is registered: cannot dispatch",
        ),
        (
            Action.SIGN,
            Status.ACCEPTED,
            "案件当前状态为“已受理待交办”，不能签收",
            "case is accepted: cannot sign",
        ),
        (
            Action.UNIT_RETURN,
            Status.IN_PROGRESS,
            "案件当前状态为“办理中”，不能退回",
            "case is in_progress: cannot unit_return",
        ),
        (
            Action.REPLY,
            Status.DISPATCHED,
            "案件当前状态为“已交办待签收”，不能办理回复",
            "case is dispatched: cannot reply",
        ),
        (
            Action.CLOSE,
            Status.REPLIED,
            "案件当前状态为“已回复待审核”，不能办结",
            "case is replied: cannot close",
        ),
        (
            Action.WITHDRAW,
            Status.REPLIED,
            "案件当前状态为“已回复待审核”，不能撤回",
            "case is replied: cannot withdraw",
        ),
        (
            Action.REOPEN,
            Status.ARCHIVED,
            "案件当前状态为“已归档”，不能重办",
            "case is archived: cannot reopen",
        ),
        (
            Action.ARCHIVE,
            Status.FEEDBACK_GIVEN,
            "案件当前状态为“已回访”，不能归档",
            "case is feedback_given: cannot archive",
        ),
        (
            Action.REJECT,
            Status.CLOSED,
            "案件当前状态为“已办结”，不能不予受理",
            "case is closed: cannot reject",
        ),
        (
            Action.ATTACH,
            Status.MERGED,
            "案件当前状态为“已并单”，不能补充证据材料",
            "case is merged: cannot attach",
        ),
        (
            Action.REQUEST_EXTENSION,
            Status.DISPATCHED,
            "案件当前状态为“已交办待签收”，不能申请延期",
            "case is dispatched: cannot request_extension",
        ),
    ],
)
def test_illegal_transitions_are_refused_in_chinese(
    action: Action, status: Status | None, zh: str, en: str
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status(action, status)
    assert caught.value.action is action
    assert caught.value.status is status
    assert caught.value.message_zh == zh
    assert str(caught.value) == en


def test_every_pair_outside_the_table_is_refused() -> None:
    refused = 0
    for action in Action:
        for status in [None, *Status]:
            if (action, status) in TRANSITIONS:
                continue
            with pytest.raises(IllegalTransition) as caught:
                next_status(action, status)
            assert caught.value.message_zh.endswith(f"不能{ACTION_LABELS[action]}")
            refused += 1
    assert refused == len(Action) * (len(Status) + 1) - len(TRANSITIONS)


def test_illegal_transition_is_a_value_error_without_the_key_error() -> None:
    with pytest.raises(ValueError) as caught:
        next_status(Action.ACCEPT, Status.ACCEPTED)
    assert isinstance(caught.value, IllegalTransition)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# -- what may be done, and with which reason --------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            Status.REGISTERED,
            [
                Action.ACCEPT,
                Action.REJECT,
                Action.ANSWER_ON_SPOT,
                Action.MERGE,
                Action.WITHDRAW,
                Action.ATTACH,
                Action.REMIND,
                Action.YELLOW_CARD,
                Action.RED_CARD,
                Action.CORRECT,
            ],
        ),
        (
            Status.ACCEPTED,
            [
                Action.SUBMIT_APPROVAL,
                Action.DISPATCH,
                Action.MERGE,
                Action.WITHDRAW,
                Action.ATTACH,
                Action.REMIND,
                Action.YELLOW_CARD,
                Action.RED_CARD,
                Action.CORRECT,
            ],
        ),
        (
            Status.REPLIED,
            [
                Action.PASS_REVIEW,
                Action.RETURN_REPLY,
                Action.REMIND,
                Action.YELLOW_CARD,
                Action.RED_CARD,
                Action.CORRECT,
            ],
        ),
        (
            Status.FEEDBACK_GIVEN,
            [
                Action.CLOSE,
                Action.REOPEN,
                Action.REMIND,
                Action.YELLOW_CARD,
                Action.RED_CARD,
                Action.SATISFACTION,
                Action.CORRECT,
            ],
        ),
        (Status.CLOSED, [Action.REOPEN, Action.ARCHIVE, Action.SATISFACTION]),
        (Status.REJECTED, [Action.ARCHIVE]),
        (Status.MERGED, [Action.ARCHIVE]),
        (Status.WITHDRAWN, [Action.ARCHIVE]),
        (Status.ARCHIVED, []),
    ],
)
def test_allowed_actions(status: Status, expected: list[Action]) -> None:
    assert allowed_actions(status) == expected


@pytest.mark.parametrize("status", list(Status))
def test_allowed_actions_are_exactly_those_the_table_accepts(status: Status) -> None:
    accepted = []
    for action in Action:
        try:
            next_status(action, status)
        except IllegalTransition:
            continue
        accepted.append(action)
    assert sorted(allowed_actions(status)) == sorted(accepted)
    assert len(set(allowed_actions(status))) == len(allowed_actions(status))


@pytest.mark.parametrize("action", list(Action))
def test_the_archive_takes_no_action(action: Action) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status(action, Status.ARCHIVED)
    assert caught.value.message_zh.startswith("案件当前状态为“已归档”")


def test_supervision_follows_only_unfinished_cases() -> None:
    for action in (Action.REMIND, Action.YELLOW_CARD, Action.RED_CARD):
        assert {s for s in Status if (action, s) in TRANSITIONS} == UNFINISHED
        for status in UNFINISHED:
            assert next_status(action, status) is status


def test_the_status_groups() -> None:
    assert {Status.REGISTERED, Status.ACCEPTED, Status.PENDING_APPROVAL, Status.APPROVED} == OPEN
    assert {Status.DISPATCHED, Status.SIGNED, Status.IN_PROGRESS} == AT_UNIT
    assert {Status.CLOSED, Status.REJECTED, Status.MERGED, Status.WITHDRAWN} == FINAL
    assert Status.ARCHIVED not in UNFINISHED | FINAL
    assert not UNFINISHED & FINAL
    assert set(STATUS_LABELS) == set(Status) and set(ACTION_LABELS) == set(Action)


def test_actions_that_need_a_reason() -> None:
    assert {
        Action.REJECT,
        Action.MERGE,
        Action.DENY_APPROVAL,
        Action.UNIT_RETURN,
        Action.RETURN_REPLY,
        Action.REOPEN,
        Action.WITHDRAW,
        Action.REQUEST_EXTENSION,
        Action.CORRECT,
    } == NEEDS_REASON


@pytest.mark.parametrize("action", sorted(NEEDS_REASON))
@pytest.mark.parametrize("blank", ["", "   ", "\n\t "])
def test_a_blank_reason_is_refused_in_chinese(action: Action, blank: str) -> None:
    with pytest.raises(ReasonRequired) as caught:
        check_reason(action, blank)
    assert caught.value.action is action
    assert caught.value.message_zh == f"{ACTION_LABELS[action]}须填写理由"
    assert check_reason(action, "  不属于本单位职责 ") == "不属于本单位职责"


def test_reason_messages() -> None:
    with pytest.raises(ReasonRequired) as caught:
        check_reason(Action.UNIT_RETURN, " ")
    assert caught.value.message_zh == "退回须填写理由"
    assert str(caught.value) == "unit_return needs a reason"


@pytest.mark.parametrize("action", sorted(set(Action) - NEEDS_REASON))
def test_other_actions_take_an_empty_reason(action: Action) -> None:
    assert check_reason(action, "  ") == ""
    assert check_reason(action, " 已电话联系 ") == "已电话联系"


# -- properties of the whole table ------------------------------------------------------


def test_only_registration_creates_a_case() -> None:
    assert [action for action, source in TRANSITIONS if source is None] == [Action.REGISTER]
    for action in Action:
        if action is not Action.REGISTER:
            with pytest.raises(IllegalTransition):
                next_status(action, None)


def test_every_status_is_reachable_from_registration() -> None:
    assert set(Status) == REACHABLE
    assert set(TRANSITIONS.values()) == set(Status)


@pytest.mark.parametrize("status", sorted(set(Status) - {Status.ARCHIVED}))
def test_no_status_is_a_dead_end(status: Status) -> None:
    path = _path_to_archive(status)
    assert path, status
    assert follow(status, path) is Status.ARCHIVED


@given(st.lists(st.sampled_from(Action), max_size=80))
def test_any_sequence_of_actions_moves_only_through_the_table(actions: list[Action]) -> None:
    status = next_status(Action.REGISTER, None)
    visited = [status]
    for action in actions:
        before = status
        try:
            status = next_status(action, before)
        except IllegalTransition as refused:
            # Refused: only what the table leaves out, and nothing moved.
            assert (action, before) not in TRANSITIONS
            assert (refused.action, refused.status) == (action, before)
            assert refused.message_zh.startswith(f"案件当前状态为“{STATUS_LABELS[before]}”")
            assert status is before
            continue
        assert isinstance(status, Status)
        assert TRANSITIONS[(action, before)] is status
        if before is Status.ARCHIVED:
            raise AssertionError(f"{action} left the archive")
        visited.append(status)
    assert set(visited) <= REACHABLE
    if Status.ARCHIVED in visited:  # absorbing: once archived, always archived
        assert visited[visited.index(Status.ARCHIVED) :] == [Status.ARCHIVED]
        assert status is Status.ARCHIVED


@given(st.data())
def test_wherever_a_case_wanders_it_can_still_be_archived(data: st.DataObject) -> None:
    """A random walk through allowed actions only, then the shortest way to the archive."""
    status = next_status(Action.REGISTER, None)
    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        choices = allowed_actions(status)
        if not choices:
            break
        status = next_status(data.draw(st.sampled_from(choices)), status)
    assert status in REACHABLE
    if status is Status.ARCHIVED:
        assert allowed_actions(status) == []
        return
    assert follow(status, _path_to_archive(status)) is Status.ARCHIVED


@given(st.sampled_from(list(Status)), st.lists(st.sampled_from(Action), max_size=20))
def test_finished_cases_only_reopen_rate_or_archive(start: Status, actions: list[Action]) -> None:
    """From a finished status nothing but 归档 (and for a closed case 重办 or 满意度)."""
    status = start
    for action in actions:
        if status not in FINAL | {Status.ARCHIVED}:
            break
        try:
            after = next_status(action, status)
        except IllegalTransition:
            continue
        if status is Status.CLOSED:
            assert action in {Action.ARCHIVE, Action.REOPEN, Action.SATISFACTION}
        else:
            assert action is Action.ARCHIVE
        status = after
