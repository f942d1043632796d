"""Character-bigram likeness, and the knowledge base's score built on it (no database)."""

from __future__ import annotations

import pytest

from dispatch.cases.models import KnowledgeEntry
from dispatch.knowledge.entries import ANSWER_WEIGHT, KEYWORD_WEIGHT, QUESTION_WEIGHT, score
from dispatch.knowledge.text_similarity import bigrams, dice, matched, normalise


def entry(
    question: str = "居住证怎么办理",
    answer: str = "携带身份证到派出所窗口申请",
    keywords: str = "居住证 暂住证",
) -> KnowledgeEntry:
    return KnowledgeEntry(question=question, answer=answer, keywords=keywords)


# --- text_similarity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ，def！", "abcdef"),
        ("居住证 怎么 办理？", "居住证怎么办理"),
        ("ETC_卡", "etc卡"),
        ("１２３４５", "12345"),
        ("，。！？", ""),
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("居住证", {"居住", "住证"}),
        ("居住，证", {"居住", "住证"}),
        ("abab", {"ab", "ba"}),
        ("证", {"证"}),
        ("！证！", {"证"}),
        ("", set()),
        ("，。", set()),
    ],
)
def test_bigrams(text: str, expected: set[str]) -> None:
    assert bigrams(text) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"ab", "bc"}, {"ab", "bc"}, 1.0),
        ({"ab", "bc"}, {"ab", "cd"}, 0.5),
        ({"ab"}, {"ab", "cd", "de"}, 0.5),
        ({"ab"}, {"cd"}, 0.0),
        (set(), {"ab"}, 0.0),
        ({"ab"}, set(), 0.0),
        (set(), set(), 0.0),
    ],
)
def test_dice(a: set[str], b: set[str], expected: float) -> None:
    assert dice(a, b) == pytest.approx(expected)


def test_matched_counts_each_query_bigram_with_its_best_field() -> None:
    query = {"ab", "cd", "ef", "zz"}
    fields = [({"ab", "cd"}, 1.0), ({"cd", "ef"}, 0.5)]
    assert matched(query, fields) == pytest.approx(2.5)


def test_matched_takes_a_generator_of_fields() -> None:
    fields = (({gram}, weight) for gram, weight in [("ab", 0.5), ("cd", 2.0)])
    assert matched({"ab", "cd"}, fields) == pytest.approx(2.5)


def test_matched_without_fields_or_query_is_zero() -> None:
    assert matched({"ab"}, []) == 0.0
    assert matched(set(), [({"ab"}, 1.0)]) == 0.0


# --- knowledge.score ---------------------------------------------------------------------


def test_weights() -> None:
    assert (QUESTION_WEIGHT, KEYWORD_WEIGHT, ANSWER_WEIGHT) == (1.0, 1.0, 0.5)


def test_two_shared_bigrams_make_a_hit_whatever_else_is_said() -> None:
    assert score("我想办居住证", entry()) == pytest.approx(2.0)
    assert score("喂你好，我想问一下居住证的事情，谢谢", entry()) == pytest.approx(2.0)


def test_keywords_count_like_the_question() -> None:
    assert score("暂住证", entry()) == pytest.approx(2.0)


def test_keywords_are_separate_words() -> None:
    # "证暂" would only exist if the keywords were run together.
    assert score("证暂", entry()) == 0.0


def test_answer_counts_half() -> None:
    assert score("派出所", entry()) == pytest.approx(1.0)


def test_a_bigram_counts_once_with_its_best_field() -> None:
    e = entry(question="居住证", answer="居住证在派出所办", keywords="")
    assert score("居住证", e) == pytest.approx(2.0)
    assert score("派出所", e) == pytest.approx(1.0)


def test_score_sums_over_question_keywords_and_answer() -> None:
    # 居住, 住证 (question) + 暂住 (keyword) + 派出, 出所 (answer, half each)
    assert score("居住证暂住派出所", entry()) == pytest.approx(4.0)


def test_score_folds_width_and_case() -> None:
    e = entry(question="ETC卡怎么办", answer="到银行办", keywords="")
    assert score("ｅｔｃ卡", e) == pytest.approx(3.0)  # et, tc, c卡


def test_no_overlap_scores_zero() -> None:
    assert score("路灯坏了", entry()) == 0.0
    assert score("", entry()) == 0.0


def test_empty_keywords_are_fine() -> None:
    assert score("居住证", entry(keywords="")) == pytest.approx(2.0)
