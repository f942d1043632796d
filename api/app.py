"""The FastAPI application; ``create_app`` is the one place it is wired."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api import (
    background,
    bulletin_pages,
    callback_api,
    callback_pages,
    calls,
    cases,
    error_pages,
    evidence,
    evidence_pages,
    handling,
    handling_pages,
    knowledge,
    labels,
    live,
    login,
    metrics,
    openapi_doc,
    pages,
    print_pages,
    registration_pages,
    report_hot,
    report_pages,
    report_windows,
    search_api,
    search_pages,
    unit_api,
    unit_pages,
    users_api,
    users_pages,
    work,
)
from api.auth import NotLoggedIn
from api.deps import now
from api.guard import Limits, RequestGuard, RequestRefused, is_upload_route, refusal
from core.db import make_engine, make_session_factory
from core.settings import Settings
from custody.dossier import DossierProblem
from custody.errors import CustodyError
from dispatch.cases.lifecycle import IllegalTransition, ReasonRequired
from dispatch.cases.registration import FieldError, Invalid
from dispatch.deadlines.rules_source import RulesSource
from dispatch.handling import unit_portal
from dispatch.handling.steps import Refused
from dispatch.intake.case_store import AlreadyRegistered, NotFound
from dispatch.reports.reader import Cache as ReportCache
from dispatch.routing.suggestions import ModelCache
from recordings import objects, offload

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
# Answers carry personal data (names, numbers, complaints, transcripts): never kept by a cache.
NO_STORE = "no-store"


def validation_error(loc: list[str | int], msg: str, kind: str) -> dict[str, object]:
    """One entry of a 422 answer: where, what, which kind; never the value that was sent."""
    return {"loc": loc, "msg": msg, "type": kind}


def field_errors(errors: dict[str, FieldError] | dict[str, str]) -> JSONResponse:
    """Our own field checks, in the same 422 shape as FastAPI's (the published schema)."""
    return JSONResponse(
        {
            "detail": [
                validation_error(
                    ["body", name], err.en if isinstance(err, FieldError) else err, "value_error"
                )
                for name, err in errors.items()
            ]
        },
        status_code=422,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (FastAPI has one route per method)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches({**request.scope, "method": ""})
        if match is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def create_app(settings: Settings) -> FastAPI:
    engine = make_engine(settings.effective_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs = []
        if settings.supervision_interval_seconds > 0:
            jobs.append(
                asyncio.create_task(
                    background.supervise_forever(
                        app.state.sessions,
                        app.state.rules,
                        now,
                        settings.supervision_interval_seconds,
                    )
                )
            )
        if settings.bulletin_interval_seconds > 0:
            jobs.append(
                asyncio.create_task(
                    background.bulletins_forever(
                        app.state.sessions,
                        bulletin_pages.maker(settings, app.state.rules),
                        now,
                        settings.bulletin_interval_seconds,
                    )
                )
            )
        if settings.integrity_check_interval_seconds > 0:
            jobs.append(
                asyncio.create_task(
                    background.verify_forever(
                        app.state.sessions,
                        settings.data_dir,
                        now,
                        settings.integrity_check_interval_seconds,
                        objects.s3_store(settings),
                    )
                )
            )
        # Issue 18: attachments and archives written here go up to the object store, if set.
        offloader = offload.offloader_for(settings, app.state.sessions, now)
        if offloader is not None:
            jobs.append(asyncio.create_task(offloader.run()))
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
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.sessions = make_session_factory(engine)
    offload.enable(app.state.sessions, settings)  # Issue 18: files stored get an upload row
    app.state.routing = ModelCache(settings.routing_model_file)
    app.state.report_cache = ReportCache()  # report windows read before (api/report_pages.py)
    app.state.rules = RulesSource(
        settings.calendar_file, settings.deadline_profile, settings.timezone
    )
    app.state.login_budget = login.address_budget(settings)
    app.state.issued_passwords = users_pages.OneTimeSecrets()  # shown once (api/users_pages.py)
    app.state.hot_cache = report_hot.new_cache()  # 热点诉求 computed before (api/report_hot.py)
    labels.install(pages.templates.env)  # role_zh, scope_zh, actor_zh… (api/labels.py)

    # Inside the headers below, so that its refusals carry them too.
    app.add_middleware(
        RequestGuard,
        limits=Limits(
            settings.request_max_bytes, settings.upload_max_bytes, settings.attachment_max_files
        ),
        is_upload=lambda scope: is_upload_route(app.router.routes, scope),
    )
    # An issued password is changed before anything else (inside the headers below).
    app.add_middleware(users_pages.PasswordChangeGate)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", NO_STORE)
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

    @app.exception_handler(RequestValidationError)
    def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        if error_pages.wants_page(request):
            return error_pages.page(request, 422, error_pages.GENERIC[422])
        return JSONResponse(
            {
                "detail": [
                    validation_error(list(err["loc"]), err["msg"], err["type"])
                    for err in exc.errors()
                ]
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, RequestRefused):  # the guard's, raised while a route read the body
            return refusal(exc, request.url.path)
        methods = allowed_methods(request) if exc.status_code == 405 else []
        if methods:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(methods)}
        if error_pages.wants_page(request):
            zh = (
                exc.zh
                if isinstance(exc, evidence.CustodyHTTPException)
                else error_pages.message_zh(exc.status_code, exc.detail)
            )
            return error_pages.page(request, exc.status_code, zh, headers=exc.headers)
        if exc.status_code == 422:
            return error_pages.json(422, exc.detail, dict(exc.headers or {}))
        return await http_exception_handler(request, exc)

    @app.exception_handler(unit_portal.NoUnit)
    async def no_unit(request: Request, exc: unit_portal.NoUnit) -> Response:
        if error_pages.wants_page(request):
            return error_pages.page(request, 403, error_pages.message_zh(403, str(exc)))
        return await http_exception_handler(request, StarletteHTTPException(403, str(exc)))

    @app.exception_handler(Invalid)
    def invalid(request: Request, exc: Invalid) -> Response:
        if error_pages.wants_page(request):
            items = [err.zh for err in exc.errors.values()]
            return error_pages.page(request, 422, error_pages.GENERIC[422], items)
        return field_errors(exc.errors)

    @app.exception_handler(IllegalTransition)
    def illegal(request: Request, exc: IllegalTransition) -> Response:
        return error_pages.answer(request, 409, str(exc), exc.message_zh)

    @app.exception_handler(Refused)
    def refused(request: Request, exc: Refused) -> Response:
        return error_pages.answer(request, 409, str(exc), exc.message_zh)

    @app.exception_handler(ReasonRequired)
    def reason_required(request: Request, exc: ReasonRequired) -> Response:
        if error_pages.wants_page(request):
            return error_pages.page(request, 422, exc.message_zh)
        return field_errors({"reason": str(exc)})

    @app.exception_handler(AlreadyRegistered)
    def already(request: Request, exc: AlreadyRegistered) -> Response:
        if error_pages.wants_page(request):
            return error_pages.page(request, 409, f"此来电已登记为案件 {exc.case_number}。")
        return JSONResponse({"detail": str(exc), "case_number": exc.case_number}, status_code=409)

    @app.exception_handler(DossierProblem)
    def dossier_problem(request: Request, exc: DossierProblem) -> Response:
        return error_pages.answer(request, 409, str(exc), exc.zh)

    @app.exception_handler(NotFound)
    def not_found(request: Request, exc: NotFound) -> Response:
        return error_pages.answer(request, 404, str(exc))

    @app.exception_handler(CustodyError)
    def custody_refused(request: Request, exc: CustodyError) -> Response:
        return error_pages.answer(request, evidence.status_of(exc), str(exc), exc.zh)

    @app.exception_handler(Exception)
    def server_error(request: Request, _exc: Exception) -> Response:
        # Starlette logs the exception and re-raises it after this answer is sent; the
        # headers middleware is not around this one, so the answer carries them itself.
        if error_pages.wants_page(request):
            response = error_pages.page(request, 500, error_pages.GENERIC[500])
        else:
            response = error_pages.json(500, "internal server error")
        response.headers.update({**SECURITY_HEADERS, "Cache-Control": NO_STORE})
        return response

    # Before /static, which would otherwise answer for its paths.
    app.mount("/static/swagger-ui", openapi_doc.swagger_ui_files(), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(login.router)
    # Before calls and cases: the search routes answer GET /api/calls and /api/cases.
    app.include_router(search_api.router)
    app.include_router(calls.router)
    app.include_router(live.router)
    app.include_router(evidence.router)
    app.include_router(evidence_pages.router)
    app.include_router(cases.router)
    app.include_router(work.router)
    app.include_router(knowledge.router)
    app.include_router(handling.router)
    app.include_router(unit_api.router)
    app.include_router(pages.router)
    app.include_router(handling_pages.router)
    app.include_router(unit_pages.router)
    app.include_router(registration_pages.router)
    app.include_router(users_api.router)
    app.include_router(users_pages.router)
    app.include_router(search_pages.router)
    app.include_router(callback_api.router)
    app.include_router(callback_pages.router)
    app.include_router(report_pages.router)  # 统计报表 and /api/reports (H11)
    app.include_router(metrics.router)  # /metrics: loopback or a bearer token (api/metrics.py)
    app.include_router(report_windows.router)  # 红旗窗口 (api/report_windows.py)
    app.include_router(report_hot.router)  # 热点诉求 (api/report_hot.py)
    app.include_router(bulletin_pages.router)  # 通报 (api/bulletin_pages.py)
    app.include_router(bulletin_pages.api_router)
    app.include_router(print_pages.router)  # a case's print forms and their PDF
    openapi_doc.install(app)
    return app
