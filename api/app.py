"""The FastAPI application; ``create_app`` is the one place it is wired."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api import (
    background,
    calls,
    cases,
    evidence,
    evidence_pages,
    handling,
    handling_pages,
    knowledge,
    login,
    pages,
    unit_api,
    work,
)
from api.auth import NotLoggedIn
from api.deps import now
from dispatch.case_store import AlreadyRegistered, NotFound
from dispatch.handling import Refused
from dispatch.lifecycle import IllegalTransition, ReasonRequired
from dispatch.registration import Invalid
from dispatch.routing import ModelCache
from dispatch.rules_source import RulesSource
from hotline.db import make_engine, make_session_factory
from hotline.settings import Settings
from recordings.dossier import DossierProblem

STATIC = Path(__file__).parent / "static"
# Scripts only from our own files: HTML typed into a field can never run.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs = []
        if settings.supervision_interval_seconds > 0:
            jobs.append(asyncio.create_task(background.supervise_forever(
                app.state.sessions, app.state.rules, now,
                settings.supervision_interval_seconds)))
        if settings.integrity_check_interval_seconds > 0:
            jobs.append(asyncio.create_task(background.verify_forever(
                app.state.sessions, settings.data_dir, now,
                settings.integrity_check_interval_seconds)))
        yield
        for job in jobs:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
        engine.dispose()

    app = FastAPI(
        title="Hotline",
        version="0.1.0",
        lifespan=lifespan,
        description="Complaint hotline: calls, recordings, transcripts, registration (登记), "
        "acceptance (受理), the operator's work queue and the knowledge base. Every route needs "
        "a session (POST /api/session) and a role; changes need the X-CSRF-Token header.",
    )
    app.state.settings = settings
    app.state.sessions = make_session_factory(engine)
    app.state.routing = ModelCache(settings.routing_model_file)
    app.state.rules = RulesSource(settings.calendar_file, settings.deadline_profile,
                                  settings.timezone)
    app.state.login_budget = login.address_budget(settings)

    @app.middleware("http")
    async def security_headers(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(NotLoggedIn)
    def not_logged_in(request: Request, _exc: NotLoggedIn) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "not logged in"}, status_code=401)
        target = urllib.parse.quote(request.url.path, safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(Invalid)
    def invalid(_request: Request, exc: Invalid) -> Response:
        return JSONResponse({"detail": "invalid input",
                             "errors": {name: err.en for name, err in exc.errors.items()}},
                            status_code=422)

    @app.exception_handler(IllegalTransition)
    def illegal(_request: Request, exc: IllegalTransition) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(Refused)
    def refused(_request: Request, exc: Refused) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(ReasonRequired)
    def reason_required(_request: Request, exc: ReasonRequired) -> Response:
        return JSONResponse({"detail": "invalid input", "errors": {"reason": str(exc)}},
                            status_code=422)

    @app.exception_handler(AlreadyRegistered)
    def already(_request: Request, exc: AlreadyRegistered) -> Response:
        return JSONResponse({"detail": str(exc), "case_number": exc.case_number},
                            status_code=409)

    @app.exception_handler(DossierProblem)
    def dossier_problem(_request: Request, exc: DossierProblem) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(NotFound)
    def not_found(_request: Request, exc: NotFound) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(login.router)
    app.include_router(calls.router)
    app.include_router(evidence.router)
    app.include_router(evidence_pages.router)
    app.include_router(cases.router)
    app.include_router(work.router)
    app.include_router(knowledge.router)
    app.include_router(handling.router)
    app.include_router(unit_api.router)
    app.include_router(pages.router)
    app.include_router(handling_pages.router)
    return app
