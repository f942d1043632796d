"""Any case indicator broken down by channel (渠道), type (类型), category (类别), lead unit
(主办单位), the window complained about (被投诉窗口) or the operator who registered the case
(登记人). Calls are broken down by the operator who answered them
(``calls.by_operator``). Pure.

By lead unit, a case belongs to every unit that was ever its lead, and the indicator is
given that unit's id (``unit_id``), so that each row counts for the unit it names (a case
returned by one unit and handled by another counts its return for the first, its closing
for the second). By the other dimensions, cases are simply grouped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

from dispatch.cases.registration import CHANNEL_LABELS, TYPE_LABELS, CaseType, Channel
from dispatch.indicators.figures import Figure
from dispatch.indicators.rows import CaseFile


class Dimension(StrEnum):
    CHANNEL = "channel"
    TYPE = "type"
    CATEGORY = "category"
    LEAD_UNIT = "lead_unit"
    WINDOW = "window"
    OPERATOR = "operator"


DIMENSION_LABELS = {
    Dimension.CHANNEL: "渠道",
    Dimension.TYPE: "类型",
    Dimension.CATEGORY: "类别",
    Dimension.LEAD_UNIT: "主办单位",
    Dimension.WINDOW: "被投诉窗口",
    Dimension.OPERATOR: "登记人",
}

Compute = Callable[[Sequence[CaseFile], str | None], Figure]
"""An indicator over some cases; the second argument is the unit id when broken down by
lead unit, else ``None``."""


def keys_of(file: CaseFile, dimension: Dimension) -> tuple[str, ...]:
    """The groups a case falls in (by lead unit: each unit that was its lead; none if it
    never reached a unit)."""
    case = file.case
    match dimension:
        case Dimension.CHANNEL:
            return (case.channel,)
        case Dimension.TYPE:
            return (case.case_type,)
        case Dimension.CATEGORY:
            return (case.category,)
        case Dimension.LEAD_UNIT:
            return tuple(sorted(file.lead_units()))
        case Dimension.WINDOW:
            return (case.complained_unit_id or "",)
        case _:
            return (case.registered_by,)


def group(files: Sequence[CaseFile], dimension: Dimension) -> dict[str, list[CaseFile]]:
    groups: dict[str, list[CaseFile]] = {}
    for file in files:
        for key in keys_of(file, dimension):
            groups.setdefault(key, []).append(file)
    return dict(sorted(groups.items()))


def breakdown(
    files: Sequence[CaseFile], dimension: Dimension, compute: Compute
) -> dict[str, Figure]:
    """``compute`` for each group, keyed as ``keys_of`` names them (in key order)."""
    unit = dimension is Dimension.LEAD_UNIT
    return {
        key: compute(subset, key if unit else None)
        for key, subset in group(files, dimension).items()
    }


def key_label(dimension: Dimension, key: str) -> str:
    """A channel's or type's Chinese name; an empty key as 未分类/未指定; other keys (unit
    ids, categories, user names) as they are, for the page to name."""
    if dimension is Dimension.CHANNEL and key in set(Channel):
        return CHANNEL_LABELS[Channel(key)]
    if dimension is Dimension.TYPE and key in set(CaseType):
        return TYPE_LABELS[CaseType(key)]
    if not key:
        return "未分类" if dimension is Dimension.CATEGORY else "未指定"
    return key
