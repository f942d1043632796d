"""Numbers people understand: a score shown as 高/中/低, its number on hover. Registered as
Jinja filters on the console's templates (``api.pages``); each returns safe markup."""

from __future__ import annotations

from markupsafe import Markup, escape

LEVELS = (("high", "高"), ("middle", "中"), ("low", "低"))


def _badge(level: int, title: str) -> Markup:
    kind, label = LEVELS[level]
    return Markup('<span class="level level-{}" title="{}">{}</span>').format(
        kind, escape(title), label
    )


def level_of(value: float, high: float, middle: float) -> int:
    """0 (高) at or above ``high``, 1 (中) at or above ``middle``, else 2 (低)."""
    return 0 if value >= high else 1 if value >= middle else 2


def confidence(value: float) -> Markup:
    """A routing suggestion's confidence (a probability)."""
    return _badge(level_of(value, 0.7, 0.4), f"置信度 {value * 100:.0f}%")


def likeness(value: float) -> Markup:
    """How alike two cases' texts are (character-bigram Dice, 0..1; shown from 0.3)."""
    return _badge(level_of(value, 0.6, 0.4), f"相似度 {value * 100:.0f}%")


def knowledge_match(value: float) -> Markup:
    """A knowledge entry's match with the query (weighted shared bigrams; a hit from 2)."""
    return _badge(level_of(value, 6.0, 3.0), f"匹配分 {value:g}")


FILTERS = {
    "confidence_level": confidence,
    "likeness_level": likeness,
    "knowledge_level": knowledge_match,
}
