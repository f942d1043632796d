"""Every indicator's definition in one list, in the order pages show them: the footnotes'
source, and the key a page or a bulletin names an indicator by."""

from __future__ import annotations

from dispatch.indicators import (
    calls,
    feedback,
    handling,
    hot_topics,
    intake,
    petitions,
    red_flag,
)
from dispatch.indicators.figures import Definition

ALL: tuple[Definition, ...] = (
    *calls.DEFINITIONS,
    *intake.DEFINITIONS,
    *handling.DEFINITIONS,
    *feedback.DEFINITIONS,
    *petitions.DEFINITIONS,
    *red_flag.DEFINITIONS,
    *hot_topics.DEFINITIONS,
)
BY_KEY: dict[str, Definition] = {definition.key: definition for definition in ALL}


def definition(key: str) -> Definition:
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown indicator {key!r}") from None
