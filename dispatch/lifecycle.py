"""A case's statuses and the actions that move it, as one table. Pure.

Registration (登记) and acceptance (受理 / 不予受理 / 即办) are here; dispatching and the
rest of a case's life extend the same table.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    REGISTERED = "registered"  # 已登记，待受理
    ACCEPTED = "accepted"  # 已受理，待交办
    REJECTED = "rejected"  # 不予受理
    CLOSED = "closed"  # 办结（即办件当场答复）
    MERGED = "merged"  # 已并单


class Action(StrEnum):
    REGISTER = "register"
    ACCEPT = "accept"
    REJECT = "reject"
    ANSWER_ON_SPOT = "answer_on_spot"
    MERGE = "merge"
    ATTACH = "attach"


STATUS_LABELS = {
    Status.REGISTERED: "已登记待受理",
    Status.ACCEPTED: "已受理",
    Status.REJECTED: "不予受理",
    Status.CLOSED: "已办结（即办）",
    Status.MERGED: "已并单",
}

ACTION_LABELS = {
    Action.REGISTER: "登记",
    Action.ACCEPT: "受理",
    Action.REJECT: "不予受理",
    Action.ANSWER_ON_SPOT: "即办答复",
    Action.MERGE: "并单",
    Action.ATTACH: "补充证据材料",
}

OPEN = frozenset({Status.REGISTERED, Status.ACCEPTED})

# (action, from) -> to. ``None`` as from: the action creates the case.
TRANSITIONS: dict[tuple[Action, Status | None], Status] = {
    (Action.REGISTER, None): Status.REGISTERED,
    (Action.ACCEPT, Status.REGISTERED): Status.ACCEPTED,
    (Action.REJECT, Status.REGISTERED): Status.REJECTED,
    (Action.ANSWER_ON_SPOT, Status.REGISTERED): Status.CLOSED,
    (Action.MERGE, Status.REGISTERED): Status.MERGED,
    (Action.MERGE, Status.ACCEPTED): Status.MERGED,
    (Action.ATTACH, Status.REGISTERED): Status.REGISTERED,
    (Action.ATTACH, Status.ACCEPTED): Status.ACCEPTED,
}


class IllegalTransition(ValueError):
    def __init__(self, action: Action, status: Status | None) -> None:
        where = STATUS_LABELS[status] if status else "尚未登记"
        super().__init__(f"case is {status or 'not registered'}: cannot {action}")
        self.action = action
        self.status = status
        self.message_zh = f"案件当前状态为“{where}”，不能{ACTION_LABELS[action]}"


def next_status(action: Action, status: Status | None) -> Status:
    try:
        return TRANSITIONS[(action, status)]
    except KeyError:
        raise IllegalTransition(action, status) from None
