"""The registration form (登记表): its choices, and validation with a message per field in
Chinese (console) and English (API). Pure: no database, no clock of its own."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo


class Channel(StrEnum):
    PHONE = "phone"
    WALK_IN = "walk_in"
    LETTER = "letter"
    WEB = "web"
    FAX = "fax"
    EMAIL = "email"
    TRANSFERRED = "transferred"


CHANNEL_LABELS = {
    Channel.PHONE: "电话",
    Channel.WALK_IN: "来访",
    Channel.LETTER: "信函",
    Channel.WEB: "网络",
    Channel.FAX: "传真",
    Channel.EMAIL: "邮件",
    Channel.TRANSFERRED: "上级转办",
}


class CaseType(StrEnum):
    CONSULTATION = "consultation"
    HELP = "help"
    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    PRAISE = "praise"


TYPE_LABELS = {
    CaseType.CONSULTATION: "咨询",
    CaseType.HELP: "求助",
    CaseType.COMPLAINT: "投诉",
    CaseType.REPORT: "举报",
    CaseType.SUGGESTION: "建议",
    CaseType.PRAISE: "表扬",
}

NEEDS_SUBJECT = frozenset({CaseType.COMPLAINT, CaseType.REPORT})


class Decision(StrEnum):
    PENDING = ""  # decide later
    ACCEPT = "accept"
    REJECT = "reject"
    ON_SPOT = "on_spot"


DECISION_LABELS = {
    Decision.PENDING: "稍后决定",
    Decision.ACCEPT: "受理",
    Decision.REJECT: "不予受理",
    Decision.ON_SPOT: "即办（当场答复）",
}

E = TypeVar("E", bound=StrEnum)

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
LIMITS = {
    "complainant_name": 64,
    "complainant_phone": 32,
    "complainant_address": 256,
    "complainant_org": 128,
    "subject_unit": 128,
    "subject_window": 128,
    "subject_person": 64,
    "title": 100,
    "content": 5000,
    "request": 2000,
    "decision_reason": 1000,
    "refer_to": 128,
    "reply_text": 3000,
    "transcript_text": 20000,
    "merge_into": 64,
    "merge_reason": 500,
}


@dataclass(frozen=True)
class FieldError:
    zh: str
    en: str


@dataclass(frozen=True)
class Registration:
    received_at: dt.datetime
    channel: Channel
    case_type: CaseType
    complainant_name: str
    complainant_phone: str
    complainant_address: str
    complainant_org: str
    anonymous: bool
    confidential: bool
    identity_consent: bool
    subject_unit: str
    subject_window: str
    subject_person: str
    title: str
    content: str
    request: str
    verified_with_caller: bool
    transcript_text: str
    decision: Decision
    decision_reason: str
    refer_to: str
    reply_text: str
    knowledge_entry_id: str
    # 并单 as it is registered: the number (or id) of the unfinished case it joins, and why.
    merge_into: str = ""
    merge_reason: str = ""


class Invalid(ValueError):
    def __init__(self, errors: dict[str, FieldError]) -> None:
        super().__init__("; ".join(f"{name}: {err.en}" for name, err in errors.items()))
        self.errors = errors


def clean_text(value: object) -> str:
    """Trimmed text without control characters (newlines and tabs stay)."""
    text = "".join(
        ch
        for ch in str(value or "")
        if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cf"}
    )
    return text.strip()


# An extension after the number: 13800138000转123, 010-62345678分机8001, …ext. 12, …x12, …#12.
EXTENSION = re.compile(r"(?:转分机|转|分机|ext\.?|x|#)(\d{1,6})$", re.IGNORECASE)
PHONE_ERROR = FieldError(
    "联系电话格式不正确：请填写11位手机号，或带区号的固定电话（如010-62345678）；"
    "分机号写在“转”之后（如010-62345678转8001）",
    "not a phone number: an 11-digit mobile or a landline with its area code, an extension "
    "after 转 (010-62345678转8001)",
)


def split_extension(value: str) -> tuple[str, str]:
    """(the number as typed, the extension's digits or ''): full-width characters read as
    their ASCII forms, spaces and brackets dropped."""
    text = re.sub(r"[\s()]", "", unicodedata.normalize("NFKC", value))
    found = EXTENSION.search(text)
    if found is None or found.start() == 0:
        return text, ""
    return text[: found.start()], found.group(1)


def normalise_phone(value: str) -> str:
    """The number to dial and to match callers by: a mobile as 11 digits, a landline as
    area code, dash, number; an extension is left out (``normalise_contact`` keeps it)."""
    text, _extension = split_extension(value)
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :].lstrip("-")
            if not MOBILE.match(text.replace("-", "")) and not text.startswith("0"):
                text = "0" + text  # +86 21 … is the landline 021 …
    if MOBILE.match(text.replace("-", "")):
        return text.replace("-", "")
    area, dash, rest = text.partition("-")
    return area + dash + rest.replace("-", "")  # a landline keeps the dash after its area code


def normalise_contact(value: str) -> str:
    """The phone as a case holds it: the number (``normalise_phone``), then 转 and the
    extension if one was given."""
    number = normalise_phone(value)
    _text, extension = split_extension(value)
    return f"{number}转{extension}" if extension and number else number


def valid_phone(value: str) -> bool:
    return bool(MOBILE.match(value) or LANDLINE.match(value))


def phone_problem(value: str) -> FieldError | None:
    """The one rule for a contact phone, for the server's check and the console's (which
    asks the server): empty is no problem here (whether one is needed is the form's rule);
    otherwise a mobile or a landline with its area code, and an optional extension."""
    if not value.strip() or valid_phone(normalise_phone(value)):
        return None
    return PHONE_ERROR


def _flag(value: object) -> bool:
    return str(value).lower() in {"on", "true", "1", "yes"}


def _choice(kind: type[E], value: object) -> E | None:
    try:
        return kind(str(value or ""))
    except ValueError:
        return None


def parse_local_time(value: str, zone: ZoneInfo) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


def validate(form: Mapping[str, object], zone: ZoneInfo, now: dt.datetime) -> Registration:
    """The registration in ``form`` (strings as a browser sends them), or ``Invalid`` with a
    message for each wrong field."""
    errors: dict[str, FieldError] = {}
    text = {name: clean_text(form.get(name, "")) for name in LIMITS}
    for name, limit in LIMITS.items():
        if len(text[name]) > limit:
            errors[name] = FieldError(f"不能超过{limit}个字", f"at most {limit} characters")

    received_at = parse_local_time(clean_text(form.get("received_at", "")), zone)
    if received_at is None:
        errors["received_at"] = FieldError("请填写受理时间", "a date and time is required")
    elif received_at > now + dt.timedelta(minutes=5):
        errors["received_at"] = FieldError("受理时间不能晚于当前时间", "must not be in the future")

    channel = _choice(Channel, form.get("channel"))
    if channel is None:
        errors["channel"] = FieldError("请选择渠道", "choose a channel")
    case_type = _choice(CaseType, form.get("case_type"))
    if case_type is None:
        errors["case_type"] = FieldError("请选择类型", "choose a type")
    decision = _choice(Decision, form.get("decision", ""))
    if text["merge_into"]:
        decision = Decision.PENDING  # merged: the case it joins carries the decision
    if decision is None:
        errors["decision"] = FieldError("请选择受理意见", "choose a decision")

    anonymous = _flag(form.get("anonymous", ""))
    phone = normalise_contact(text["complainant_phone"])
    problem = phone_problem(text["complainant_phone"])
    if problem is not None:
        errors["complainant_phone"] = problem
    if not anonymous:
        if not text["complainant_name"]:
            errors.setdefault(
                "complainant_name",
                FieldError("请填写诉求人姓名，或勾选“匿名”", "a name is required unless anonymous"),
            )
        if not phone and not text["complainant_address"]:
            errors.setdefault(
                "complainant_phone",
                FieldError(
                    "请填写联系电话或地址，以便答复", "a phone number or an address is required"
                ),
            )
    if not text["title"]:
        errors.setdefault("title", FieldError("请填写事项摘要", "a title is required"))
    if not text["content"]:
        errors.setdefault("content", FieldError("请填写反映内容", "the content is required"))
    if case_type in NEEDS_SUBJECT and not text["subject_unit"] and not text["subject_person"]:
        errors.setdefault(
            "subject_unit",
            FieldError(
                "投诉、举报须写明被投诉对象（单位或人员）",
                "a complaint or report needs the unit or person complained about",
            ),
        )
    if decision is Decision.REJECT:
        if not text["decision_reason"]:
            errors.setdefault(
                "decision_reason", FieldError("请填写不予受理的理由", "a reason is required")
            )
        if not text["refer_to"]:
            errors.setdefault(
                "refer_to",
                FieldError("请填写可以办理的机关或部门", "the body to turn to is required"),
            )
    if text["merge_into"] and not text["merge_reason"]:
        errors.setdefault("merge_reason", FieldError("请填写并单理由", "a reason is required"))
    knowledge_entry_id = clean_text(form.get("knowledge_entry_id", ""))
    if decision is Decision.ON_SPOT and not knowledge_entry_id and not text["reply_text"]:
        errors.setdefault(
            "reply_text",
            FieldError(
                "即办须选择知识库条目或填写答复内容", "choose a knowledge entry or write the answer"
            ),
        )

    if errors or received_at is None or channel is None or case_type is None or decision is None:
        raise Invalid(errors)
    confidential = _flag(form.get("confidential", "")) or case_type is CaseType.REPORT
    return Registration(
        received_at=received_at,
        channel=channel,
        case_type=case_type,
        complainant_name="" if anonymous else text["complainant_name"],
        complainant_phone=phone,
        complainant_address=text["complainant_address"],
        complainant_org=text["complainant_org"],
        anonymous=anonymous,
        confidential=confidential,
        identity_consent=_flag(form.get("identity_consent", ""))
        and not confidential
        and not anonymous,
        subject_unit=text["subject_unit"],
        subject_window=text["subject_window"],
        subject_person=text["subject_person"],
        title=text["title"],
        content=text["content"],
        request=text["request"],
        verified_with_caller=_flag(form.get("verified_with_caller")),
        transcript_text=text["transcript_text"],
        decision=decision,
        decision_reason=text["decision_reason"],
        refer_to=text["refer_to"],
        reply_text=text["reply_text"],
        knowledge_entry_id=knowledge_entry_id,
        merge_into=text["merge_into"],
        merge_reason=text["merge_reason"],
    )


THANKS_BY_CHANNEL = {
    Channel.PHONE: "感谢您的来电。",
    Channel.LETTER: "感谢您的来信。",
    Channel.WALK_IN: "感谢您的来访。",
}


def rejection_reply(reason: str, refer_to: str, channel: Channel = Channel.PHONE) -> str:
    """The text the operator reads out or sends when a case is not accepted (告知/引导).

    It thanks the citizen the way they came: a call, a letter, a visit, or else 反映."""
    thanks = THANKS_BY_CHANNEL.get(channel, "感谢您的反映。")
    return (
        f"您反映的事项经审查不属于本热线受理范围，理由是：{reason}。"
        f"建议您向{refer_to}反映，由其依法处理。{thanks}"
    )
