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
once for each time it occurs in the text. More than ``RANK_LIMIT`` matches are not ranked
(ranking reads every match): the newest come first (a word that common says little about
which row is meant); on SQLite that is the index's own order, so a page is read without
reading every match.

The answer is a piece of a query (``TextMatch``) for the caller to join its table and its
filters to: on SQLite the FTS5 table itself, so that bm25 runs only for the rows the
filters keep. Where the rows a person may search are few anyway (the calls an operator may
read), ``scanned`` looks for the terms in those rows' text without the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnClause,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    Text,
    UnaryExpression,
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
from sqlalchemy.orm import Session

from core.db import UTCDateTime
from dispatch.search import terms as search_terms

# More trigrams than this for a two-character term: the scan is the cheaper way.
MAX_EXPANSION = 400
# More matches than this are not ranked, the newest come first.
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
# A case's listing fields copied into its search row (besides its registration time).
LISTED = ("status", "channel", "case_type", "category", "registered_by", "complainant_phone")
TRANSCRIPTS = Index("transcript_search", "transcript_id", titled=False)


@dataclass(frozen=True)
class TextMatch:
    """The rows whose text holds every term, as a piece of a query: join ``source`` (its
    ``key`` is the id of the searched table's row; ``docs`` the search table, whose other
    columns may be used), add ``where``, select ``score``. ``ranked``: the score ranks them
    (else there were too many: order by ``newest`` where given, by time otherwise);
    ``count``: how many rows match, where known."""

    source: FromClause
    docs: FromClause
    key: ColumnElement[str]
    score: ColumnElement[Any]
    where: tuple[ColumnElement[bool], ...]
    ranked: bool = True
    newest: UnaryExpression[Any] | None = None
    count: int | None = None


def docs_of(index: Index) -> FromClause:
    """The search table (migration 0011): SQLite's has an integer id for its FTS5 table,
    PostgreSQL's the character pairs; a case's has its title and the case's listing fields,
    a transcript's its recording's sha256 and its time. Lower-cased on PostgreSQL."""
    return table(
        index.table,
        column("id", Integer()),
        column(index.key, String()),
        column("title", String()),
        column("body", String()),
        column("bigrams", ARRAY(Text())),
        column("recording_sha256", String()),
        column("created_at", UTCDateTime()),
        *(_listing_columns() if index.titled else []),
    ).alias("s")


def _listing_columns() -> list[ColumnClause[Any]]:
    return [column("registered_at", UTCDateTime()), *(column(n, String()) for n in LISTED)]


def matches(
    session: Session,
    index: Index,
    terms: tuple[str, ...],
    scored: bool = True,
    counted: bool = False,
) -> TextMatch | None:
    """The rows of ``index`` whose text holds every one of ``terms`` (non-empty), through
    the index; None when a term occurs nowhere. ``scored=False``: no ranking (to count);
    ``counted``: count every match (else only up to ``RANK_LIMIT``, to decide on ranking)."""
    assert terms, "a text match needs at least one term"
    if session.get_bind().dialect.name == "postgresql":
        return _postgresql(session, index, terms, scored, counted)
    return _sqlite(session, index, terms, scored, counted)


def scanned(index: Index, terms: tuple[str, ...], scored: bool = True) -> TextMatch:
    """The same match without the index: the terms looked for in the text of whichever
    rows the caller joins (for a few rows), ranked by their occurrences."""
    docs = docs_of(index)
    return TextMatch(
        docs,
        docs,
        docs.c[index.key],
        _occurrences(docs, terms) if scored else literal(0.0, Float()),
        tuple(_contains(docs, term) for term in terms),
    )


def _contains(docs: FromClause, term: str) -> ColumnElement[bool]:
    """The text holds ``term`` (SQLite's LIKE ignores ASCII case; PostgreSQL's text is
    lower-cased, like the terms)."""
    return or_(
        *(
            docs.c.body.like(search_terms.like_pattern(v), escape="\\")
            for v in search_terms.variants(term)
        )
    )


def _occurrences(docs: FromClause, terms: tuple[str, ...]) -> ColumnElement[Any]:
    """How often the terms occur in the text."""
    body = func.lower(docs.c.body)
    scores = [
        (func.length(body) - func.length(func.replace(body, term, ""))) / len(term)
        for term in terms
    ]
    return sum(scores[1:], scores[0]).cast(Float())


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


def _matched(session: Session, rows: Select[Any], counted: bool) -> tuple[int, bool]:
    """How many ``rows`` (all, or up to ``RANK_LIMIT`` + 1), and whether that is all."""
    limited = rows if counted else rows.limit(RANK_LIMIT + 1)
    found = session.scalar(select(func.count()).select_from(limited.subquery())) or 0
    return found, counted or found <= RANK_LIMIT


def _sqlite(
    session: Session, index: Index, terms: tuple[str, ...], scored: bool, counted: bool
) -> TextMatch | None:
    docs = docs_of(index)
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
        scans.append(_contains(docs, term))
    if not clauses:
        return TextMatch(docs, docs, docs.c[index.key], literal(0.0, Float()), tuple(scans))
    fts = table(index.fts, column("rowid", Integer()))
    name: ColumnElement[str] = literal_column(index.fts)
    expression = " AND ".join(clauses)
    query = bindparam(f"{index.fts}_query", expression, type_=String())
    count, whole = _matched(session, select(fts.c.rowid).where(name.op("MATCH")(query)), counted)
    ranked = scored and count <= RANK_LIMIT
    score: ColumnElement[Any] = literal(0.0, Float())
    if ranked:
        score = -func.bm25(name, *((3.0, 1.0) if index.titled else ()))
    return TextMatch(
        fts.join(docs, docs.c.id == fts.c.rowid),
        docs,
        docs.c[index.key],
        score,
        (name.op("MATCH")(query), *scans),
        ranked=ranked,
        newest=fts.c.rowid.desc(),  # rows are added as cases are registered, calls heard
        count=count if whole and not scans else None,
    )


def _postgresql(
    session: Session, index: Index, terms: tuple[str, ...], scored: bool, counted: bool
) -> TextMatch:
    docs = docs_of(index)
    body, title = docs.c.body, docs.c.title
    conditions: list[ColumnElement[bool]] = []
    for term in terms:
        spellings = search_terms.variants(term)
        if len(term) >= 3:
            conditions.append(_contains(docs, term))
        elif len(term) == 2:
            pairs = cast(bindparam(None, list(spellings), type_=ARRAY(Text())), ARRAY(Text()))
            conditions.append(docs.c.bigrams.op("&&")(pairs))
        else:
            conditions.append(or_(*(func.strpos(body, v) > 0 for v in spellings)))
    count, whole = _matched(
        session, select(literal(1)).select_from(docs).where(*conditions), counted
    )
    ranked = scored and count <= RANK_LIMIT
    score: ColumnElement[Any] = literal(0.0, Float())
    if ranked:
        scores: list[ColumnElement[Any]] = []
        for term in terms:
            scores.append(
                (func.length(body) - func.length(func.replace(body, term, ""))) / len(term)
            )
            if index.titled:
                scores.append((func.strpos(title, term) > 0).cast(Integer()) * 2)
        score = sum(scores[1:], scores[0]).cast(Float())
    return TextMatch(
        docs,
        docs,
        docs.c[index.key],
        score,
        tuple(conditions),
        ranked=ranked,
        count=count if whole else None,
    )
