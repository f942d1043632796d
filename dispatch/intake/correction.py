"""Correcting a registration after saving (更正登记): while a case is unfinished, the centre
may correct what was registered (a misheard name, a wrong number, the content put right)
with a reason. The fields are checked as at registration; one history entry names what
changed. It never says what a person's identity was or became (the case's history is
read by its units, and who complained may be hidden from them), and it changes no
decision, link or status. The page and the JSON API both call :func:`correct`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dispatch.cases.events import add_event
from dispatch.cases.lifecycle import Action, Status, next_status
from dispatch.cases.models import Case
from dispatch.cases.registration import (
    CHANNEL_LABELS,
    TYPE_LABELS,
    CaseType,
    Channel,
    FieldError,
    Invalid,
    clean_text,
    validate,
)

# What may be corrected, with the words the history uses for it.
FIELDS = {
    "received_at": "受理时间",
    "channel": "渠道",
    "case_type": "类型",
    "complainant_name": "姓名",
    "complainant_phone": "联系电话",
    "complainant_address": "地址",
    "complainant_org": "工作单位",
    "anonymous": "匿名",
    "confidential": "保密",
    "identity_consent": "同意提供身份信息",
    "subject_unit": "被投诉单位",
    "subject_window": "被投诉窗口",
    "subject_person": "被投诉工作人员",
    "title": "事项摘要",
    "content": "反映内容",
    "request": "诉求",
    "verified_with_caller": "核实",
}
FLAGS = ("anonymous", "confidential", "identity_consent", "verified_with_caller")
# Whose earlier value the history may show: none of the person's identity, none of the texts.
SHOWN_BEFORE = ("received_at", "channel", "case_type", "title", "subject_unit", "subject_window")
NO_CHANGE = FieldError("没有需要更正的内容", "nothing was changed")
REASON_NEEDED = FieldError("请填写更正原因", "a reason is required")


def form_of(case: Case, zone: ZoneInfo) -> dict[str, str]:
    """The case's correctable fields as the form shows them."""
    values = {name: str(getattr(case, name) or "") for name in FIELDS if name not in FLAGS}
    values["received_at"] = case.received_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    for name in FLAGS:
        values[name] = "on" if getattr(case, name) else ""
    return values


def _shown(name: str, value: object, zone: ZoneInfo) -> str:
    if name == "received_at" and isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if name == "channel":
        return CHANNEL_LABELS.get(Channel(str(value)), str(value))
    if name == "case_type":
        return TYPE_LABELS.get(CaseType(str(value)), str(value))
    return str(value)


def correct(
    session: Session,
    case: Case,
    given: Mapping[str, object],
    reason: str,
    actor: str,
    now: dt.datetime,
    zone: ZoneInfo,
) -> list[str]:
    """Apply the fields in ``given`` (the others keep their values) and write the history
    entry; returns the labels of what changed. ``Invalid`` for a wrong field, no reason or
    no change; ``IllegalTransition`` once the case is finished."""
    before = Status(case.status)
    next_status(Action.CORRECT, before)
    values: dict[str, object] = {**form_of(case, zone)}
    values.update({name: given[name] for name in FIELDS if name in given})
    reg = validate(values, zone, now)
    errors = {}
    if (reg.channel is Channel.PHONE) != (case.channel == Channel.PHONE.value):
        errors["channel"] = FieldError(
            "电话来电的渠道不能更改，其他渠道也不能改为电话", "a phone case stays a phone case"
        )
    reason = clean_text(reason)
    if not reason:
        errors["correction_reason"] = REASON_NEEDED
    if errors:
        raise Invalid(errors)
    changed: list[str] = []
    names: list[str] = []
    for name, label in FIELDS.items():
        old, new = getattr(case, name), getattr(reg, name)
        if isinstance(new, Channel | CaseType):
            new = new.value
        if old == new or (name == "received_at" and _same_minute(old, new)):
            continue
        shown = f"（原为“{_shown(name, old, zone)}”）" if name in SHOWN_BEFORE else ""
        changed.append(label + shown)
        names.append(name)
        setattr(case, name, new)
    if not names:
        raise Invalid({"correction_reason": NO_CHANGE})
    add_event(
        session,
        case,
        actor,
        Action.CORRECT,
        now,
        f"更正{'、'.join(changed)}；原因：{reason}",
        before,
    )
    return [FIELDS[name] for name in names]


def _same_minute(old: dt.datetime, new: dt.datetime) -> bool:
    """The form shows minutes: a time kept as it was shown is not a change."""
    return old.replace(second=0, microsecond=0) == new.replace(second=0, microsecond=0)
