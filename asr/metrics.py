"""Character error rate, for benchmarks. Pure."""

from __future__ import annotations

import unicodedata


def comparable(text: str) -> str:
    """Characters that count: no spaces, no punctuation, case folded."""
    return "".join(
        ch
        for ch in text.casefold()
        if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def edit_distance(reference: str, hypothesis: str) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref_char in enumerate(reference, start=1):
        current = [i]
        for j, hyp_char in enumerate(hypothesis, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_char != hyp_char))
            )
        previous = current
    return previous[-1]


def character_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(errors, reference length) after :func:`comparable`; sum these over a corpus."""
    ref, hyp = comparable(reference), comparable(hypothesis)
    return edit_distance(ref, hyp), len(ref)
