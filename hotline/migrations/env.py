"""Alembic environment: the URL comes from the caller's config, the metadata from the models."""

from __future__ import annotations

from alembic import context

from core.db import make_engine
from hotline.models_registry import metadata

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild SQLite tables (copy, drop, rename): with foreign keys
            # enforced, dropping a table other rows refer to would fail. They are checked
            # once the migrations are done instead.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left broken references: {broken[:5]}")
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    engine.dispose()


run_migrations()
