"""Held-out evaluation of the routing model: a stratified split that keeps near-duplicate
messages on one side, and the scores (accuracy, per-label and macro F1). Pure."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

Example = TypeVar("Example", bound=tuple[str, str])


def stratified_split(
    examples: Sequence[Example],
    test_fraction: float,
    seed: int,
    *,
    groups: Sequence[int] | None = None,
) -> tuple[list[Example], list[Example]]:
    """(train, test) with about ``test_fraction`` of every label in test; the same seed gives
    the same split. Examples sharing a group number (e.g. re-posts of one message) land on
    the same side; a group is filed under the label of its first example."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    if groups is not None and len(groups) != len(examples):
        raise ValueError("groups must have one entry per example")
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(examples)):
        members[index if groups is None else groups[index]].append(index)
    by_label: dict[str, list[int]] = defaultdict(list)
    for group, indices in members.items():
        by_label[examples[indices[0]][1]].append(group)
    rng = random.Random(seed)
    test_indices: set[int] = set()
    for label in sorted(by_label):
        label_groups = sorted(by_label[label])
        rng.shuffle(label_groups)
        wanted = round(test_fraction * sum(len(members[g]) for g in label_groups))
        taken = 0
        for group in label_groups:
            if taken >= wanted:
                break
            test_indices.update(members[group])
            taken += len(members[group])
    train = [example for i, example in enumerate(examples) if i not in test_indices]
    test = [example for i, example in enumerate(examples) if i in test_indices]
    return train, test


def near_duplicate_groups(
    texts: Sequence[str], threshold: float = 0.8, chunk: int = 256
) -> list[int]:
    """A group number per text: texts whose character-bigram TF-IDF cosine reaches
    ``threshold`` (directly or through a chain) share one. Compared ``chunk`` rows at a time
    so memory stays small."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415 - scikit-learn loads only when duplicates are grouped

    if not texts:
        return []
    matrix = TfidfVectorizer(analyzer="char", ngram_range=(2, 2)).fit_transform(texts).tocsr()
    parent = list(range(len(texts)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for start in range(0, len(texts), chunk):
        block = (matrix[start : start + chunk] @ matrix.T).tocoo()
        close = block.data >= threshold
        for row, col in zip(block.row[close], block.col[close], strict=True):
            parent[root(int(col))] = root(int(row) + start)
    return [root(index) for index in range(len(texts))]


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    _check_lengths(truth, predicted)
    if not truth:
        return 0.0
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def per_label_f1(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, float]:
    """F1 of every label (those of ``truth`` and ``predicted`` unless given); a label with no
    true and no predicted example scores 0."""
    _check_lengths(truth, predicted)
    names = sorted(set(truth) | set(predicted)) if labels is None else list(labels)
    scores: dict[str, float] = {}
    for label in names:
        hits = sum(t == p == label for t, p in zip(truth, predicted, strict=True))
        claimed = sum(p == label for p in predicted)
        actual = sum(t == label for t in truth)
        scores[label] = 2 * hits / (claimed + actual) if claimed + actual else 0.0
    return scores


def macro_f1(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> float:
    """Unweighted mean of the per-label F1 scores."""
    scores = per_label_f1(truth, predicted, labels)
    return sum(scores.values()) / len(scores) if scores else 0.0


def _check_lengths(truth: Sequence[str], predicted: Sequence[str]) -> None:
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions")
