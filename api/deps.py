"""Dependencies shared by the route handlers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from core.clock import utc_now
from core.settings import Settings
from dispatch.deadlines.stage_clocks import Rules


def now() -> dt.datetime:
    """The wall clock, in UTC, for every route."""
    return utc_now()


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_writer(request: Request) -> sessionmaker[Session]:
    """The session factory, for write transactions (``core.db.transaction``)."""
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_rules(request: Request) -> Rules:
    """The deadline rules: calendar (with the data folder's schedule file), profile, zone."""
    return request.app.state.rules.rules()  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WriterDep = Annotated[sessionmaker[Session], Depends(get_writer)]
RulesDep = Annotated[Rules, Depends(get_rules)]
