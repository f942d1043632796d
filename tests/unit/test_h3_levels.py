"""Scores shown as people read them: 高/中/低 with the number on hover (api.levels)."""

from __future__ import annotations

import pytest
from jinja2 import Environment

from api import levels


@pytest.mark.parametrize(
    ("value", "word", "title"),
    [
        (0.93, "高", "置信度 93%"),
        (0.7, "高", "置信度 70%"),
        (0.55, "中", "置信度 55%"),
        (0.12, "低", "置信度 12%"),
    ],
)
def test_a_routing_confidence_is_a_word_with_its_number_on_hover(
    value: float, word: str, title: str
) -> None:
    shown = str(levels.confidence(value))
    assert f'title="{title}">{word}</span>' in shown
    assert str(round(value * 100)) not in shown.split(">", 1)[1]  # no raw number in the text


def test_likeness_and_knowledge_matches_have_their_own_scales() -> None:
    assert ">高<" in levels.likeness(0.8) and ">中<" in levels.likeness(0.45)
    assert ">低<" in levels.likeness(0.31) and "相似度 31%" in levels.likeness(0.31)
    assert ">高<" in levels.knowledge_match(7.5) and ">中<" in levels.knowledge_match(3.0)
    assert ">低<" in levels.knowledge_match(2.0) and "匹配分 2" in levels.knowledge_match(2.0)


def test_the_filters_render_safely_in_an_autoescaping_template() -> None:
    env = Environment(autoescape=True)
    env.filters.update(levels.FILTERS)
    rendered = env.from_string("{{ 0.42|confidence_level }} {{ name }}").render(name="<b>")
    assert rendered.startswith('<span class="level level-middle" title="置信度 42%">中</span>')
    assert rendered.endswith("&lt;b&gt;")
