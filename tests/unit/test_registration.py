"""The registration form (登记表): what it accepts, and the message per field otherwise."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dispatch.cases.registration import (
    LIMITS,
    CaseType,
    Channel,
    Decision,
    FieldError,
    Invalid,
    Registration,
    clean_text,
    normalise_phone,
    rejection_reply,
    valid_phone,
    validate,
)

ZONE = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
PHONE_ZH = (
    "联系电话格式不正确：请填写11位手机号，或带区号的固定电话（如010-62345678）；"
    "分机号写在“转”之后（如010-62345678转8001）"
)
PHONE_EN = (
    "not a phone number: an 11-digit mobile or a landline with its area code, an extension "
    "after 转 (010-62345678转8001)"
)
SUBJECT_ZH = "投诉、举报须写明被投诉对象（单位或人员）"


def form(**changes: object) -> dict[str, object]:
    """A complete consultation by phone, as the browser sends it, with ``changes``."""
    fields: dict[str, object] = {
        "received_at": "2026-11-21T09:30",
        "channel": "phone",
        "case_type": "consultation",
        "complainant_name": "张三",
        "complainant_phone": "13800138000",
        "title": "咨询居住证办理",
        "content": "想了解办理居住证需要什么材料。",
    }
    fields.update(changes)
    return fields


def errors_of(fields: dict[str, object], now: dt.datetime = NOW) -> dict[str, FieldError]:
    with pytest.raises(Invalid) as caught:
        validate(fields, ZONE, now)
    return caught.value.errors


def ok(fields: dict[str, object], now: dt.datetime = NOW) -> Registration:
    return validate(fields, ZONE, now)


# --- a complete form ---------------------------------------------------------------------


def test_complete_form_gives_the_registration() -> None:
    reg = ok(form())
    assert reg == Registration(
        received_at=dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.UTC),
        channel=Channel.PHONE,
        case_type=CaseType.CONSULTATION,
        complainant_name="张三",
        complainant_phone="13800138000",
        complainant_address="",
        complainant_org="",
        anonymous=False,
        confidential=False,
        identity_consent=False,
        subject_unit="",
        subject_window="",
        subject_person="",
        title="咨询居住证办理",
        content="想了解办理居住证需要什么材料。",
        request="",
        verified_with_caller=False,
        transcript_text="",
        decision=Decision.PENDING,
        decision_reason="",
        refer_to="",
        reply_text="",
        knowledge_entry_id="",
    )


def test_local_time_is_read_in_the_zone_and_stored_in_utc() -> None:
    reg = ok(form(received_at="2026-11-21 08:00"))
    assert reg.received_at == dt.datetime(2026, 11, 21, 0, 0, tzinfo=dt.UTC)
    assert reg.received_at.utcoffset() == dt.timedelta(0)


def test_time_with_its_own_offset_keeps_it() -> None:
    reg = ok(form(received_at="2026-11-21T01:45:00+00:00"))
    assert reg.received_at == dt.datetime(2026, 11, 21, 1, 45, tzinfo=dt.UTC)


def test_every_field_is_carried_over() -> None:
    reg = ok(
        form(
            channel="walk_in",
            case_type="help",
            complainant_address=" 建设路108号 ",
            complainant_org="某公司",
            subject_unit="社保中心",
            subject_window="3号窗口",
            subject_person="李四",
            request="尽快办理",
            verified_with_caller="on",
            transcript_text="你好，我想问一下",
            decision="accept",
            confidential="true",
        )
    )
    assert reg.channel is Channel.WALK_IN
    assert reg.case_type is CaseType.HELP
    assert reg.complainant_address == "建设路108号"
    assert reg.complainant_org == "某公司"
    assert (reg.subject_unit, reg.subject_window, reg.subject_person) == (
        "社保中心",
        "3号窗口",
        "李四",
    )
    assert reg.request == "尽快办理"
    assert reg.verified_with_caller is True
    assert reg.transcript_text == "你好，我想问一下"
    assert reg.decision is Decision.ACCEPT
    assert reg.confidential is True


# --- required fields ---------------------------------------------------------------------


def test_empty_form_names_every_missing_field() -> None:
    errors = errors_of({})
    assert set(errors) == {
        "received_at",
        "channel",
        "case_type",
        "complainant_name",
        "complainant_phone",
        "title",
        "content",
    }
    assert errors["received_at"] == FieldError("请填写受理时间", "a date and time is required")
    assert errors["channel"] == FieldError("请选择渠道", "choose a channel")
    assert errors["case_type"] == FieldError("请选择类型", "choose a type")
    assert errors["complainant_name"] == FieldError(
        "请填写诉求人姓名，或勾选“匿名”", "a name is required unless anonymous"
    )
    assert errors["complainant_phone"] == FieldError(
        "请填写联系电话或地址，以便答复", "a phone number or an address is required"
    )
    assert errors["title"] == FieldError("请填写事项摘要", "a title is required")
    assert errors["content"] == FieldError("请填写反映内容", "the content is required")


@pytest.mark.parametrize(
    "field", ["received_at", "channel", "case_type", "complainant_name", "title", "content"]
)
def test_each_required_field_alone(field: str) -> None:
    assert set(errors_of(form(**{field: ""}))) == {field}


@pytest.mark.parametrize("field", ["complainant_name", "title", "content"])
def test_blank_text_counts_as_missing(field: str) -> None:
    assert set(errors_of(form(**{field: " \t\n "}))) == {field}


def test_invalid_carries_english_messages_and_is_a_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        validate(form(title="", content=""), ZONE, NOW)
    assert isinstance(caught.value, Invalid)
    assert str(caught.value) == "title: a title is required; content: the content is required"


@pytest.mark.parametrize(
    ("field", "value", "zh"),
    [
        ("channel", "telepathy", "请选择渠道"),
        ("channel", "PHONE", "请选择渠道"),
        ("case_type", "complaint_or_report", "请选择类型"),
        ("decision", "maybe", "请选择受理意见"),
        ("received_at", "昨天下午", "请填写受理时间"),
        ("received_at", "2026-13-01T09:00", "请填写受理时间"),
    ],
)
def test_unknown_choices_are_refused(field: str, value: str, zh: str) -> None:
    errors = errors_of(form(**{field: value}))
    assert set(errors) == {field}
    assert errors[field].zh == zh


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_is_accepted(channel: Channel) -> None:
    assert ok(form(channel=channel.value)).channel is channel


def test_decision_left_out_is_pending() -> None:
    fields = form()
    fields.pop("decision", None)
    assert ok(fields).decision is Decision.PENDING


def test_address_instead_of_phone_is_enough() -> None:
    reg = ok(form(complainant_phone="", complainant_address="幸福小区3栋502"))
    assert reg.complainant_phone == ""
    assert reg.complainant_address == "幸福小区3栋502"


# --- anonymous -------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["on", "true", "TRUE", "1", "yes", True])
def test_anonymous_needs_no_name_nor_contact(flag: object) -> None:
    reg = ok(form(anonymous=flag, complainant_name="", complainant_phone=""))
    assert reg.anonymous is True
    assert reg.complainant_name == ""
    assert reg.complainant_phone == ""


def test_anonymous_drops_a_given_name_but_keeps_the_phone() -> None:
    reg = ok(form(anonymous="on", complainant_name="王五"))
    assert reg.anonymous is True
    assert reg.complainant_name == ""
    assert reg.complainant_phone == "13800138000"


@pytest.mark.parametrize("flag", ["", "off", "false", "0", "no", None])
def test_not_anonymous_unless_ticked(flag: object) -> None:
    errors = errors_of(form(anonymous=flag, complainant_name=""))
    assert set(errors) == {"complainant_name"}


def test_anonymous_with_a_wrong_phone_is_still_refused() -> None:
    errors = errors_of(form(anonymous="on", complainant_phone="12345"))
    assert set(errors) == {"complainant_phone"}
    assert "联系电话格式不正确" in errors["complainant_phone"].zh


# --- complaints and reports --------------------------------------------------------------


@pytest.mark.parametrize("case_type", ["complaint", "report"])
def test_complaint_and_report_need_a_subject(case_type: str) -> None:
    errors = errors_of(form(case_type=case_type))
    assert set(errors) == {"subject_unit"}
    assert errors["subject_unit"] == FieldError(
        SUBJECT_ZH, "a complaint or report needs the unit or person complained about"
    )


@pytest.mark.parametrize("case_type", ["complaint", "report"])
def test_a_window_alone_is_not_a_subject(case_type: str) -> None:
    errors = errors_of(form(case_type=case_type, subject_window="3号窗口"))
    assert errors["subject_unit"].zh == SUBJECT_ZH


@pytest.mark.parametrize("case_type", ["complaint", "report"])
@pytest.mark.parametrize(
    "subject", [{"subject_unit": "市场监督管理局"}, {"subject_person": "李四"}]
)
def test_unit_or_person_is_enough(case_type: str, subject: dict[str, str]) -> None:
    reg = ok(form(case_type=case_type, **subject))
    assert reg.case_type is CaseType(case_type)


@pytest.mark.parametrize("case_type", ["consultation", "help", "suggestion", "praise"])
def test_other_types_need_no_subject(case_type: str) -> None:
    assert ok(form(case_type=case_type)).subject_unit == ""


def test_report_is_always_confidential() -> None:
    reg = ok(form(case_type="report", subject_unit="某局", confidential=""))
    assert reg.confidential is True


def test_complaint_is_confidential_only_when_asked() -> None:
    assert ok(form(case_type="complaint", subject_unit="某局")).confidential is False
    assert (
        ok(form(case_type="complaint", subject_unit="某局", confidential="on")).confidential is True
    )


# --- decisions ---------------------------------------------------------------------------


def test_reject_needs_reason_and_where_to_turn() -> None:
    errors = errors_of(form(decision="reject"))
    assert errors == {
        "decision_reason": FieldError("请填写不予受理的理由", "a reason is required"),
        "refer_to": FieldError("请填写可以办理的机关或部门", "the body to turn to is required"),
    }


def test_reject_with_only_a_reason_still_needs_refer_to() -> None:
    assert set(errors_of(form(decision="reject", decision_reason="属于司法程序"))) == {"refer_to"}


def test_reject_with_reason_and_refer_to() -> None:
    reg = ok(form(decision="reject", decision_reason="属于司法程序", refer_to="人民法院"))
    assert reg.decision is Decision.REJECT
    assert (reg.decision_reason, reg.refer_to) == ("属于司法程序", "人民法院")


def test_on_spot_needs_an_entry_or_a_reply() -> None:
    errors = errors_of(form(decision="on_spot"))
    assert errors == {
        "reply_text": FieldError(
            "即办须选择知识库条目或填写答复内容", "choose a knowledge entry or write the answer"
        )
    }


def test_on_spot_with_a_knowledge_entry() -> None:
    reg = ok(form(decision="on_spot", knowledge_entry_id=" " + "a" * 32 + " "))
    assert reg.decision is Decision.ON_SPOT
    assert reg.knowledge_entry_id == "a" * 32
    assert reg.reply_text == ""


def test_on_spot_with_a_written_reply() -> None:
    reg = ok(form(decision="on_spot", reply_text="请携带身份证到派出所办理。"))
    assert reg.reply_text == "请携带身份证到派出所办理。"
    assert reg.knowledge_entry_id == ""


def test_accept_needs_nothing_more() -> None:
    assert ok(form(decision="accept")).decision is Decision.ACCEPT


# --- received_at -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "received_at", ["2026-11-21T10:06", "2026-11-22T09:00", "2026-11-21T02:06:00+00:00"]
)
def test_future_time_is_refused(received_at: str) -> None:
    errors = errors_of(form(received_at=received_at))
    assert errors == {
        "received_at": FieldError("受理时间不能晚于当前时间", "must not be in the future")
    }


@pytest.mark.parametrize(
    "received_at", ["2026-11-21T10:05", "2026-11-21T10:00", "2026-11-20T23:59"]
)
def test_up_to_five_minutes_ahead_is_allowed(received_at: str) -> None:
    reg = ok(form(received_at=received_at))
    assert reg.received_at == dt.datetime.fromisoformat(received_at).replace(tzinfo=ZONE)


# --- lengths -----------------------------------------------------------------------------

# The phone and the case merged into have rules of their own besides their length.
TEXT_LIMITS = [
    (name, limit)
    for name, limit in LIMITS.items()
    if name not in {"complainant_phone", "merge_into"}
]


def test_limits() -> None:
    assert LIMITS["title"] == 100
    assert LIMITS["content"] == 5000
    assert LIMITS["complainant_name"] == 64
    assert LIMITS["complainant_phone"] == 32


@pytest.mark.parametrize(("field", "limit"), TEXT_LIMITS)
def test_over_long_text_is_refused(field: str, limit: int) -> None:
    errors = errors_of(form(**{field: "字" * (limit + 1)}))
    assert errors == {field: FieldError(f"不能超过{limit}个字", f"at most {limit} characters")}


@pytest.mark.parametrize(("field", "limit"), TEXT_LIMITS)
def test_text_at_the_limit_is_accepted(field: str, limit: int) -> None:
    reg = ok(form(**{field: " " + "字" * limit + " "}))
    assert getattr(reg, field) == "字" * limit


def test_a_case_to_merge_into_needs_a_reason_and_leaves_the_decision_to_it() -> None:
    assert set(errors_of(form(merge_into="TS202611200001"))) == {"merge_reason"}
    reg = ok(form(merge_into=" TS202611200001 ", merge_reason="重复反映", decision="accept"))
    assert (reg.merge_into, reg.merge_reason) == ("TS202611200001", "重复反映")
    assert reg.decision is Decision.PENDING  # the case merged into carries the decision
    too_long = errors_of(form(merge_into="T" * 65, merge_reason="重复"))
    assert too_long == {"merge_into": FieldError("不能超过64个字", "at most 64 characters")}


def test_over_long_phone_is_refused() -> None:
    assert "complainant_phone" in errors_of(form(complainant_phone="1" * 33))


def test_over_long_title_wins_over_other_checks() -> None:
    errors = errors_of(form(title="题" * 101, case_type="complaint"))
    assert errors["title"].zh == "不能超过100个字"
    assert errors["subject_unit"].zh == SUBJECT_ZH


# --- phones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+8619912345678", "19912345678"),
        ("0086 13800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("＋８６ １３８００１３８０００", "13800138000"),
        ("021-62345678", "021-62345678"),
        ("(021) 6234 5678", "02162345678"),
        ("（0755）23456789", "075523456789"),
        ("0755-2345678", "0755-2345678"),
        ("010 8765 4321", "01087654321"),
        ("13800138000转123", "13800138000转123"),  # an extension stays, after 转
        ("13800138000 转 123", "13800138000转123"),
        ("010-62345678分机8001", "010-62345678转8001"),
        ("010-62345678 ext. 8001", "010-62345678转8001"),
        ("０１０－６２３４５６７８转８００１", "010-62345678转8001"),
    ],
)
def test_valid_phones_are_stored_normalised(given: str, stored: str) -> None:
    assert ok(form(complainant_phone=given)).complainant_phone == stored


@pytest.mark.parametrize(
    "given",
    [
        "12345",  # a service number, not a caller's
        "12800138000",  # mobiles start 13-19
        "1380013800",  # ten digits
        "138001380001",  # twelve digits
        "62345678",  # landline without its area code
        "电话13800138000",
        "转123",  # an extension without a number
        "13800138000转1234567",  # more than six digits is no extension
        "62345678转123",  # an extension does not stand in for the area code
    ],
)
def test_invalid_phones_are_refused_with_the_chinese_message(given: str) -> None:
    errors = errors_of(form(complainant_phone=given))
    assert set(errors) == {"complainant_phone"}
    assert "联系电话格式不正确" in errors["complainant_phone"].zh
    assert errors["complainant_phone"] == FieldError(PHONE_ZH, PHONE_EN)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+86 138 0013 8000", "13800138000"),
        ("0086(138)00138000", "13800138000"),
        ("（010）８７６５ ４３２１", "01087654321"),
        ("021-62345678", "021-62345678"),
        ("8613800138000", "8613800138000"),  # only a written prefix is dropped
        ("13800138000转123", "13800138000"),  # the number to dial has no extension
        ("", ""),
    ],
)
def test_normalise_phone(given: str, expected: str) -> None:
    assert normalise_phone(given) == expected


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("13800138000", True),
        ("19912345678", True),
        ("12800138000", False),
        ("0755-2345678", True),
        ("075523456789", True),
        ("021-62345678", True),
        ("021-1234567", True),
        ("", False),
    ],
)
def test_valid_phone(number: str, valid: bool) -> None:
    assert valid_phone(number) is valid


def test_the_landline_example_in_the_message_is_accepted() -> None:
    assert ok(form(complainant_phone="010-62345678")).complainant_phone == "010-62345678"
    assert ok(form(complainant_phone="+86 21 6234 5678")).complainant_phone == "02162345678"
    assert ok(form(complainant_phone="138-0013-8000")).complainant_phone == "13800138000"


# --- control characters ------------------------------------------------------------------


def test_control_characters_are_stripped_from_every_field() -> None:
    reg = ok(
        form(
            complainant_name="张\x00三\u200b",
            complainant_phone="138\x00 0013\u200d 8000",
            title="物业\x07乱收费\u202e",
            content="第一行\r\n第二行\t结束\x1b[31m",
            knowledge_entry_id="\x00",
        )
    )
    assert reg.complainant_name == "张三"
    assert reg.complainant_phone == "13800138000"
    assert reg.title == "物业乱收费"
    assert reg.content == "第一行\n第二行\t结束[31m"
    assert reg.knowledge_entry_id == ""


def test_a_title_of_control_characters_is_missing() -> None:
    assert set(errors_of(form(title="\x00\x07\u200b"))) == {"title"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  正文  ", "正文"),
        ("a\r\nb\tc", "a\nb\tc"),
        ("\x7f删\u2066除\u2069", "删除"),
        ("\ufeff标题", "标题"),
        (None, ""),
        (0, ""),
        (123, "123"),
    ],
)
def test_clean_text(value: object, expected: str) -> None:
    assert clean_text(value) == expected


def test_control_characters_and_spaces_do_not_make_a_title() -> None:
    assert clean_text("\x00 ") == ""
    assert set(errors_of(form(title="\x00 \x00"))) == {"title"}


# --- rejection reply ---------------------------------------------------------------------


def test_rejection_reply() -> None:
    assert rejection_reply("属于司法程序", "人民法院") == (
        "您反映的事项经审查不属于本热线受理范围，理由是：属于司法程序。"
        "建议您向人民法院反映，由其依法处理。感谢您的来电。"
    )


@pytest.mark.parametrize(
    ("channel", "thanks"),
    [
        (Channel.PHONE, "感谢您的来电。"),
        (Channel.LETTER, "感谢您的来信。"),
        (Channel.WALK_IN, "感谢您的来访。"),
        (Channel.EMAIL, "感谢您的反映。"),
        (Channel.WEB, "感谢您的反映。"),
    ],
)
def test_a_rejection_thanks_the_citizen_the_way_they_came(channel: Channel, thanks: str) -> None:
    assert rejection_reply("属于司法程序", "人民法院", channel).endswith(thanks)


def test_identity_consent_is_kept_only_when_the_identity_may_be_shared() -> None:
    assert ok(form(identity_consent="on")).identity_consent
    assert not ok(form(identity_consent="on", confidential="on")).identity_consent
    assert not ok(form(identity_consent="on", anonymous="on")).identity_consent
