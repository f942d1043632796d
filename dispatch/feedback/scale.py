"""The national 好差评 five-level satisfaction scale and the keys a citizen presses. Pure."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"


LEVEL_LABELS = {
    Level.VERY_SATISFIED: "非常满意",
    Level.SATISFIED: "满意",
    Level.BASICALLY_SATISFIED: "基本满意",
    Level.DISSATISFIED: "不满意",
    Level.VERY_DISSATISFIED: "非常不满意",
}

# The key pressed on the automatic call-back: 1 非常满意 … 5 非常不满意.
DIGIT_TO_LEVEL = {str(index + 1): level for index, level in enumerate(Level)}

# These put the case in front of a supervisor to reopen (重办).
DISSATISFIED = frozenset({Level.DISSATISFIED, Level.VERY_DISSATISFIED})
