"""The FastAPI application; ``create_app`` is the one place it is wired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import calls
from hotline.db import make_engine, make_session_factory
from hotline.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="Hotline", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.sessions = make_session_factory(engine)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(calls.router)
    return app
