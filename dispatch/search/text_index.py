"""The full-text indexes of migration 0011 behind one question: which rows' text holds every
term, and how well (``score``, higher is better)?

Each term is looked for as it is typed and in full width (``terms.variants``), by the
index that fits its length:

- three characters or more: SQLite's FTS5 trigram index (ranked by bm25, a case's title
  weighing three times its other text), PostgreSQL's pg_trgm GIN index (``LIKE``);
- two characters, the length of most Chinese words (噪音, 停车, 物业): SQLite looks up the
  trigrams that start with the pair in the index's vocabulary and matches any of them
  (every indexed text ends with a newline, so a pair at the end is followed by one too);
  PostgreSQL's GIN index over each text's character pairs;
- one character: a scan of the search table (rare, and slow on a large table).

PostgreSQL scores a row by where the terms occur: twice for a term in a case's title, and
once for each time it occurs in the text.

The answer is a piece of a query (``TextMatch``) for the caller to join its table and its
filters to: on SQLite the FTS5 table itself, so that bm25 runs only for the rows the
filters keep (a subquery would rank every match first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from dispatch.search import terms as search_terms

# More trigrams than this for a two-character term: the scan is the cheaper way.
MAX_EXPANSION = 400
# More matches than this are not ranked by bm25 on SQLite, nor by counting the words'
# occurrences on PostgreSQL: a case with every word in its title comes first, then the
# newest (a word this common says little about which case is meant).
RANK_LIMIT = 2000


@dataclass(frozen=True)
class Index:
    """One search table of migration 0011: its key column and whether it holds a title."""

    table: str
    key: str
    titled: bool

    @property
    def fts(self) -> str:
        return f"{self.table}_fts"

    @property
    def vocab(self) -> str:
        return f"{self.table}_vocab"


CASES = Index("case_search", "case_id", titled=True)
TRANSCRIPTS = Index("transcript_search", "transcript_id", titled=False)


@dataclass(frozen=True)
class TextMatch:
    """The rows whose text holds every term, as a piece of a query: join ``source`` (its
    ``key`` is the id of the searched table's row; ``docs`` the search table, whose other
    columns may be used), add ``where``, select ``score``."""

    source: FromClause
    docs: FromClause
    key: ColumnElement[str]
    score: ColumnElement[float]
    where: tuple[ColumnElement[bool], ...]


def matches(
    session: Session, index: Index, terms: tuple[str, ...], scored: bool = True
) -> TextMatch | None:
    """The rows of ``index`` whose text holds every one of ``terms`` (non-empty); None when
    a term occurs nowhere. ``scored=False``: no ranking (to count)."""
    assert terms, "a text match needs at least one term"
    if session.get_bind().dialect.name == "postgresql":
        return _postgresql(session, index, terms, scored)
    return _sqlite(session, index, terms, scored)


def _docs(index: Index) -> FromClause:
    """The search table (migration 0011): SQLite's has an integer id for its FTS5 table,
    PostgreSQL's the character pairs; a case's has its title, a transcript's its
    recording's sha256 and its time."""
    return table(
        index.table,
        column("id", Integer()),
        column(index.key, String()),
        column("title", String()),
        column("body", String()),
        column("bigrams", ARRAY(Text())),
        column("recording_sha256", String()),
        column("created_at", UTCDateTime()),
    ).alias("s")


def _pair_trigrams(session: Session, index: Index, pair: str) -> list[str] | None:
    """The indexed trigrams that start with ``pair`` (None: too many to be worth it)."""
    found: list[str] = []
    for variant in search_terms.variants(pair):
        upper_bound = variant[:-1] + chr(ord(variant[-1]) + 1)
        found += session.scalars(
            text(
                f"SELECT term FROM {index.vocab} WHERE term >= :low AND term < :high "
                f"LIMIT {MAX_EXPANSION + 1}"
            ),
            {"low": variant, "high": upper_bound},
        )
        if len(found) > MAX_EXPANSION:
            return None
    return found


def _any_of(strings: list[str]) -> str:
    return "(" + " OR ".join(search_terms.fts5_string(s) for s in strings) + ")"


def _sqlite(
    session: Session, index: Index, terms: tuple[str, ...], scored: bool
) -> TextMatch | None:
    docs = _docs(index)
    clauses: list[str] = []
    scans: list[ColumnElement[bool]] = []
    for term in terms:
        if len(term) >= 3:
            clauses.append(_any_of(list(search_terms.variants(term))))
            continue
        trigrams = _pair_trigrams(session, index, term) if len(term) == 2 else None
        if trigrams == []:
            return None
        if trigrams is not None:
            clauses.append(_any_of(trigrams))
            continue
        scans.append(
            or_(
                *(
                    docs.c.body.like(search_terms.like_pattern(v), escape="\\")
                    for v in search_terms.variants(term)
                )
            )
        )
    if not clauses:
        return TextMatch(docs, docs, docs.c[index.key], literal(0.0, Float()), tuple(scans))
    fts = table(index.fts, column("rowid", Integer()))
    name: ColumnElement[str] = literal_column(index.fts)
    expression = " AND ".join(clauses)
    score: ColumnElement[Any] = literal(0.0, Float())
    if scored and _rankable(session, index, expression):
        score = -func.bm25(name, *((3.0, 1.0) if index.titled else ()))
    elif scored and index.titled:  # too many to rank: those with every word in the title first
        in_title = select(fts.c.rowid).where(
            name.op("MATCH")(bindparam(None, f"{{title}} : ({expression})", type_=String()))
        )
        score = sql_case((docs.c.id.in_(in_title), 1.0), else_=0.0)
    query = bindparam(f"{index.fts}_query", expression, type_=String())
    return TextMatch(
        fts.join(docs, docs.c.id == fts.c.rowid),
        docs,
        docs.c[index.key],
        score,
        (name.op("MATCH")(query), *scans),
    )


def _rankable(session: Session, index: Index, expression: str) -> bool:
    """Few enough matches to rank them all by bm25 (it reads every match's positions for
    every trigram a two-character word stands for)."""
    found = session.scalar(
        text(
            f"SELECT count(*) FROM (SELECT 1 FROM {index.fts} WHERE {index.fts} MATCH :query "
            f"LIMIT {RANK_LIMIT + 1})"
        ),
        {"query": expression},
    )
    return (found or 0) <= RANK_LIMIT


def _postgresql(session: Session, index: Index, terms: tuple[str, ...], scored: bool) -> TextMatch:
    docs = _docs(index)
    body, title = docs.c.body, docs.c.title
    conditions: list[ColumnElement[bool]] = []
    for term in terms:
        spellings = search_terms.variants(term)
        if len(term) >= 3:
            conditions.append(
                or_(*(body.like(search_terms.like_pattern(v), escape="\\") for v in spellings))
            )
        elif len(term) == 2:
            pairs = cast(bindparam(None, list(spellings), type_=ARRAY(Text())), ARRAY(Text()))
            conditions.append(docs.c.bigrams.op("&&")(pairs))
        else:
            conditions.append(or_(*(func.strpos(body, v) > 0 for v in spellings)))
    if not scored:
        return TextMatch(docs, docs, docs.c[index.key], literal(0.0, Float()), tuple(conditions))
    matched = select(literal(1)).select_from(docs).where(*conditions).limit(RANK_LIMIT + 1)
    found = session.scalar(select(func.count()).select_from(matched.subquery())) or 0
    counting = found <= RANK_LIMIT
    scores: list[ColumnElement[Any]] = []
    for term in terms:
        if counting:
            scores.append(
                (func.length(body) - func.length(func.replace(body, term, ""))) / len(term)
            )
        if index.titled:
            scores.append((func.strpos(title, term) > 0).cast(Integer()) * 2)
    score = sum(scores[1:], scores[0]).cast(Float()) if scores else literal(0.0, Float())
    return TextMatch(docs, docs, docs.c[index.key], score, tuple(conditions))
