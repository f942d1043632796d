"""The migrations build every table and column the models map: after ``upgrade`` to the head,
autogenerate finds nothing to add or change (a model edited without its migration fails
here). What the migrations add beyond the models (the search indexes and tables kept by
triggers, indexes for the reports' reader) shows as ``remove_*`` and is allowed."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from hotline import migrate
from hotline.models_registry import metadata

ALLOWED = ("remove_table", "remove_index", "remove_constraint")


def kinds(diff: list[Any]) -> list[tuple[str, str]]:
    found = []
    for item in diff:
        first = item[0] if isinstance(item, list) else item
        found.append((first[0], repr(first[1:])[:200]))
    return found


def test_the_migrations_build_what_the_models_map(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    missing = [(kind, what) for kind, what in kinds(diff) if kind not in ALLOWED]
    assert missing == []
    assert diff, "the search tables the migrations add should show as extra"
