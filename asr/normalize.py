"""Chinese transcript clean-up, kept beside the raw text. Pure functions, no I/O.

- Spaces the recogniser puts beside Chinese characters are removed (kept between Latin words).
- Spoken digit strings become digits where they are numbers: phone and ID numbers read digit by
  digit (幺三八…), years (二零二六年), dates, house numbers and amounts before their unit
  (十一月二十一日, 三号楼, 一百零八号, 两千元). Words that merely contain a numeral character
  (一些, 一定, 一下, 统一, 第一, 十分, 万一, 好一点, 三三两两) are left alone.
"""

from __future__ import annotations

import re

DIGITS = {
    "零": 0,
    "〇": 0,
    "幺": 1,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
MULTIPLIERS = {"十": 10, "百": 100, "千": 1000}
TEN_THOUSAND = "万"

# Units after which a numeral is a number (address, date, amount, count).
ADDRESS_DATE_UNITS = (
    "号楼",
    "单元",
    "号线",
    "号",
    "楼",
    "室",
    "层",
    "栋",
    "幢",
    "弄",
    "巷",
    "年",
    "月",
    "日",
    "路",
    "街",
    "区",
    "期",
    "排",
    "座",
)
AMOUNT_UNITS = (
    "元",
    "块钱",
    "万元",
    "岁",
    "天",
    "个月",
    "小时",
    "分钟",
    "公里",
    "米",
    "平方米",
    "平米",
    "户",
    "人",
    "次",
    "点",
    "辆",
    "份",
    "张",
    "年级",
)
# Bare 一/两 read as words before these ("一天", "一点", "两个月"…): converted only before
# address and date units.
WORDY = {"一", "两"}
# Fixed expressions made of digit characters that are not numbers.
IDIOMS = ("三三两两", "一五一十", "七七八八", "一一", "三五成群", "九九归一")

_NUMERAL = "零〇幺一二两三四五六七八九十百千万"
_UNITS = sorted(ADDRESS_DATE_UNITS + AMOUNT_UNITS, key=len, reverse=True)
_NUMBER_BEFORE_UNIT = re.compile(f"([{_NUMERAL}]+)({'|'.join(map(re.escape, _UNITS))})")
_DIGIT_RUN = re.compile("[零〇幺一二三四五六七八九]{3,}[xX]?")
_HAN = "\u3400-\u9fff\uf900-\ufaff"
# A space with a Chinese character on either side goes; between Latin words it stays.
_SPACE_BESIDE_HAN = re.compile(rf"(?<=[{_HAN}])\s+|\s+(?=[{_HAN}])")


def digits_of(numeral: str) -> str:
    """Digit-by-digit reading: 幺三八 → 138."""
    return "".join(str(DIGITS[ch]) for ch in numeral)


def value_of(numeral: str) -> int:
    """Positional reading: 二十一 → 21, 一百零八 → 108, 两千 → 2000, 三万五千 → 35000."""
    if TEN_THOUSAND in numeral:
        high, _, low = numeral.partition(TEN_THOUSAND)
        return value_of(high or "一") * 10_000 + (value_of(low) if low else 0)
    total, digit = 0, None
    for ch in numeral:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch in MULTIPLIERS:
            total += (1 if digit is None else digit) * MULTIPLIERS[ch]
            digit = None
        else:
            raise ValueError(f"not a numeral: {numeral!r}")
    return total + (digit or 0)


def _is_positional(numeral: str) -> bool:
    return any(ch in MULTIPLIERS or ch == TEN_THOUSAND for ch in numeral)


def _convert_numeral(numeral: str) -> str:
    return str(value_of(numeral)) if _is_positional(numeral) else digits_of(numeral)


_IDIOM_PATTERNS = [
    re.compile(f"(?<![{_NUMERAL}]){re.escape(idiom)}(?![{_NUMERAL}])") for idiom in IDIOMS
]


def _protect_idioms(text: str) -> tuple[str, dict[str, str]]:
    """Hide idioms standing on their own (not inside a longer run of numerals)."""
    saved: dict[str, str] = {}
    for index, (idiom, pattern) in enumerate(zip(IDIOMS, _IDIOM_PATTERNS, strict=True)):
        token = f"\x00{index}\x00"
        text, count = pattern.subn(token, text)
        if count:
            saved[token] = idiom
    return text, saved


def _before_unit(match: re.Match[str]) -> str:
    numeral, unit = match.group(1), match.group(2)
    if numeral in WORDY and unit not in ADDRESS_DATE_UNITS:
        return match.group(0)
    if numeral[0] in "万百千":  # 万一…, 百年…: a word, not a number read aloud
        return match.group(0)
    try:
        return _convert_numeral(numeral) + unit
    except (KeyError, ValueError):
        return match.group(0)


def _digit_run(match: re.Match[str]) -> str:
    run = match.group(0)
    suffix = run[-1].upper() if run[-1] in "xX" else ""
    return digits_of(run.rstrip("xX")) + suffix


def numbers_to_digits(text: str) -> str:
    protected, saved = _protect_idioms(text)
    converted = _NUMBER_BEFORE_UNIT.sub(_before_unit, protected)
    converted = _DIGIT_RUN.sub(_digit_run, converted)
    for token, idiom in saved.items():
        converted = converted.replace(token, idiom)
    return converted


def remove_cjk_spaces(text: str) -> str:
    return _SPACE_BESIDE_HAN.sub("", text.strip())


def clean(text: str) -> str:
    """The clean-up applied to every transcript: spaces first, then numbers."""
    return remove_cjk_spaces(numbers_to_digits(remove_cjk_spaces(text)))
