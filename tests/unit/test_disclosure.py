"""What a handling unit may see of a case: never a whistle-blower's identity or evidence,
nothing for the unit complained about, the identity elsewhere only with consent; and the
identity taken out of the free text."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.cases.registration import CaseType
from dispatch.handling.disclosure import MASK, CaseParties, Disclosure, for_unit, redact

COMPLAINED = "unit-complained-about"
OTHER = "unit-handling"
OPEN_CONSENT = CaseParties(
    case_type=CaseType.COMPLAINT.value,
    anonymous=False,
    confidential=False,
    identity_consent=True,
    complained_unit_id=COMPLAINED,
)


def parties(**changes: object) -> CaseParties:
    return dataclasses.replace(OPEN_CONSENT, **changes)  # type: ignore[arg-type]


def test_another_unit_sees_identity_and_evidence_with_consent() -> None:
    assert for_unit(OPEN_CONSENT, OTHER) == Disclosure(identity=True, evidence=True)


@pytest.mark.parametrize(
    "changes",
    [
        {"identity_consent": False},
        {"confidential": True},
        {"anonymous": True},
        {"confidential": True, "anonymous": True},
    ],
)
def test_without_consent_or_with_confidentiality_the_identity_stays_hidden(
    changes: dict[str, bool],
) -> None:
    assert for_unit(parties(**changes), OTHER) == Disclosure(identity=False, evidence=True)


@pytest.mark.parametrize("unit", [COMPLAINED, OTHER])
def test_whistle_blowing_never_discloses_identity_or_evidence(unit: str) -> None:
    report = parties(case_type=CaseType.REPORT.value)
    assert for_unit(report, unit) == Disclosure(identity=False, evidence=False)
    assert for_unit(dataclasses.replace(report, complained_unit_id=None), unit) == Disclosure(
        identity=False, evidence=False
    )


def test_the_unit_complained_about_never_sees_identity_or_evidence() -> None:
    assert for_unit(OPEN_CONSENT, COMPLAINED) == Disclosure(identity=False, evidence=False)


def test_no_complained_unit_recorded_is_not_every_unit() -> None:
    unknown = parties(complained_unit_id=None)
    assert for_unit(unknown, OTHER) == Disclosure(identity=True, evidence=True)
    assert for_unit(unknown, "") == Disclosure(identity=True, evidence=True)


@given(
    case_type=st.sampled_from(list(CaseType)),
    anonymous=st.booleans(),
    confidential=st.booleans(),
    consent=st.booleans(),
    complained=st.sampled_from([None, COMPLAINED, OTHER]),
    unit=st.sampled_from([COMPLAINED, OTHER]),
)
def test_disclosure_rules_hold_for_every_combination(
    case_type: CaseType,
    anonymous: bool,
    confidential: bool,
    consent: bool,
    complained: str | None,
    unit: str,
) -> None:
    case = CaseParties(case_type.value, anonymous, confidential, consent, complained)
    seen = for_unit(case, unit)
    if case_type is CaseType.REPORT or complained == unit:
        assert seen == Disclosure(identity=False, evidence=False)
    else:
        assert seen.evidence
        assert seen.identity == (consent and not confidential and not anonymous)
    if seen.identity:  # the identity goes only where the citizen agreed to it
        assert consent and not anonymous and not confidential and complained != unit


# -- redaction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+86-13800138000",
        "8613800138000",
        "010-62345678",
        "0755-26781234",
        "0755 26781234",
        "02162345678",
        "62345678",
        "021 6234 5678",
        "021-6234-5678",
        "0571-8888888",
        # Typed with a Chinese input method in full-width mode.
        "１３８００１３８０００",
        "１３８　００１３　８０００",
        "０１０－６２３４５６７８",
    ],
)
def test_phone_numbers_are_removed(phone: str) -> None:
    text = f"请回电{phone}，谢谢"
    assert redact(text) == f"请回电{MASK}，谢谢"


@pytest.mark.parametrize(
    "number",
    [
        "110101199003077777",
        "11010119900307777X",
        "11010119900307777x",
        "１１０１０１１９９００３０７７７７Ｘ",
    ],
)
def test_id_card_numbers_are_removed(number: str) -> None:
    assert redact(f"身份证号{number}。") == f"身份证号{MASK}。"


def test_names_and_other_identifiers_are_removed_longest_first() -> None:
    text = "张三丰住幸福里小区3栋，张三丰的单位是市第一中学，联系人张三丰。"
    assert redact(text, "张三丰", "幸福里小区3栋", "市第一中学") == (
        f"{MASK}住{MASK}，{MASK}的单位是{MASK}，联系人{MASK}。"
    )
    # "张三" inside "张三丰" must not leave "丰" behind.
    assert redact("张三丰反映", "张三", "张三丰") == f"{MASK}反映"


def test_blank_and_one_character_identifiers_are_ignored() -> None:
    text = "王先生反映路灯不亮"
    assert redact(text, "", "  ", "王") == text


def test_a_full_complaint_keeps_everything_but_the_identity() -> None:
    text = (
        "投诉人李四（电话138-0013-8000，身份证110101199003077777，"
        "固话010-62345678）反映：2026年11月20日在滨河路3号窗口办理居住证，"
        "被多收费用200元，工作人员工号A1024，案件编号TS202611200001。"
    )
    assert redact(text, "李四") == (
        f"投诉人{MASK}（电话{MASK}，身份证{MASK}，固话{MASK}）反映：2026年11月20日在滨河路3号窗口"
        "办理居住证，被多收费用200元，工作人员工号A1024，案件编号TS202611200001。"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026年11月20日上午9点",
        "多收二十元停车费",
        "罚款200元，滞纳金35.5元",
        "案件编号TS202611200001",
        "滨河路88号3栋2单元501室",
        "工号A1024",
        "2026-11-20 09:30",
        "２０２６年１１月２０日",
        "",
    ],
)
def test_other_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


@given(st.text(alphabet=st.sampled_from("路灯坏了没人修小区物业收费窗口，。 ABCxyz"), max_size=60))
def test_text_without_digits_or_identifiers_is_unchanged(text: str) -> None:
    assert redact(text, "") == text


@given(
    prefix=st.text(alphabet="反映问题，：", max_size=8),
    mobile=st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
    sep=st.sampled_from(["", " ", "-"]),
)
def test_any_mobile_number_is_removed(prefix: str, mobile: str, sep: str) -> None:
    written = f"{mobile[:3]}{sep}{mobile[3:7]}{sep}{mobile[7:]}"
    redacted = redact(f"{prefix}{written}。")
    assert redacted == f"{prefix}{MASK}。"
    assert mobile[3:7] not in redacted
