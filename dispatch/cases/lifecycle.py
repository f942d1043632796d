"""A case's statuses and the actions that move it, as one table. Pure.

Every action that succeeds writes one history entry (who, when, from, to, why); an action
the table does not allow from the current status is refused with ``IllegalTransition``.
Some actions keep the status (evidence added, a reminder, an extension): they are in the
table too, from and to the same status, so they leave their trace in the history.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    REGISTERED = "registered"  # 已登记，待受理
    ACCEPTED = "accepted"  # 已受理，待交办（含退回待改派、重办）
    PENDING_APPROVAL = "pending_approval"  # 待领导审批
    APPROVED = "approved"  # 已审批，待交办
    DISPATCHED = "dispatched"  # 已交办，待签收
    SIGNED = "signed"  # 已签收
    IN_PROGRESS = "in_progress"  # 办理中
    REPLIED = "replied"  # 已回复，待审核
    REVIEWED = "reviewed"  # 审核通过，待回访
    FEEDBACK_GIVEN = "feedback_given"  # 已回访
    CLOSED = "closed"  # 已办结
    ARCHIVED = "archived"  # 已归档
    REJECTED = "rejected"  # 不予受理
    MERGED = "merged"  # 已并单
    WITHDRAWN = "withdrawn"  # 已撤回


class Action(StrEnum):
    REGISTER = "register"
    ACCEPT = "accept"
    REJECT = "reject"
    ANSWER_ON_SPOT = "answer_on_spot"
    MERGE = "merge"
    ATTACH = "attach"
    SUBMIT_APPROVAL = "submit_approval"
    APPROVE = "approve"
    DENY_APPROVAL = "deny_approval"
    DISPATCH = "dispatch"
    UNIT_RETURN = "unit_return"
    SIGN = "sign"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    REPLY = "reply"
    PASS_REVIEW = "pass_review"
    RETURN_REPLY = "return_reply"
    FEEDBACK = "feedback"
    SATISFACTION = "satisfaction"
    CLOSE = "close"
    REOPEN = "reopen"
    WITHDRAW = "withdraw"
    ARCHIVE = "archive"
    REMIND = "remind"
    YELLOW_CARD = "yellow_card"
    RED_CARD = "red_card"
    CORRECT = "correct"  # a registration's fields corrected after saving
    RECALL = "recall"  # 收回: the centre takes a case back from its unit (改派)


STATUS_LABELS = {
    Status.REGISTERED: "已登记待受理",
    Status.ACCEPTED: "已受理待交办",
    Status.PENDING_APPROVAL: "待领导审批",
    Status.APPROVED: "已审批待交办",
    Status.DISPATCHED: "已交办待签收",
    Status.SIGNED: "已签收",
    Status.IN_PROGRESS: "办理中",
    Status.REPLIED: "已回复待审核",
    Status.REVIEWED: "审核通过待回访",
    Status.FEEDBACK_GIVEN: "已回访",
    Status.CLOSED: "已办结",
    Status.ARCHIVED: "已归档",
    Status.REJECTED: "不予受理",
    Status.MERGED: "已并单",
    Status.WITHDRAWN: "已撤回",
}

ACTION_LABELS = {
    Action.REGISTER: "登记",
    Action.ACCEPT: "受理",
    Action.REJECT: "不予受理",
    Action.ANSWER_ON_SPOT: "即办答复",
    Action.MERGE: "并单",
    Action.ATTACH: "补充证据材料",
    Action.SUBMIT_APPROVAL: "报领导审批",
    Action.APPROVE: "领导审批同意",
    Action.DENY_APPROVAL: "领导审批不同意",
    Action.DISPATCH: "交办",
    Action.UNIT_RETURN: "退回",
    Action.SIGN: "签收",
    Action.START: "开始办理",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.DECIDE_EXTENSION: "审批延期",
    Action.REPLY: "办理回复",
    Action.PASS_REVIEW: "审核通过",
    Action.RETURN_REPLY: "审核退回重办",
    Action.FEEDBACK: "回访反馈",
    Action.SATISFACTION: "满意度评价",
    Action.CLOSE: "办结",
    Action.REOPEN: "重办",
    Action.WITHDRAW: "撤回",
    Action.ARCHIVE: "归档",
    Action.REMIND: "催办",
    Action.YELLOW_CARD: "黄牌督办",
    Action.RED_CARD: "红牌督办",
    Action.CORRECT: "更正登记",
    Action.RECALL: "收回交办",
}

# Before it reaches a unit: still the centre's to accept, merge or route.
OPEN = frozenset({Status.REGISTERED, Status.ACCEPTED, Status.PENDING_APPROVAL, Status.APPROVED})
# With a unit: the handling clock runs and supervision watches.
AT_UNIT = frozenset({Status.DISPATCHED, Status.SIGNED, Status.IN_PROGRESS})
# Not finished: everything before closing.
UNFINISHED = OPEN | AT_UNIT | frozenset({Status.REPLIED, Status.REVIEWED, Status.FEEDBACK_GIVEN})
FINAL = frozenset({Status.CLOSED, Status.REJECTED, Status.MERGED, Status.WITHDRAWN})

# (action, from) -> to. ``None`` as from: the action creates the case.
TRANSITIONS: dict[tuple[Action, Status | None], Status] = {
    (Action.REGISTER, None): Status.REGISTERED,
    (Action.ACCEPT, Status.REGISTERED): Status.ACCEPTED,
    (Action.REJECT, Status.REGISTERED): Status.REJECTED,
    (Action.ANSWER_ON_SPOT, Status.REGISTERED): Status.CLOSED,
    (Action.SUBMIT_APPROVAL, Status.ACCEPTED): Status.PENDING_APPROVAL,
    (Action.APPROVE, Status.PENDING_APPROVAL): Status.APPROVED,
    (Action.DENY_APPROVAL, Status.PENDING_APPROVAL): Status.ACCEPTED,
    (Action.DISPATCH, Status.ACCEPTED): Status.DISPATCHED,
    (Action.DISPATCH, Status.APPROVED): Status.DISPATCHED,
    (Action.UNIT_RETURN, Status.DISPATCHED): Status.ACCEPTED,
    (Action.UNIT_RETURN, Status.SIGNED): Status.ACCEPTED,
    (Action.SIGN, Status.DISPATCHED): Status.SIGNED,
    (Action.START, Status.SIGNED): Status.IN_PROGRESS,
    (Action.REPLY, Status.SIGNED): Status.REPLIED,
    (Action.REPLY, Status.IN_PROGRESS): Status.REPLIED,
    (Action.PASS_REVIEW, Status.REPLIED): Status.REVIEWED,
    (Action.RETURN_REPLY, Status.REPLIED): Status.IN_PROGRESS,
    (Action.FEEDBACK, Status.REVIEWED): Status.FEEDBACK_GIVEN,
    (Action.CLOSE, Status.FEEDBACK_GIVEN): Status.CLOSED,
    (Action.REOPEN, Status.FEEDBACK_GIVEN): Status.ACCEPTED,
    (Action.REOPEN, Status.CLOSED): Status.ACCEPTED,
    **{(Action.ARCHIVE, s): Status.ARCHIVED for s in FINAL},
    **{(Action.MERGE, s): Status.MERGED for s in OPEN},
    **{(Action.WITHDRAW, s): Status.WITHDRAWN for s in OPEN | AT_UNIT},
    **{(Action.RECALL, s): Status.ACCEPTED for s in AT_UNIT},
    **{(Action.ATTACH, s): s for s in OPEN | AT_UNIT},
    **{
        (action, s): s
        for s in (Status.SIGNED, Status.IN_PROGRESS)
        for action in (Action.REQUEST_EXTENSION, Action.DECIDE_EXTENSION)
    },
    **{
        (action, s): s
        for s in UNFINISHED
        for action in (Action.REMIND, Action.YELLOW_CARD, Action.RED_CARD)
    },
    **{(Action.SATISFACTION, s): s for s in (Status.FEEDBACK_GIVEN, Status.CLOSED)},
    **{(Action.CORRECT, s): s for s in UNFINISHED},
}

# Actions that must say why (the history's "why" is not optional for them).
NEEDS_REASON = frozenset(
    {
        Action.REJECT,
        Action.MERGE,
        Action.DENY_APPROVAL,
        Action.UNIT_RETURN,
        Action.RETURN_REPLY,
        Action.REOPEN,
        Action.WITHDRAW,
        Action.REQUEST_EXTENSION,
        Action.CORRECT,
    }
)


class IllegalTransition(ValueError):
    def __init__(self, action: Action, status: Status | None) -> None:
        where = STATUS_LABELS[status] if status else "尚未登记"
        super().__init__(f"case is {status or 'not registered'}: cannot {action}")
        self.action = action
        self.status = status
        self.message_zh = f"案件当前状态为“{where}”，不能{ACTION_LABELS[action]}"


class ReasonRequired(ValueError):
    def __init__(self, action: Action) -> None:
        super().__init__(f"{action} needs a reason")
        self.action = action
        self.message_zh = f"{ACTION_LABELS[action]}须填写理由"


def next_status(action: Action, status: Status | None) -> Status:
    try:
        return TRANSITIONS[(action, status)]
    except KeyError:
        raise IllegalTransition(action, status) from None


def allowed_actions(status: Status) -> list[Action]:
    """What may be done to a case in ``status``, in the table's order."""
    return [action for action, source in TRANSITIONS if source == status]


def check_reason(action: Action, reason: str) -> str:
    reason = reason.strip()
    if action in NEEDS_REASON and not reason:
        raise ReasonRequired(action)
    return reason
