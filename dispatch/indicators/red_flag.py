"""The 红旗窗口 rule of seed 003 (唐政服〔2022〕37号, 六(二)2): a window complained about
**twice or more** (含二次) in the year, the complaint found true on investigation, may not take
part in that year's 红旗窗口 selection; **three times or more** and its head explains the
causes in writing to the centre and to the window's unit, with rectification measures.

Which complaints count: 投诉 cases about the window (``complained_unit_id``) received in the
year (local dates in the configured zone), whose unit reply passed the centre's review with
a finding in ``counting`` — 属实 and, by default, 部分属实 (the complaint was substantiated
in part). One found 不属实 does not count; one not yet reviewed is listed as pending and does
not count yet. A merged complaint (并单) counts once, in the case it joined; a withdrawn or
rejected one (不予受理: outside the complaint scope) not at all. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dispatch.cases.lifecycle import Action
from dispatch.cases.registration import CaseType
from dispatch.handling.steps import Finding
from dispatch.indicators.clocks import local_date
from dispatch.indicators.figures import Definition, Measure, Subject
from dispatch.indicators.rows import CaseFile

INELIGIBLE_FROM = 2
EXPLANATION_FROM = 3
COUNTING = frozenset({Finding.TRUE, Finding.PARTLY_TRUE})
COMPLAINTS = frozenset({CaseType.COMPLAINT})

RULE = Definition(
    "windows.red_flag",
    "红旗窗口评比资格",
    "年内被投诉且经查属实（含部分属实）2次及以上的窗口不得参加当年“红旗窗口”评比；"
    "3次及以上的，窗口负责人须向中心和本单位书面说明原因并提出整改措施；"
    "经查不属实及尚未审核的投诉不计，并单件只计一次（唐政服〔2022〕37号）",
    Measure.COUNT,
    Subject.CASE,
    __name__,
)
DEFINITIONS = (RULE,)


@dataclass(frozen=True)
class WindowStanding:
    """One window's year: the complaints behind its standing, by finding."""

    window_id: str
    year: int
    substantiated: tuple[str, ...]  # found 属实 (部分属实): these count
    unsubstantiated: tuple[str, ...]  # found 不属实
    pending: tuple[str, ...]  # no reviewed finding yet
    ineligible_from: int = INELIGIBLE_FROM
    explanation_from: int = EXPLANATION_FROM

    @property
    def count(self) -> int:
        return len(self.substantiated)

    @property
    def eligible(self) -> bool:
        """May take part in this year's 红旗窗口 selection."""
        return self.count < self.ineligible_from

    @property
    def explanation_owed(self) -> bool:
        """The window's head owes a written explanation and rectification measures."""
        return self.count >= self.explanation_from

    @property
    def verdict(self) -> str:
        if self.explanation_owed:
            return "不得参评，须书面说明并提出整改措施"
        return "可参评" if self.eligible else "不得参评"


def finding(file: CaseFile, as_of: dt.datetime | None = None) -> str | None:
    """The finding of the latest unit reply that passed review (by ``as_of``), if any."""
    passed = [
        reply
        for reply in file.replies
        if reply.review == "passed" and (as_of is None or (reply.reviewed_at or reply.at) <= as_of)
    ]
    if not passed:
        return None
    return max(passed, key=lambda reply: reply.reviewed_at or reply.at).finding


def standings(
    files: Sequence[CaseFile],
    year: int,
    zone: ZoneInfo,
    windows: Iterable[str] = (),
    as_of: dt.datetime | None = None,
    counting: Collection[str] = COUNTING,
    ineligible_from: int = INELIGIBLE_FROM,
    explanation_from: int = EXPLANATION_FROM,
) -> list[WindowStanding]:
    """Each window's standing for ``year``, the most substantiated first: every unit in
    ``windows`` (the service windows, complained about or not) and no other; with no
    ``windows``, every unit a complaint names."""
    found: dict[str, tuple[list[str], list[str], list[str]]] = {w: ([], [], []) for w in windows}
    listed = bool(found)
    for file in files:
        case = file.case
        window = case.complained_unit_id
        if (
            window is None
            or (listed and window not in found)
            or case.case_type not in COMPLAINTS
            or local_date(case.received_at, zone).year != year
        ):
            continue
        true, untrue, pending = found.setdefault(window, ([], [], []))
        if file.left_by(as_of) or file.first_of({Action.REJECT}, as_of) is not None:
            continue
        result = finding(file, as_of)
        if result is None:
            pending.append(file.id)
        elif result in counting:
            true.append(file.id)
        else:
            untrue.append(file.id)
    result_list = [
        WindowStanding(
            window,
            year,
            tuple(sorted(true)),
            tuple(sorted(untrue)),
            tuple(sorted(pending)),
            ineligible_from,
            explanation_from,
        )
        for window, (true, untrue, pending) in found.items()
    ]
    return sorted(result_list, key=lambda standing: (-standing.count, standing.window_id))
