"""A case's life after acceptance: leader's approval, dispatch to units, the unit's
return, signing, replying, the centre's review, extensions, reopening, withdrawal, closing
and archiving. Every step goes through ``transition``: the lifecycle table decides, one
history entry records it. Functions take a Session; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.cases.events import add_event
from dispatch.cases.handling_models import Assignment, CaseDeadline, Extension, Unit, UnitReply
from dispatch.cases.lifecycle import Action, Status, check_reason, next_status
from dispatch.cases.models import Case, CaseEvent
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines import stage_clocks
from dispatch.deadlines.stage_clocks import Rules, Stage
from dispatch.deadlines.working_calendar import Deadline
from dispatch.routing import units


class Mode(StrEnum):
    SELF = "self"  # 自办
    TRANSFER = "transfer"  # 转办
    ASSIGN = "assign"  # 交办（督办）


MODE_LABELS = {Mode.SELF: "自办", Mode.TRANSFER: "转办", Mode.ASSIGN: "交办"}


class Finding(StrEnum):
    TRUE = "true"
    PARTLY_TRUE = "partly_true"
    UNTRUE = "untrue"


FINDING_LABELS = {Finding.TRUE: "属实", Finding.PARTLY_TRUE: "部分属实", Finding.UNTRUE: "不属实"}


class Refused(ValueError):
    """A step the rules forbid here, with the reason in English and Chinese."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message_zh = message_zh


def transition(
    session: Session, case: Case, action: Action, actor: str, now: dt.datetime, note: str = ""
) -> CaseEvent:
    """Apply ``action`` through the table and write its history entry."""
    before = Status(case.status)
    after = next_status(action, before)
    note = check_reason(action, note)
    case.status = after.value
    return add_event(session, case, actor, action, now, note, before)


def accepted_on(session: Session, case: Case, rules: Rules) -> dt.date:
    """The local date the case was (last) accepted, reopened or taken back from a unit by
    the centre: the handling clock starts there (a unit a case is re-assigned to gets a
    fresh clock; a unit's own return keeps the clock from the acceptance)."""
    event = session.scalar(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.action.in_([Action.ACCEPT.value, Action.REOPEN.value, Action.RECALL.value]),
        )
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return rules.local_date(event.at if event else case.registered_at)


# -- the centre: approval and dispatch -------------------------------------------------


def submit_approval(
    session: Session, case: Case, actor: str, now: dt.datetime, note: str = ""
) -> None:
    case.needs_approval = True
    transition(session, case, Action.SUBMIT_APPROVAL, actor, now, note or "报领导审批")


def decide_approval(
    session: Session, case: Case, approve: bool, actor: str, now: dt.datetime, note: str = ""
) -> None:
    if approve:
        transition(session, case, Action.APPROVE, actor, now, note or "同意交办")
    else:
        transition(session, case, Action.DENY_APPROVAL, actor, now, note)


@dataclass(frozen=True)
class DispatchOrder:
    lead_unit_id: str
    mode: Mode
    assist_unit_ids: Sequence[str] = ()
    instructions: str = ""
    category: str = ""
    complex_case: bool = False
    complained_unit_id: str = ""
    category_offered: str = ""  # what the form pre-selected ("" from the JSON API)


def assignments(session: Session, case_id: str, active_only: bool = True) -> list[Assignment]:
    query = select(Assignment).where(Assignment.case_id == case_id)
    if active_only:
        query = query.where(Assignment.active)
    return list(
        session.scalars(query.order_by(Assignment.dispatched_at, Assignment.role.desc()))
    )  # lead first


def check_order(order: DispatchOrder) -> None:
    """A case goes to the unit responsible for its category: no dispatch without a
    category, nor without the lead unit."""
    errors = {}
    if not order.category.strip():
        errors["category"] = FieldError("请选择类别", "a category is required")
    if not order.lead_unit_id:
        errors["lead_unit_id"] = FieldError("请选择主办单位", "choose the lead unit")
    if errors:
        raise Invalid(errors)


def dispatch(
    session: Session, case: Case, order: DispatchOrder, actor: str, now: dt.datetime, rules: Rules
) -> list[Assignment]:
    """交办 under the order's category: one lead unit (主办), optional assisting units
    (协办). A case that needs the leader's approval must have it first."""
    check_order(order)
    if case.status == Status.ACCEPTED and case.needs_approval:
        raise Refused(
            "this case needs the leader's approval before dispatch", "该案件须经领导审批后才能交办"
        )
    lead = units.active_unit(session, order.lead_unit_id, "lead_unit_id")
    assists = [
        units.active_unit(session, unit_id, "assist_unit_ids")
        for unit_id in dict.fromkeys(order.assist_unit_ids)
        if unit_id != lead.id
    ]
    if order.mode is Mode.SELF and lead.kind != units.UnitKind.CENTRE:
        raise Invalid(
            {
                "mode": FieldError(
                    "自办须由热线中心自身承办", "self-handling goes to the centre unit"
                )
            }
        )
    complained = (
        units.active_unit(session, order.complained_unit_id, "complained_unit_id")
        if order.complained_unit_id
        else None
    )
    accepted = accepted_on(session, case, rules)
    names = "、".join(u.name for u in assists)
    transition(
        session,
        case,
        Action.DISPATCH,
        actor,
        now,
        f"{MODE_LABELS[order.mode]}：主办 {lead.name}"
        + (f"，协办 {names}" if names else "")
        + (f"；{order.instructions.strip()}" if order.instructions.strip() else ""),
    )
    case.category = order.category.strip()
    case.complex_case = order.complex_case
    case.complained_unit_id = complained.id if complained else case.complained_unit_id
    made = [
        Assignment(
            case_id=case.id,
            unit_id=unit.id,
            role=role,
            mode=order.mode.value,
            instructions=order.instructions.strip(),
            dispatched_at=now,
            dispatched_by=actor,
        )
        for unit, role in [(lead, "lead"), *((u, "assist") for u in assists)]
    ]
    session.add_all(made)
    stage_clocks.on_dispatched(session, case.id, lead.id, accepted, order.complex_case, rules, now)
    session.flush()
    return made


def recall(
    session: Session, case: Case, reason: str, actor: str, now: dt.datetime, rules: Rules
) -> Assignment:
    """收回: the centre takes the case back from its units (wrongly routed, or the unit
    cannot handle it), with the reason. The units lose it, their clocks stop, pending
    extensions lapse, and the centre has it again under a new 转办 clock; the next dispatch
    starts the new unit's handling clock afresh. Returns the lead assignment taken back."""
    next_status(Action.RECALL, Status(case.status))  # refused before anything is read
    if not reason.strip():
        raise Invalid({"reason": FieldError("请填写收回理由", "a reason is required")})
    current = assignments(session, case.id)
    lead = next(a for a in current if a.role == "lead")
    transition(
        session, case, Action.RECALL, actor, now, f"收回{lead.unit.name}的交办：{reason.strip()}"
    )
    for row in current:
        row.active = False
        row.recalled_at, row.recall_reason = now, reason.strip()
    stage_clocks.cancel(session, case.id)
    stage_clocks.on_accepted(session, case.id, rules, now)
    return lead


def check_reassignment(
    session: Session,
    case: Case,
    order: DispatchOrder,
    reason: str,
    errors: dict[str, FieldError] | None = None,
) -> None:
    """A 改派 needs a case with a unit, a reason, a category and another lead unit; every
    missing part is named at once (with ``errors`` found before)."""
    next_status(Action.RECALL, Status(case.status))
    lead = next(a for a in assignments(session, case.id) if a.role == "lead")
    found = dict(errors or {})
    try:
        check_order(order)
    except Invalid as exc:
        found = {**exc.errors, **found}
    if order.lead_unit_id == lead.unit_id:
        found["lead_unit_id"] = FieldError(
            "改派须选择另一主办单位", "re-assign to another lead unit"
        )
    if not reason.strip():
        found["reason"] = FieldError("请填写改派理由", "a reason is required")
    if found:
        raise Invalid(found)


def reassign(
    session: Session,
    case: Case,
    order: DispatchOrder,
    reason: str,
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> list[Assignment]:
    """改派: taken back from its unit and dispatched to another in one step, with the
    reason; the new unit's handling clock starts on the day of the 改派."""
    check_reassignment(session, case, order, reason)
    if case.needs_approval:
        raise Refused(
            "this case needs the leader's approval before it is dispatched again",
            "该案件须经领导审批后才能交办：请先收回，报领导审批后再交办",
        )
    recall(session, case, reason, actor, now, rules)
    return dispatch(session, case, order, actor, now, rules)


# -- the unit ----------------------------------------------------------------------------


def unit_assignment(session: Session, case: Case, unit_id: str) -> Assignment:
    found = session.scalar(
        select(Assignment).where(
            Assignment.case_id == case.id, Assignment.unit_id == unit_id, Assignment.active
        )
    )
    if found is None:
        raise Refused("this case is not assigned to your unit", "该案件未交办给本单位")
    return found


def _lead(session: Session, case: Case, unit_id: str) -> Assignment:
    assignment = unit_assignment(session, case, unit_id)
    if assignment.role != "lead":
        raise Refused("only the lead unit may do this", "只有主办单位可以办理此项")
    return assignment


def sign(session: Session, case: Case, unit_id: str, actor: str, now: dt.datetime) -> None:
    assignment = _lead(session, case, unit_id)
    transition(session, case, Action.SIGN, actor, now, f"{assignment.unit.name} 签收")
    assignment.signed_at, assignment.signed_by = now, actor
    for other in assignments(session, case.id):
        if other.signed_at is None:
            other.signed_at, other.signed_by = now, actor


def start_work(session: Session, case: Case, unit_id: str, actor: str, now: dt.datetime) -> None:
    _lead(session, case, unit_id)
    transition(session, case, Action.START, actor, now)


def unit_return(
    session: Session,
    case: Case,
    unit_id: str,
    reason: str,
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> None:
    """退回: not this unit's business. Allowed within the profile's window after dispatch;
    the case goes back to the centre to be re-routed (改派), with a new 转办 clock."""
    assignment = _lead(session, case, unit_id)
    window = stage_clocks.active(session, case.id, Stage.RETURN)
    if window is not None and rules.local_date(now) > window.due_on:
        raise Refused(
            f"the return window closed on {window.due_on}",
            f"退回时限已过（{window.due_on:%Y年%m月%d日}前可退回），请按要求办理或申请延期",
        )
    reason = check_reason(Action.UNIT_RETURN, reason)  # the note below is never blank
    transition(
        session, case, Action.UNIT_RETURN, actor, now, f"{assignment.unit.name} 退回：{reason}"
    )
    for row in assignments(session, case.id):
        row.active = False
    assignment.returned_at, assignment.return_reason = now, reason.strip()
    stage_clocks.cancel(session, case.id)
    stage_clocks.on_accepted(session, case.id, rules, now)


@dataclass(frozen=True)
class ReplyIn:
    facts: str
    finding: Finding
    measures: str
    responsible_handling: str = ""


def reply(
    session: Session,
    case: Case,
    unit_id: str,
    answer: ReplyIn,
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> UnitReply:
    _lead(session, case, unit_id)
    errors = {
        name: FieldError(zh, f"{name} is required")
        for name, value, zh in [
            ("facts", answer.facts, "请填写调查核实的情况"),
            ("measures", answer.measures, "请填写处理措施"),
        ]
        if not value.strip()
    }
    if errors:
        raise Invalid(errors)
    transition(
        session, case, Action.REPLY, actor, now, f"办理结果：{FINDING_LABELS[answer.finding]}"
    )
    row = UnitReply(
        case_id=case.id,
        unit_id=unit_id,
        at=now,
        by=actor,
        facts=answer.facts.strip(),
        finding=answer.finding.value,
        measures=answer.measures.strip(),
        responsible_handling=answer.responsible_handling.strip(),
    )
    session.add(row)
    stage_clocks.on_replied(session, case.id, rules, now)
    session.flush()
    return row


def replies(session: Session, case_id: str) -> list[UnitReply]:
    """The units' replies on a case, oldest first."""
    return list(
        session.scalars(
            select(UnitReply).where(UnitReply.case_id == case_id).order_by(UnitReply.at)
        )
    )


def latest_reply(session: Session, case_id: str) -> UnitReply | None:
    return session.scalar(
        select(UnitReply).where(UnitReply.case_id == case_id).order_by(UnitReply.at.desc()).limit(1)
    )


def review(
    session: Session, case: Case, passed: bool, note: str, actor: str, now: dt.datetime
) -> None:
    """审核 of the unit's reply: passed, or returned to the unit with the reasons."""
    answer = latest_reply(session, case.id)
    if passed:
        transition(session, case, Action.PASS_REVIEW, actor, now, note or "审核通过")
    else:
        transition(session, case, Action.RETURN_REPLY, actor, now, note)
        stage_clocks.reopen(session, case.id, Stage.HANDLING)
        stage_clocks.cancel(session, case.id, Stage.FEEDBACK)
    if answer is not None:
        answer.review = "passed" if passed else "returned"
        answer.reviewed_by, answer.reviewed_at, answer.review_note = actor, now, note.strip()


# -- extensions --------------------------------------------------------------------------


def request_extension(
    session: Session,
    case: Case,
    unit_id: str,
    days: int,
    reason: str,
    actor: str,
    now: dt.datetime,
    rules: Rules,
) -> Extension:
    """延期 asked by the lead unit before its deadline, for a supervisor to decide."""
    _lead(session, case, unit_id)
    deadline = stage_clocks.active(session, case.id, Stage.HANDLING)
    if deadline is None or deadline.met_at is not None:
        raise Refused("no running handling deadline", "该案件没有进行中的办理时限")
    if rules.local_date(now) > deadline.due_on:
        raise Refused(
            "an extension must be asked before the deadline", "已超过办理时限，不能再申请延期"
        )
    if not 1 <= days <= 60:
        raise Invalid({"days": FieldError("延期天数应为1到60个工作日", "days must be 1-60")})
    pending = session.scalar(
        select(Extension.id).where(
            Extension.case_id == case.id,
            Extension.deadline_id == deadline.id,
            Extension.status == "pending",
        )
    )
    if pending is not None:
        raise Refused("an extension request is pending already", "已有待审批的延期申请")
    new_due = (
        rules.calendar.add_calendar_days(deadline.due_on, days)
        if rules.profile.extension_max is not None
        else rules.calendar.add_working_days(deadline.due_on, days)
    )
    limit = rules.profile.extension_limit(rules.calendar, deadline.due_on)
    if limit is not None and new_due.date > limit.date:
        raise Invalid(
            {
                "days": FieldError(
                    f"延期不得超过{limit.date:%Y年%m月%d日}",
                    f"an extension may not go beyond {limit.date}",
                )
            }
        )
    reason = check_reason(Action.REQUEST_EXTENSION, reason)  # the note below is never blank
    transition(
        session,
        case,
        Action.REQUEST_EXTENSION,
        actor,
        now,
        f"申请延期{days}日至{new_due.date:%Y-%m-%d}：{reason}",
    )
    row = Extension(
        case_id=case.id,
        deadline_id=deadline.id,
        unit_id=unit_id,
        requested_by=actor,
        requested_at=now,
        days=days,
        reason=reason.strip(),
        old_due_on=deadline.due_on,
        new_due_on=new_due.date,
    )
    session.add(row)
    session.flush()
    return row


def extension_notice(case: Case, new_due: dt.date, reason: str) -> str:
    """What the citizen is told about the new date."""
    return (
        f"您好，您反映的问题（编号{case.number}）因{reason}，承办单位申请延期办理，"
        f"经审批同意，预计于{new_due.year}年{new_due.month}月{new_due.day}日前办结答复。"
        "感谢您的理解与支持。"
    )


def decide_extension(
    session: Session,
    case: Case,
    extension: Extension,
    approve: bool,
    note: str,
    actor: str,
    now: dt.datetime,
) -> None:
    if extension.status != "pending":
        raise Refused("this extension was decided already", "该延期申请已审批")
    current = stage_clocks.active(session, case.id, Stage.HANDLING)
    if current is None or current.id != extension.deadline_id:
        # Asked for a clock that was replaced since (returned, reopened, re-dispatched).
        raise Refused(
            "this extension request lapsed with the deadline it was asked for",
            "该延期申请已失效（案件已退回、重办或重新交办）",
        )
    if not approve and not note.strip():
        raise Invalid({"note": FieldError("不同意延期须说明理由", "a reason is required")})
    transition(
        session,
        case,
        Action.DECIDE_EXTENSION,
        actor,
        now,
        (f"同意延期至{extension.new_due_on:%Y-%m-%d}" if approve else "不同意延期")
        + (f"：{note.strip()}" if note.strip() else ""),
    )
    extension.status = "approved" if approve else "refused"
    extension.decided_by, extension.decided_at = actor, now
    extension.decision_reason = note.strip()
    if approve:
        old = session.get(CaseDeadline, extension.deadline_id)
        unit_id = old.unit_id if old else extension.unit_id
        started = old.started_on if old else extension.old_due_on
        stage_clocks.start(
            session, case.id, Stage.HANDLING, started, Deadline(extension.new_due_on), unit_id
        )
        extension.notice_text = extension_notice(case, extension.new_due_on, extension.reason)


def extensions(session: Session, case_id: str) -> list[Extension]:
    return list(
        session.scalars(
            select(Extension).where(Extension.case_id == case_id).order_by(Extension.requested_at)
        )
    )


# -- the end of a case -------------------------------------------------------------------


def reopen(
    session: Session, case: Case, reason: str, actor: str, now: dt.datetime, rules: Rules
) -> None:
    """重办 after dissatisfaction: back to the centre to dispatch again."""
    transition(session, case, Action.REOPEN, actor, now, reason)
    case.reopen_review = False
    for row in assignments(session, case.id):
        row.active = False
    stage_clocks.cancel(session, case.id)
    stage_clocks.on_accepted(session, case.id, rules, now)


def close(session: Session, case: Case, actor: str, now: dt.datetime, note: str = "") -> None:
    if case.reopen_review and not note.strip():
        raise Invalid(
            {
                "note": FieldError(
                    "群众不满意，办结须说明不重办的理由",
                    "the citizen was dissatisfied: give a reason",
                )
            }
        )
    transition(session, case, Action.CLOSE, actor, now, note or "办结")
    case.reopen_review = False
    stage_clocks.cancel(session, case.id)


def withdraw(session: Session, case: Case, reason: str, actor: str, now: dt.datetime) -> None:
    """撤回: the citizen withdrew the request."""
    transition(session, case, Action.WITHDRAW, actor, now, reason)
    for row in assignments(session, case.id):
        row.active = False
    stage_clocks.cancel(session, case.id)


def archive(session: Session, case: Case, actor: str, now: dt.datetime) -> None:
    transition(session, case, Action.ARCHIVE, actor, now, "立卷归档")


def unit_names(session: Session, unit_ids: Sequence[str]) -> dict[str, str]:
    if not unit_ids:
        return {}
    rows = session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))
    return {row.id: row.name for row in rows}
