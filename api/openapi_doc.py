"""The published API description, behind a log-in like every other route.

``/openapi.json`` and ``/docs`` need a session. ``/docs`` is Swagger UI from the
``swagger-ui-py`` package (its static files only), served under ``/static/swagger-ui/`` (no
CDN: a hotline may have no internet) and started by ``static/api-docs.js``, so the page needs
no inline script and keeps the console's Content-Security-Policy. There is no ``/redoc``: no
Python package ships ReDoc without a web framework of its own.

The schema says what any route may answer besides its own success: the refusals every route
shares (no session, wrong role or CSRF token, not found, conflict, body too large, not valid
input, too many attempts) are added to every operation in one place, with the shapes the app
really sends, and the session cookie and CSRF header are declared as its security schemes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.auth import COOKIE, SAFE_METHODS, LoginDep

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

ERROR = {"$ref": "#/components/schemas/Error"}
VALIDATION = {"$ref": "#/components/schemas/HTTPValidationError"}
SHARED_REFUSALS = {
    "400": "Malformed request (e.g. a multipart body that cannot be parsed)",
    "401": "Not logged in (or, for log-in, wrong user name or password)",
    "403": "The role may not do this, or the CSRF token is missing or wrong",
    "404": "Something named in the request does not exist",
    "409": "The request conflicts with the current state",
    "413": "Request body larger than the configured limit",
    "429": "Too many attempts; wait for Retry-After seconds",
}
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {
            "title": "Location",
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
    },
    "required": ["loc", "msg", "type"],
}
HTTP_VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "title": "Detail",
            "type": "array",
            "items": {"$ref": "#/components/schemas/ValidationError"},
        }
    },
    "required": ["detail"],
}
SECURITY_SCHEMES = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "Set by POST /api/session",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "Returned by POST /api/session; needed by every change",
    },
}
PUBLIC_OPERATIONS = {("/api/session", "post")}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the shared refusals and security added."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
    schemas["HTTPValidationError"] = HTTP_VALIDATION_ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status, description in SHARED_REFUSALS.items():
                responses.setdefault(status, _json(ERROR, description))
            responses["422"] = _json(VALIDATION, "Invalid input: one entry per wrong field")
            if (path, method) in PUBLIC_OPERATIONS:
                operation["security"] = []
            elif method.upper() in SAFE_METHODS:
                operation["security"] = [{"session": []}]
            else:
                operation["security"] = [{"session": [], "csrf": []}]
    return document


def install(app: FastAPI) -> None:
    """Serve the description (built once) through :func:`describe`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(router)


@router.get("/openapi.json")
def openapi_json(request: Request, _login: LoginDep) -> JSONResponse:
    return JSONResponse(request.app.openapi())


def swagger_ui_files() -> StaticFiles:
    """Swagger UI's scripts and style sheet, as installed with ``swagger-ui-py`` (found, not
    imported: none of its framework glue runs)."""
    return StaticFiles(packages=[("swagger_ui", "static")])


@router.get("/docs")
def swagger(request: Request, login: LoginDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "api_docs.html", {"login": login})
