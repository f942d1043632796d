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
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, String, TextClause, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from dispatch.search import terms as search_terms

# More trigrams than this for a two-character term: the scan is the cheaper way.
MAX_EXPANSION = 400


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
class Matches:
    """The rows that hold every term: ``rows`` has the columns ``key`` and ``score``;
    None when a term cannot occur anywhere (nothing matches)."""

    rows: Subquery | None


def matches(session: Session, index: Index, terms: tuple[str, ...], name: str = "m") -> Matches:
    """The rows of ``index`` whose text holds every one of ``terms`` (non-empty)."""
    assert terms, "a text match needs at least one term"
    if session.get_bind().dialect.name == "postgresql":
        query = _postgresql(index, terms)
    else:
        found = _sqlite(session, index, terms)
        if found is None:
            return Matches(None)
        query = found
    return Matches(query.columns(key=String(), score=Float()).subquery(name))


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def add(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


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


def _sqlite(session: Session, index: Index, terms: tuple[str, ...]) -> TextClause | None:
    params = _Params()
    clauses: list[str] = []
    scans: list[str] = []
    for term in terms:
        if len(term) >= 3:
            clauses.append(
                "("
                + " OR ".join(search_terms.fts5_string(v) for v in search_terms.variants(term))
                + ")"
            )
            continue
        trigrams = _pair_trigrams(session, index, term) if len(term) == 2 else None
        if trigrams is not None:
            if not trigrams:
                return None
            clauses.append("(" + " OR ".join(search_terms.fts5_string(t) for t in trigrams) + ")")
            continue
        scans.append(
            "("
            + " OR ".join(
                f"s.body LIKE {params.add(search_terms.like_pattern(v))} ESCAPE '\\'"
                for v in search_terms.variants(term)
            )
            + ")"
        )
    if clauses:
        weights = ", 3.0, 1.0" if index.titled else ""
        sql = (
            f"SELECT s.{index.key} AS key, -bm25({index.fts}{weights}) AS score "
            f"FROM {index.fts} JOIN {index.table} AS s ON s.id = {index.fts}.rowid "
            f"WHERE {index.fts} MATCH {params.add(' AND '.join(clauses))}"
        )
    else:
        sql = f"SELECT s.{index.key} AS key, 0.0 AS score FROM {index.table} AS s WHERE 1 = 1"
    sql += "".join(f" AND {scan}" for scan in scans)
    # LIMIT keeps SQLite from flattening this into the query that joins it, where bm25()
    # would no longer run in its MATCH's context.
    return text(sql + " LIMIT -1").bindparams(**params.values)


def _postgresql(index: Index, terms: tuple[str, ...]) -> TextClause:
    params = _Params()
    conditions: list[str] = []
    scores: list[str] = []
    for term in terms:
        spellings = search_terms.variants(term)
        if len(term) >= 3:
            conditions.append(
                "("
                + " OR ".join(
                    f"s.body LIKE {params.add(search_terms.like_pattern(v))} ESCAPE '\\'"
                    for v in spellings
                )
                + ")"
            )
        elif len(term) == 2:
            conditions.append(f"s.bigrams && CAST({params.add(list(spellings))} AS text[])")
        else:
            conditions.append(
                "(" + " OR ".join(f"strpos(s.body, {params.add(v)}) > 0" for v in spellings) + ")"
            )
        typed = params.add(term)
        occurrences = f"((length(s.body) - length(replace(s.body, {typed}, ''))) / length({typed}))"
        in_title = f" + 2 * (strpos(s.title, {typed}) > 0)::int" if index.titled else ""
        scores.append(f"{occurrences}{in_title}")
    sql = (
        f"SELECT s.{index.key} AS key, CAST({' + '.join(scores)} AS float) AS score "
        f"FROM {index.table} AS s WHERE {' AND '.join(conditions)}"
    )
    return text(sql).bindparams(**params.values)
