"""Log-in and log-out: the page for people and ``/api/session`` for programs."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from accounts import service
from accounts.lockout import LockoutPolicy
from accounts.models import Role, User
from api.auth import COOKIE, LoginDep, check_csrf
from api.deps import SessionDep, SettingsDep
from hotline.settings import Settings

router = APIRouter()
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
LOGIN_CSRF_COOKIE = "hotline_login_csrf"


class Credentials(BaseModel):
    username: str
    password: str


class SessionPublic(BaseModel):
    username: str
    display_name: str
    role: Role
    csrf_token: str


def _policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(settings.login_max_failures,
                         dt.timedelta(minutes=settings.login_lock_minutes))


def _log_in(request: Request, response: Response, db: SessionDep, settings: Settings,
            username: str, password: str) -> tuple[User, service.NewSession]:
    now = dt.datetime.now(dt.UTC)
    try:
        user = service.authenticate(db, username, password, now, _policy(settings))
    except service.LoginRefused:
        db.commit()  # the failure count must stick
        raise
    new = service.start_session(db, user, request.client.host if request.client else "", now,
                                dt.timedelta(hours=settings.session_hours))
    db.commit()
    response.set_cookie(COOKIE, new.token, max_age=int(settings.session_hours * 3600),
                        httponly=True, samesite="strict", path="/",
                        secure=settings.environment == "production")
    return user, new


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _form(request: Request, settings: Settings, error: str = "", username: str = "",
          next_url: str = "/", status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request, "login.html",
        {"error": error, "username": username, "next": _safe_next(next_url), "csrf": token},
        status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=settings.environment == "production")
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:
    return _form(request, settings, next_url=next)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
def login_submit(
    request: Request, db: SessionDep, settings: SettingsDep,
    username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        return _form(request, settings, "页面已过期，请重新登录", username, next, 403)
    if not username or not password:
        return _form(request, settings, "请输入用户名和密码", username, next, 400)
    response = RedirectResponse(_safe_next(next), status_code=303)
    try:
        _log_in(request, response, db, settings, username, password)
    except service.LoginRefused as refused:
        if refused.locked_until is not None:
            until = refused.locked_until.astimezone(ZoneInfo(settings.timezone))
            message = f"登录失败次数过多，账户已锁定，请于 {until:%H:%M} 后再试"
        else:
            message = "用户名或密码错误"
        return _form(request, settings, message, username, next, 401)
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


@router.post("/api/session", response_model=SessionPublic, tags=["session"])
def api_login(credentials: Credentials, request: Request, response: Response, db: SessionDep,
              settings: SettingsDep) -> SessionPublic:
    """Log in; the session cookie is set, and the CSRF token to send with every change is
    returned. Repeated failures lock the account."""
    try:
        user, new = _log_in(request, response, db, settings, credentials.username,
                            credentials.password)
    except service.LoginRefused as refused:
        detail = ("account locked after repeated failures" if refused.locked_until
                  else "wrong user name or password")
        raise HTTPException(status_code=401, detail=detail) from refused
    return SessionPublic(username=user.username, display_name=user.display_name,
                         role=Role(user.role), csrf_token=new.csrf_token)


@router.get("/api/session", response_model=SessionPublic, tags=["session"])
def api_whoami(login: LoginDep) -> SessionPublic:
    return SessionPublic(username=login.username, display_name=login.display_name,
                         role=login.role, csrf_token=login.csrf_token)


@router.delete("/api/session", status_code=204, tags=["session"])
async def api_logout(request: Request, db: SessionDep, login: LoginDep) -> Response:
    await check_csrf(request, login)
    service.end_session(db, request.cookies.get(COOKIE, ""))
    db.commit()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response

