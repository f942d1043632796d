"""Chinese text likeness by character bigrams: no word segmenter needed, robust to the
small differences between what two callers (or a caller and ASR) say. Pure."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

_KEEP = re.compile(r"[\w]+")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, punctuation and spaces dropped."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(_KEEP.findall(folded)).replace("_", "")


@functools.lru_cache(maxsize=8192)
def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of the normalised text; a single character stands for itself.
    Cached: the knowledge base and recent cases are compared with every query."""
    clean = normalise(text)
    if len(clean) == 1:
        return frozenset({clean})
    return frozenset(clean[i : i + 2] for i in range(len(clean) - 1))


def dice(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def matched(query: AbstractSet[str], fields: Iterable[tuple[AbstractSet[str], float]]) -> float:
    """How many of the query's bigrams the fields contain, each counted with the weight of
    the best field that has it."""
    weighted = list(fields)
    return sum(
        max((weight for grams, weight in weighted if gram in grams), default=0.0) for gram in query
    )
