"""What every command of the ``hotline`` CLI shares: checked settings, logging, the database.

Importing this module maps every table (``hotline.models_registry``), so a command's first
query never meets a half-configured mapper.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings, load_settings
from hotline import models_registry  # noqa: F401  (every table mapped before any query)
from hotline.settings_check import SettingsError, checked

__all__ = ["database", "database_errors", "session_factory", "settings", "setup_logging"]


def settings() -> Settings:
    """The settings from the environment, checked by every stage; invalid ones become a clear
    error."""
    try:
        return checked(load_settings())
    except (ValidationError, SettingsError) as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # faster-whisper logs every audio it is given at INFO; asr.whisper_stream logs each
    # utterance's decode time instead.
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)


@contextmanager
def database_errors() -> Iterator[None]:
    """Database trouble (unreachable, or no schema yet) becomes a clear error."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"the database is unreachable or not set up (run 'hotline setup'): {exc.orig}"
        ) from exc


@contextmanager
def session_factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory on the settings' database, its engine disposed of afterwards."""
    engine = make_engine(settings.effective_database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def database(settings: Settings, write: bool = False) -> Iterator[Session]:
    """A session (a write transaction with ``write``); database trouble becomes a clear error."""
    with (
        session_factory(settings) as factory,
        database_errors(),
        transaction(factory) if write else factory() as session,
    ):
        yield session
