"""Log-in and log-out: the page for people and ``/api/session`` for programs."""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from accounts import service
from accounts.lockout import AddressBudget, AddressOverBudget, LockoutPolicy
from accounts.models import Role, User
from api.auth import COOKIE, LoginDep, check_csrf
from api.deps import SessionDep, SettingsDep, WriterDep
from core.db import transaction
from core.settings import Settings

router = APIRouter()
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
REFUSED = (
    "wrong user name or password, or the account is locked for a while after repeated failures"
)
log = logging.getLogger(__name__)


class Credentials(BaseModel):
    username: str
    password: str


class SessionPublic(BaseModel):
    username: str
    display_name: str
    role: Role
    csrf_token: str


def _policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(
        settings.login_max_failures, dt.timedelta(minutes=settings.login_lock_minutes)
    )


def address_budget(settings: Settings) -> AddressBudget:
    """The per-address limit of failed log-ins (counted in the database, shared by every
    API host); ``create_app`` keeps one per app."""
    return AddressBudget(
        settings.login_address_max_failures,
        dt.timedelta(minutes=settings.login_address_window_minutes),
    )


class TooManyAttempts(Exception):
    def __init__(self, retry_after: dt.timedelta) -> None:
        super().__init__("too many failed log-ins from this address")
        self.seconds = max(1, math.ceil(retry_after.total_seconds()))


def _log_in(
    request: Request,
    response: Response,
    writer: sessionmaker[Session],
    settings: Settings,
    username: str,
    password: str,
) -> tuple[User, service.NewSession]:
    """Log in or raise LoginRefused / TooManyAttempts. The address's slot is taken before
    anything else and given back unless the attempt fails."""
    now = dt.datetime.now(dt.UTC)
    address = request.client.host if request.client else ""
    budget: AddressBudget = request.app.state.login_budget
    try:
        with transaction(writer) as session:
            slot = budget.take(session, address, now)
    except AddressOverBudget as over:
        log.warning("log-in from %s refused: too many failures (retry in %s)", address, over.wait)
        raise TooManyAttempts(over.wait) from over
    try:
        user_id = service.authenticate(writer, username, password, now, _policy(settings))
        with transaction(writer) as session:
            user = service.record_success(session, user_id, password)
            new = service.start_session(
                session, user, address, now, dt.timedelta(hours=settings.session_hours)
            )
    except service.LoginRefused as refused:
        log.warning("log-in as %r from %s refused: %s", username[:64], address, refused.reason)
        raise
    except BaseException:
        _give_back(writer, budget, slot)
        raise
    _give_back(writer, budget, slot)
    response.set_cookie(
        COOKIE,
        new.token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        path="/",
        secure=settings.environment == "production",
    )
    return user, new


def _give_back(writer: sessionmaker[Session], budget: AddressBudget, slot: int) -> None:
    with transaction(writer) as session:
        budget.give_back(session, slot)


def _refusal_page_text(settings: Settings) -> str:
    """The one answer to any refused log-in: it never says whether the name exists or is
    locked, and tells a locked-out person what to do."""
    return (
        f"用户名或密码错误。连续输错 {settings.login_max_failures} 次后账户将锁定 "
        f"{settings.login_lock_minutes:g} 分钟，锁定期间即使密码正确也无法登录，"
        "请稍后再试或联系系统管理员。"
    )


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _form(
    request: Request,
    settings: Settings,
    error: str = "",
    username: str = "",
    next_url: str = "/",
    status_code: int = 200,
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"error": error, "username": username, "next": _safe_next(next_url), "csrf": token},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        secure=settings.environment == "production",
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:
    return _form(request, settings, next_url=next)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
def login_submit(
    request: Request,
    writer: WriterDep,
    settings: SettingsDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        return _form(request, settings, "页面已过期，请重新登录", username, next, 403)
    if not username or not password:
        return _form(request, settings, "请输入用户名和密码", username, next, 400)
    response = RedirectResponse(_safe_next(next), status_code=303)
    try:
        _log_in(request, response, writer, settings, username, password)
    except service.LoginRefused:
        return _form(request, settings, _refusal_page_text(settings), username, next, 401)
    except TooManyAttempts as refused:
        page = _form(
            request,
            settings,
            f"登录尝试过于频繁，请 {math.ceil(refused.seconds / 60)} 分钟后再试。",
            username,
            next,
            429,
        )
        page.headers["Retry-After"] = str(refused.seconds)
        return page
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, db: SessionDep, login: LoginDep) -> Response:
    await check_csrf(request, login)
    service.end_session(db, request.cookies.get(COOKIE, ""))
    db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post(
    "/api/session",
    response_model=SessionPublic,
    tags=["session"],
    responses={
        401: {
            "description": "Wrong user name or password, or the account "
            "is locked (the answer does not say which)"
        },
        429: {
            "description": "Too many failed log-ins from this address; "
            "the Retry-After header says how many seconds to wait"
        },
    },
)
def api_login(
    credentials: Credentials,
    request: Request,
    response: Response,
    writer: WriterDep,
    settings: SettingsDep,
) -> SessionPublic:
    """Log in; the session cookie is set, and the CSRF token to send with every change is
    returned. Repeated failures lock the account for a while, and too many from one address
    are answered 429 with Retry-After."""
    try:
        user, new = _log_in(
            request, response, writer, settings, credentials.username, credentials.password
        )
    except service.LoginRefused as refused:
        raise HTTPException(status_code=401, detail=REFUSED) from refused
    except TooManyAttempts as refused:
        raise HTTPException(
            status_code=429,
            detail="too many failed log-ins from this address; retry later",
            headers={"Retry-After": str(refused.seconds)},
        ) from refused
    return SessionPublic(
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        csrf_token=new.csrf_token,
    )


@router.get("/api/session", response_model=SessionPublic, tags=["session"])
def api_whoami(login: LoginDep) -> SessionPublic:
    return SessionPublic(
        username=login.username,
        display_name=login.display_name,
        role=login.role,
        csrf_token=login.csrf_token,
    )


@router.delete("/api/session", status_code=204, tags=["session"])
async def api_logout(request: Request, db: SessionDep, login: LoginDep) -> Response:
    await check_csrf(request, login)
    service.end_session(db, request.cookies.get(COOKIE, ""))
    db.commit()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response
