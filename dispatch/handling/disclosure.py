"""What a handling unit may see of a case. Pure.

The complainant's identity reaches a unit only when the complainant agreed. It never
reaches the unit complained about (or the unit of the person complained about), and never
for 举报 (whistle-blowing); nor does the complainant's evidence (信访工作条例 Art. 30).
Where the identity is hidden it is also taken out of the free text the unit reads."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dispatch.cases.registration import CaseType

MASK = "＊＊＊"
HIDDEN_NAME = "（诉求人信息已保密）"
# Mobile numbers, landlines with or without area code, written with or without separators
# (also inside the local number: 021 6234 5678), in ASCII or full-width characters (``\d``
# matches both; a Chinese input method in full-width mode types １３８…, －, and 　).
_SEP = "[- －　]?"
PHONE_LIKE = re.compile(
    rf"(?<!\d)(?:[+＋]?[8８][6６]{_SEP})?"
    rf"(?:[1１][3-9３-９]\d{_SEP}\d{{4}}{_SEP}\d{{4}}"
    rf"|[0０]\d{{2,3}}{_SEP}\d{{3,4}}{_SEP}\d{{4}}|\d{{7,8}})(?!\d)"
)
ID_CARD = re.compile(r"(?<![0-9A-Za-zＡ-Ｚａ-ｚ])\d{17}[\dXxＸｘ](?![0-9A-Za-zＡ-Ｚａ-ｚ])")


@dataclass(frozen=True)
class CaseParties:
    """The facts of a case that decide what a unit may see."""

    case_type: str
    anonymous: bool
    confidential: bool
    identity_consent: bool
    complained_unit_id: str | None


@dataclass(frozen=True)
class Disclosure:
    identity: bool
    evidence: bool


def for_unit(parties: CaseParties, unit_id: str) -> Disclosure:
    whistle_blowing = parties.case_type == CaseType.REPORT.value
    complained_about = (
        parties.complained_unit_id is not None and parties.complained_unit_id == unit_id
    )
    if whistle_blowing or complained_about:
        return Disclosure(identity=False, evidence=False)
    shared = parties.identity_consent and not parties.confidential and not parties.anonymous
    return Disclosure(identity=shared, evidence=True)


def redact(text: str, *identifiers: str) -> str:
    """``text`` without the given identifiers (name, phone, address, work unit), phone
    numbers and ID card numbers."""
    for value in sorted(
        {v.strip() for v in identifiers if v and len(v.strip()) >= 2}, key=len, reverse=True
    ):
        text = text.replace(value, MASK)
    text = ID_CARD.sub(MASK, text)
    return PHONE_LIKE.sub(MASK, text)
