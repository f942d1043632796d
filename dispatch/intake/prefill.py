"""What the registration form can fill in from a call and its transcript: the numbers the
caller spoke, and suggestions for type, subject and title. Pure; the operator decides."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dispatch.cases.registration import CaseType, normalise_phone, valid_phone

_DIGIT_WORDS = {
    "零": "0",
    "〇": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_DIGIT_RUN = re.compile(r"[+＋0-9０-９零〇洞一幺二两三四五六七八九\s\-－]{5,}")

# Order matters: the first type whose words appear wins; the word is shown as the reason.
_TYPE_WORDS: tuple[tuple[CaseType, tuple[str, ...]], ...] = (
    (CaseType.REPORT, ("举报", "贪污", "受贿", "索贿", "吃拿卡要", "违法排污", "偷排")),
    (
        CaseType.COMPLAINT,
        ("投诉", "态度差", "态度恶劣", "不作为", "乱收费", "推诿", "扰民", "刁难", "拖欠"),
    ),
    (CaseType.HELP, ("求助", "救助", "帮帮", "困难", "走失")),
    (CaseType.PRAISE, ("表扬", "感谢", "点赞", "锦旗")),
    (CaseType.SUGGESTION, ("建议", "希望能", "能不能增加", "提议")),
    (CaseType.CONSULTATION, ("咨询", "请问", "怎么办理", "如何办理", "需要什么材料", "在哪里办")),
)

_ORG = re.compile(
    r"[\u4e00-\u9fa5A-Za-z0-9]{1,14}?"
    r"(?:局|委员会|委|办公室|办|中心|医院|卫生院|学校|小学|中学|大学|幼儿园|公司|集团|派出所|"
    r"街道办事处|街道|镇政府|乡政府|政府|社区|居委会|村委会|窗口|物业|银行|法院|检察院|"
    r"车站|商场|超市|酒店|饭店|餐馆|工厂|厂)"
)
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


@dataclass(frozen=True)
class Suggestion:
    value: str
    reason: str


def spoken_numbers(text: str) -> list[str]:
    """Phone-like numbers said in the call, in Arabic digits or Chinese digit words,
    valid phone numbers first."""
    found: list[str] = []
    for run in _DIGIT_RUN.findall(text):
        digits = "".join(_DIGIT_WORDS.get(ch, ch) for ch in run)
        digits = normalise_phone(re.sub(r"[\s\-－]", "", digits))
        if len(digits) >= 5 and digits.isdigit() and digits not in found:
            found.append(digits)
    return sorted(found, key=lambda number: not valid_phone(number))


def suggest_type(text: str) -> Suggestion | None:
    for case_type, words in _TYPE_WORDS:
        for word in words:
            if word in text:
                return Suggestion(case_type.value, word)
    return None


def suggest_subjects(text: str, limit: int = 3) -> list[str]:
    """Names of bodies mentioned (…局, …医院, …窗口, …物业), in order of first mention."""
    found: list[str] = []
    for match in _ORG.finditer(text):
        name = re.split(r"投诉|举报|反映|关于|咨询|请问|联系|找|问", match.group(0))[-1]
        name = re.sub(r"^(?:我们|我|你们|就是|那个|这个|在|去|到|给|跟|被|向|对|是)+", "", name)
        if len(name) >= 2 and name not in found:
            found.append(name)
    return found[:limit]


def suggest_title(text: str, limit: int = 30) -> str:
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    return first[:limit]
