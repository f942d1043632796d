"""The knowledge base for answers on the spot (即办): entries, and a search that works for
Chinese without a word segmenter (character bigrams over question, keywords and answer)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ids import is_id
from dispatch.cases.models import KnowledgeEntry
from dispatch.cases.registration import FieldError, Invalid, clean_text
from dispatch.knowledge.text_similarity import bigrams, matched

QUESTION_WEIGHT, KEYWORD_WEIGHT, ANSWER_WEIGHT = 1.0, 1.0, 0.5
LIMITS = {"question": 300, "answer": 5000, "keywords": 300, "owner_unit": 128}


@dataclass(frozen=True)
class Hit:
    entry: KnowledgeEntry
    score: float


def score(query: str, entry: KnowledgeEntry) -> float:
    """Weighted count of the query's character bigrams found in the entry: two shared
    bigrams (e.g. 居住 and 住证) already make a hit, whatever else the caller said."""
    return matched(
        bigrams(query),
        [
            (bigrams(entry.question), QUESTION_WEIGHT),
            (
                frozenset().union(*(bigrams(word) for word in entry.keywords.split())),
                KEYWORD_WEIGHT,
            ),
            (bigrams(entry.answer), ANSWER_WEIGHT),
        ],
    )


def search(session: Session, query: str, limit: int = 10, threshold: float = 2.0) -> list[Hit]:
    """Active entries matching ``query``, best first; an empty query lists them all."""
    entries = session.scalars(
        select(KnowledgeEntry)
        .where(KnowledgeEntry.active)
        .order_by(KnowledgeEntry.updated_at.desc())
    )
    if not query.strip():
        return [Hit(entry, 0.0) for entry in list(entries)[:limit]]
    needed = min(threshold, len(bigrams(query)))
    hits = [Hit(entry, round(score(query, entry), 3)) for entry in entries]
    hits = [hit for hit in hits if hit.score >= needed]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[:limit]


def find(session: Session, entry_id: str) -> KnowledgeEntry | None:
    """An entry by id, active or retired; None if there is none."""
    return session.get(KnowledgeEntry, entry_id) if is_id(entry_id) else None


def active_entry(session: Session, entry_id: str) -> KnowledgeEntry | None:
    entry = find(session, entry_id)
    return entry if entry is not None and entry.active else None


def validated(fields: dict[str, object]) -> dict[str, str]:
    values = {name: clean_text(fields.get(name, "")) for name in LIMITS}
    errors = {
        name: FieldError(f"不能超过{limit}个字", f"at most {limit} characters")
        for name, limit in LIMITS.items()
        if len(values[name]) > limit
    }
    if not values["question"]:
        errors.setdefault("question", FieldError("请填写问题", "a question is required"))
    if not values["answer"]:
        errors.setdefault("answer", FieldError("请填写答复内容", "an answer is required"))
    if errors:
        raise Invalid(errors)
    values["keywords"] = " ".join(values["keywords"].replace("，", " ").replace(",", " ").split())
    return values


def create(
    session: Session, fields: dict[str, object], actor: str, now: dt.datetime
) -> KnowledgeEntry:
    entry = KnowledgeEntry(**validated(fields), updated_by=actor, updated_at=now)
    session.add(entry)
    session.flush()
    return entry


def update(
    session: Session, entry: KnowledgeEntry, fields: dict[str, object], actor: str, now: dt.datetime
) -> KnowledgeEntry:
    for name, value in validated(fields).items():
        setattr(entry, name, value)
    entry.updated_by, entry.updated_at = actor, now
    session.flush()
    return entry


def retire(entry: KnowledgeEntry, actor: str, now: dt.datetime) -> None:
    """Entries are never deleted: cases answered from them keep pointing at them."""
    entry.active = False
    entry.updated_by, entry.updated_at = actor, now
