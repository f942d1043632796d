"""Search (查询): full-text indexes over each case's text and each call transcript, kept up to
date by the database itself, and indexes for the lists' filters (cases, calls, the access
log).

Chinese has no spaces between words, so the indexes are of character n-grams, not words:

- SQLite: a search table per kind (``case_search``, ``transcript_search``) holds the text
  to match, an FTS5 table with the trigram tokenizer indexes it (external content), and an
  ``fts5vocab`` table lists the trigrams so that a two-character word can be found through
  the trigrams that start with it. Every indexed text ends with a newline, so a word at the
  very end of a field is followed by a character too.
- PostgreSQL: the same search tables, lower-cased, with a GIN ``pg_trgm`` index for words
  of three characters or more and a GIN index over the text's character pairs
  (``search_bigrams``) for two-character words. pg_trgm sees Chinese characters only in a
  database whose LC_CTYPE is a UTF-8 locale (C.UTF-8 will do); in a "C" database matching
  stays correct but the trigram index cannot help.

Triggers on ``cases`` and ``transcripts`` fill the search tables when a case is registered
or its text changes and when a transcript is stored: the one place per database. What a
case's text is must stay the same as ``dispatch.search.case_search.CASE_FIELDS``. A case's
search row also holds what the case list filters on (``LIST_FIELDS``: registration time,
status, channel, type, category, who registered it, the complainant's phone), kept as the
case changes, so that a search by words and filters reads the search table alone; a
transcript's holds its recording and time.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

# A case's searchable text, in this order (dispatch.search.case_search.CASE_FIELDS).
CASE_FIELDS = (
    "number",
    "title",
    "content",
    "request",
    "complainant_name",
    "complainant_phone",
    "complainant_address",
    "complainant_org",
    "subject_unit",
    "subject_window",
    "subject_person",
)
# What the case list filters on, copied into the case's search row.
LIST_FIELDS = (
    "registered_at",
    "status",
    "channel",
    "case_type",
    "category",
    "registered_by",
    "complainant_phone",
)
LIST_TYPES = {"registered_at": "TIMESTAMP WITH TIME ZONE", "complainant_phone": "VARCHAR(32)"}


def _document(row: str, newline: str = "char(10)") -> str:
    """SQL for the text of a case row (``new`` in a trigger, or a table name): its fields,
    each followed by a newline."""
    return " || ".join(f"coalesce({row}.{name}, '') || {newline}" for name in CASE_FIELDS)


def _listed(row: str) -> str:
    return ", ".join(f"{row}.{name}" for name in LIST_FIELDS)


def _column_defs(sqlite: bool) -> str:
    """The search row's copies of the case's listing fields."""
    return ", ".join(
        f"{name} {'DATETIME' if sqlite and name == 'registered_at' else LIST_TYPES.get(name, 'VARCHAR(64)')} NOT NULL"
        for name in LIST_FIELDS
    )


# The lists' filters and order, each in one index that holds them all: a filtered count or
# page reads the index, never the wide rows (a case's text, a transcript's segments).
LISTINGS = {
    "ix_cases_listing": (
        "cases",
        [
            "registered_at",
            "status",
            "channel",
            "case_type",
            "category",
            "registered_by",
            "complainant_phone",
            "id",
        ],
    ),
    "ix_calls_listing": ("calls", ["started_at", "outcome", "operator", "caller_number", "id"]),
    # The running clocks, for "overdue" (a seek to the unmet, not cancelled ones past due).
    "ix_case_deadlines_running": (
        "case_deadlines",
        ["met_at", "cancelled", "due_on", "stage", "case_id", "unit_id"],
    ),
    # A unit's cases.
    "ix_assignments_unit_cases": ("assignments", ["unit_id", "active", "case_id"]),
    # A case reached by its id (a unit's, an overdue one) checked against the filters
    # without reading its wide row (the category comes after the text, in overflow pages).
    "ix_cases_lookup": (
        "cases",
        [
            "id",
            "registered_at",
            "status",
            "channel",
            "case_type",
            "category",
            "registered_by",
            "complainant_phone",
        ],
    ),
    # The newest transcript of a recording (the one the lists show).
    "ix_transcripts_newest": ("transcripts", ["recording_sha256", "created_at"]),
}


def upgrade() -> None:
    op.create_index("ix_recording_access_accessed_at", "recording_access", ["accessed_at"])
    op.create_index("ix_recording_access_actor", "recording_access", ["actor"])
    for name, (table, columns) in LISTINGS.items():
        op.create_index(name, table, columns)
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _fts(table: str, columns: tuple[str, ...]) -> None:
    """An FTS5 trigram index over ``columns`` of ``table`` (external content), its
    vocabulary, and the triggers that keep it (only a change of those columns re-indexes)."""
    listed = ", ".join(columns)
    new_values = ", ".join(f"new.{c}" for c in columns)
    old_values = ", ".join(f"old.{c}" for c in columns)
    op.execute(
        f"CREATE VIRTUAL TABLE {table}_fts USING fts5({listed}, content='{table}', "
        f"content_rowid='id', tokenize='trigram')"
    )
    op.execute(f"CREATE VIRTUAL TABLE {table}_vocab USING fts5vocab({table}_fts, 'row')")
    op.execute(
        f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {table}_fts(rowid, {listed}) VALUES (new.id, {new_values}); END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {table}_fts({table}_fts, rowid, {listed}) "
        f"VALUES ('delete', old.id, {old_values}); END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_au AFTER UPDATE OF {listed} ON {table} BEGIN "
        f"INSERT INTO {table}_fts({table}_fts, rowid, {listed}) "
        f"VALUES ('delete', old.id, {old_values}); "
        f"INSERT INTO {table}_fts(rowid, {listed}) VALUES (new.id, {new_values}); END"
    )


def _upgrade_sqlite() -> None:
    # The listing fields come first in the row, so that reading them never reads the text.
    op.execute(
        "CREATE TABLE case_search (id INTEGER PRIMARY KEY, case_id VARCHAR(32) NOT NULL UNIQUE, "
        f"{_column_defs(sqlite=True)}, title TEXT NOT NULL, body TEXT NOT NULL)"
    )
    _fts("case_search", ("title", "body"))
    # A transcript's recording and time, so that a search reaches the call without reading
    # the transcript's wide row.
    op.execute(
        "CREATE TABLE transcript_search (id INTEGER PRIMARY KEY, "
        "transcript_id VARCHAR(32) NOT NULL UNIQUE, recording_sha256 VARCHAR(64) NOT NULL, "
        "created_at DATETIME NOT NULL, body TEXT NOT NULL)"
    )
    _fts("transcript_search", ("body",))
    op.execute(
        "CREATE INDEX ix_transcript_search_recording ON transcript_search (recording_sha256)"
    )
    listed = ", ".join(LIST_FIELDS)
    op.execute(
        "CREATE TRIGGER cases_search_ai AFTER INSERT ON cases BEGIN "
        f"INSERT INTO case_search(case_id, {listed}, title, body) "
        f"VALUES (new.id, {_listed('new')}, new.title || char(10), {_document('new')}); END"
    )
    op.execute(
        f"CREATE TRIGGER cases_search_text_au AFTER UPDATE OF {', '.join(CASE_FIELDS)} "
        "ON cases BEGIN "
        f"UPDATE case_search SET title = new.title || char(10), body = {_document('new')} "
        "WHERE case_id = new.id; END"
    )
    op.execute(
        f"CREATE TRIGGER cases_search_list_au AFTER UPDATE OF {listed} ON cases BEGIN "
        "UPDATE case_search SET "
        + ", ".join(f"{name} = new.{name}" for name in LIST_FIELDS)
        + " WHERE case_id = new.id; END"
    )
    op.execute(
        "CREATE TRIGGER cases_search_ad AFTER DELETE ON cases BEGIN "
        "DELETE FROM case_search WHERE case_id = old.id; END"
    )
    op.execute(
        "CREATE TRIGGER transcripts_search_ai AFTER INSERT ON transcripts BEGIN "
        "INSERT INTO transcript_search(transcript_id, recording_sha256, created_at, body) "
        "VALUES (new.id, new.recording_sha256, new.created_at, "
        "coalesce(new.clean_text, '') || char(10)); END"
    )
    op.execute(
        "CREATE TRIGGER transcripts_search_au AFTER UPDATE OF clean_text ON transcripts BEGIN "
        "UPDATE transcript_search SET body = coalesce(new.clean_text, '') || char(10) "
        "WHERE transcript_id = new.id; END"
    )
    op.execute(
        "CREATE TRIGGER transcripts_search_ad AFTER DELETE ON transcripts BEGIN "
        "DELETE FROM transcript_search WHERE transcript_id = old.id; END"
    )
    # What is already there, oldest first (the index's order is the registration order).
    op.execute(
        f"INSERT INTO case_search(case_id, {listed}, title, body) "
        f"SELECT id, {_listed('cases')}, title || char(10), {_document('cases')} FROM cases "
        "ORDER BY registered_at"
    )
    op.execute(
        "INSERT INTO transcript_search(transcript_id, recording_sha256, created_at, body) "
        "SELECT id, recording_sha256, created_at, coalesce(clean_text, '') || char(10) "
        "FROM transcripts ORDER BY created_at"
    )


def _upgrade_postgresql() -> None:
    bind = op.get_bind()
    ctype = str(bind.execute(sa.text("SHOW lc_ctype")).scalar() or "")
    if "utf" not in ctype.lower().replace("-", ""):
        log.warning(
            "database LC_CTYPE is %r: pg_trgm cannot index Chinese text there; searches stay "
            "correct but scan (create the database with a UTF-8 locale, e.g. C.UTF-8)",
            ctype,
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Every pair of neighbouring characters: those from even and those from odd positions,
    # two linear scans (substr() at each position is quadratic on multi-byte text). The GIN
    # index keeps each distinct pair once.
    op.execute(
        "CREATE FUNCTION search_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE "
        "PARALLEL SAFE AS $$ SELECT array(SELECT m[1] FROM regexp_matches(t, '(..)', 'g') AS m "
        "UNION ALL SELECT m[1] FROM regexp_matches(substr(t, 2), '(..)', 'g') AS m) $$"
    )
    listed = ", ".join(LIST_FIELDS)
    op.execute(
        "CREATE TABLE case_search (case_id VARCHAR(32) PRIMARY KEY, "
        f"{_column_defs(sqlite=False)}, title TEXT NOT NULL, body TEXT NOT NULL, "
        "bigrams TEXT[] NOT NULL)"
    )
    op.execute(
        "CREATE TABLE transcript_search (transcript_id VARCHAR(32) PRIMARY KEY, "
        "recording_sha256 VARCHAR(64) NOT NULL, created_at TIMESTAMP WITH TIME ZONE NOT NULL, "
        "body TEXT NOT NULL, bigrams TEXT[] NOT NULL)"
    )
    op.execute(
        "CREATE FUNCTION case_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE doc text; BEGIN "
        "IF TG_OP = 'DELETE' THEN DELETE FROM case_search WHERE case_id = OLD.id; RETURN OLD; "
        f"END IF; doc := lower({_document('NEW', 'chr(10)')}); "
        f"INSERT INTO case_search(case_id, {listed}, title, body, bigrams) "
        f"VALUES (NEW.id, {_listed('NEW')}, lower(NEW.title), doc, search_bigrams(doc)) "
        "ON CONFLICT (case_id) DO UPDATE SET "
        + ", ".join(f"{name} = EXCLUDED.{name}" for name in LIST_FIELDS)
        + ", title = EXCLUDED.title, body = EXCLUDED.body, bigrams = EXCLUDED.bigrams; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE FUNCTION case_search_listing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE case_search SET "
        + ", ".join(f"{name} = NEW.{name}" for name in LIST_FIELDS)
        + " WHERE case_id = NEW.id; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE FUNCTION transcript_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE doc text; BEGIN "
        "IF TG_OP = 'DELETE' THEN DELETE FROM transcript_search "
        "WHERE transcript_id = OLD.id; RETURN OLD; END IF; "
        "doc := lower(coalesce(NEW.clean_text, '') || chr(10)); "
        "INSERT INTO transcript_search(transcript_id, recording_sha256, created_at, body, "
        "bigrams) VALUES (NEW.id, NEW.recording_sha256, NEW.created_at, doc, "
        "search_bigrams(doc)) "
        "ON CONFLICT (transcript_id) DO UPDATE SET body = EXCLUDED.body, "
        "bigrams = EXCLUDED.bigrams; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER cases_search AFTER INSERT OR DELETE OR UPDATE OF "
        f"{', '.join(CASE_FIELDS)} ON cases FOR EACH ROW EXECUTE FUNCTION case_search_sync()"
    )
    op.execute(
        f"CREATE TRIGGER cases_search_listing AFTER UPDATE OF {listed} ON cases "
        "FOR EACH ROW EXECUTE FUNCTION case_search_listing()"
    )
    op.execute(
        "CREATE TRIGGER transcripts_search AFTER INSERT OR DELETE OR UPDATE OF clean_text "
        "ON transcripts FOR EACH ROW EXECUTE FUNCTION transcript_search_sync()"
    )
    op.execute(
        f"INSERT INTO case_search(case_id, {listed}, title, body, bigrams) "
        f"SELECT id, {listed}, lower(title), d, search_bigrams(d) FROM "
        f"(SELECT *, lower({_document('cases', 'chr(10)')}) AS d FROM cases) AS docs"
    )
    op.execute(
        "INSERT INTO transcript_search(transcript_id, recording_sha256, created_at, body, "
        "bigrams) SELECT id, recording_sha256, created_at, d, search_bigrams(d) FROM "
        "(SELECT id, recording_sha256, created_at, lower(coalesce(clean_text, '') || chr(10)) "
        "AS d FROM transcripts) AS docs"
    )
    op.execute(
        "CREATE INDEX ix_transcript_search_recording ON transcript_search (recording_sha256)"
    )
    for table in ("case_search", "transcript_search"):
        op.execute(f"CREATE INDEX ix_{table}_trgm ON {table} USING gin (body gin_trgm_ops)")
        op.execute(f"CREATE INDEX ix_{table}_bigrams ON {table} USING gin (bigrams)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER transcripts_search ON transcripts")
        op.execute("DROP TRIGGER cases_search_listing ON cases")
        op.execute("DROP TRIGGER cases_search ON cases")
        op.execute("DROP FUNCTION transcript_search_sync()")
        op.execute("DROP FUNCTION case_search_listing()")
        op.execute("DROP FUNCTION case_search_sync()")
        op.execute("DROP TABLE transcript_search")
        op.execute("DROP TABLE case_search")
        op.execute("DROP FUNCTION search_bigrams(text)")
    else:
        for trigger in (
            "transcripts_search_ad",
            "transcripts_search_au",
            "transcripts_search_ai",
            "cases_search_ad",
            "cases_search_list_au",
            "cases_search_text_au",
            "cases_search_ai",
        ):
            op.execute(f"DROP TRIGGER {trigger}")
        for table in ("transcript_search", "case_search"):
            op.execute(f"DROP TABLE {table}_vocab")
            op.execute(f"DROP TABLE {table}_fts")
            op.execute(f"DROP TABLE {table}")
    for name, (table, _columns) in LISTINGS.items():
        op.drop_index(name, table_name=table)
    op.drop_index("ix_recording_access_actor", table_name="recording_access")
    op.drop_index("ix_recording_access_accessed_at", table_name="recording_access")
