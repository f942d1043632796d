"""The administrator's user pages (用户管理) and everyone's 修改密码 page.

``/users`` lists the accounts with their role, unit, status and bound phone, the operator
phones set up and the latest account changes; its forms create an account, disable or
enable it, reset its password, lift its lock and bind a phone. A password the console issues
is shown once, on the page the form leads to (post, redirect, get: a reload never issues
another), and must be changed at the next log-in: until then ``PasswordChangeGate`` sends
every page to ``/password`` and answers the JSON API 403.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from accounts import admin, issued_secrets, service
from accounts.models import ROLE_LABELS
from api.auth import COOKIE, Login, LoginDep, check_csrf
from api.deps import SessionDep, SettingsDep, WriterDep, now
from api.pages import render, see
from api.users_api import Admin, account_rows, create_account, invalid
from core.db import transaction
from core.settings import Settings
from dispatch.cases.registration import Invalid
from dispatch.routing import units

router = APIRouter(include_in_schema=False)
ISSUED_TTL = dt.timedelta(minutes=10)
ISSUED_COOKIE = "hotline_issued_"  # + the token: one cookie per password being shown
ISSUED_TOKEN = re.compile(r"[A-Za-z0-9_-]{24}")  # secrets.token_urlsafe(18)
CREATE_FIELDS = ("username", "display_name", "role", "unit_id", "phone")


@dataclass(frozen=True)
class IssuedNote:
    username: str
    display_name: str
    password: str
    why: str  # "created" or "reset"


class OneTimeSecrets:
    """Passwords the console issued, until the administrator who issued them has seen them
    once (at most ``ttl``). Kept in the database (``accounts.issued_secrets``), so that the
    page after the redirect may be served by any API host: the row holds the note sealed,
    the pad that opens it goes to the administrator's browser in a short-lived cookie
    (HttpOnly, SameSite=Strict, path /users), and the page's address carries only the
    token that names the row. The first read deletes the row."""

    def __init__(self, ttl: dt.timedelta = ISSUED_TTL) -> None:
        self.ttl = ttl

    def put(
        self, sessions: sessionmaker[Session], owner_id: str, note: IssuedNote, at: dt.datetime
    ) -> issued_secrets.Issued:
        secret = json.dumps(
            [note.username, note.display_name, note.password, note.why], ensure_ascii=False
        ).encode()
        with transaction(sessions) as session:
            return issued_secrets.put(session, owner_id, secret, at, self.ttl)

    def take(
        self,
        sessions: sessionmaker[Session],
        token: str,
        pad: bytes,
        owner_id: str,
        at: dt.datetime,
    ) -> IssuedNote | None:
        with transaction(sessions) as session:
            secret = issued_secrets.take(session, token, pad, owner_id, at)
        if secret is None:
            return None
        try:
            username, display_name, password, why = json.loads(secret)
        except ValueError:
            return None
        return IssuedNote(username, display_name, password, why)

    def cookie_name(self, token: str) -> str:
        return ISSUED_COOKIE + token

    def see_once(
        self, request: Request, settings: Settings, owner_id: str, note: IssuedNote
    ) -> Response:
        """Keep the note and send the administrator to the page that shows it."""
        sessions: sessionmaker[Session] = request.app.state.sessions
        issued = self.put(sessions, owner_id, note, now())
        response = see(f"/users?issued={issued.token}")
        response.set_cookie(
            self.cookie_name(issued.token),
            base64.urlsafe_b64encode(issued.pad).decode("ascii"),
            max_age=int(self.ttl.total_seconds()),
            path="/users",
            httponly=True,
            samesite="strict",
            secure=settings.environment == "production",
        )
        return response

    def shown(self, request: Request, token: str, owner_id: str) -> IssuedNote | None:
        """The note named by ``token``, once, opened with this browser's pad."""
        if not ISSUED_TOKEN.fullmatch(token):
            return None
        try:
            pad = base64.urlsafe_b64decode(request.cookies.get(self.cookie_name(token), ""))
        except ValueError:
            return None
        if not pad:
            return None
        sessions: sessionmaker[Session] = request.app.state.sessions
        return self.take(sessions, token, pad, owner_id, now())


def issued_store(request: Request) -> OneTimeSecrets:
    store: OneTimeSecrets = request.app.state.issued_passwords
    return store


# -- the user list ---------------------------------------------------------------------------


def _users_page(
    request: Request,
    session: Session,
    settings: Settings,
    login: Login,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    row_errors: dict[str, str] | None = None,
    issued: IssuedNote | None = None,
    issued_gone: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    rows = account_rows(session)
    holders = admin.phone_holders(session)
    return render(
        request,
        "users.html",
        login,
        settings,
        status_code=status_code,
        rows=rows,
        roles=ROLE_LABELS,
        phone_roles=[r.value for r in admin.PHONE_ROLES],
        unit_choices=units.list_units(session),
        endpoints=settings.operators,
        holders=holders,
        events=admin.events(session, 50),
        action_labels_accounts=admin.ACTION_LABELS,
        detail_zh=admin.detail_zh,
        values=values or {},
        errors=errors or {},
        row_errors=row_errors or {},
        issued=issued,
        issued_gone=issued_gone,
        now_utc=now(),
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: Admin, issued: str = ""
) -> HTMLResponse:
    store = issued_store(request)
    note = store.shown(request, issued, login.user_id) if issued else None
    response = _users_page(
        request, session, settings, login, issued=note, issued_gone=bool(issued) and note is None
    )
    if issued and ISSUED_TOKEN.fullmatch(issued):
        response.delete_cookie(store.cookie_name(issued), path="/users")
    return response


@router.post("/users", response_class=HTMLResponse)
async def users_create(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in CREATE_FIELDS}
    try:
        issued = await run_in_threadpool(create_account, sessions, settings, values, login, now())
    except Invalid as exc:
        with sessions() as session:
            return _users_page(
                request,
                session,
                settings,
                login,
                values=values,
                errors={name: err.zh for name, err in exc.errors.items()},
                status_code=422,
            )
    user = issued.user
    note = IssuedNote(user.username, user.display_name, issued.password, "created")
    return await run_in_threadpool(
        issued_store(request).see_once, request, settings, login.user_id, note
    )


async def _row_change(
    request: Request,
    sessions: WriterDep,
    settings: Settings,
    login: Login,
    user_id: str,
    change: Any,
) -> Response:
    """Apply a change to one account; a refusal comes back at its row."""
    try:
        result = await run_in_threadpool(change)
    except admin.AccountNotFound:
        raise HTTPException(status_code=404, detail="user not found") from None
    except admin.AccountRefused as exc:
        message, status = exc.zh, 409
    except admin.AccountInvalid as exc:
        message, status = "；".join(p.zh for p in exc.errors.values()), 422
    else:
        if isinstance(result, admin.Issued):
            note = IssuedNote(
                result.user.username, result.user.display_name, result.password, "reset"
            )
            return await run_in_threadpool(
                issued_store(request).see_once, request, settings, login.user_id, note
            )
        return see(f"/users#user-{user_id}")
    with sessions() as session:
        return _users_page(
            request, session, settings, login, row_errors={user_id: message}, status_code=status
        )


@router.post("/users/{user_id}/disable", response_class=HTMLResponse)
async def users_disable(
    user_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> Response:
    def change() -> None:
        with transaction(sessions) as session:
            admin.set_active(session, user_id, False, login.user_id, login.username, now())

    return await _row_change(request, sessions, settings, login, user_id, change)


@router.post("/users/{user_id}/enable", response_class=HTMLResponse)
async def users_enable(
    user_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> Response:
    def change() -> None:
        with transaction(sessions) as session:
            admin.set_active(session, user_id, True, login.user_id, login.username, now())

    return await _row_change(request, sessions, settings, login, user_id, change)


@router.post("/users/{user_id}/password-reset", response_class=HTMLResponse)
async def users_reset(
    user_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> Response:
    def change() -> admin.Issued:
        with transaction(sessions) as session:
            return admin.reset_password(session, user_id, login.user_id, login.username, now())

    return await _row_change(request, sessions, settings, login, user_id, change)


@router.post("/users/{user_id}/unlock", response_class=HTMLResponse)
async def users_unlock(
    user_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> Response:
    def change() -> None:
        with transaction(sessions) as session:
            admin.unlock(session, user_id, login.username, now())

    return await _row_change(request, sessions, settings, login, user_id, change)


@router.post("/users/{user_id}/phone", response_class=HTMLResponse)
async def users_phone(
    user_id: str, request: Request, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> Response:
    phone = str((await request.form()).get("phone", ""))

    def change() -> None:
        with transaction(sessions) as session:
            admin.bind_phone(session, user_id, phone, login.username, now(), settings.operators)

    return await _row_change(request, sessions, settings, login, user_id, change)


# -- one's own password ----------------------------------------------------------------------


def _password_page(
    request: Request,
    settings: Settings,
    login: Login,
    must_change: bool,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "password.html",
        login,
        settings,
        status_code=status_code,
        must_change=must_change,
        errors=errors or {},
        min_length=service.MIN_PASSWORD_LENGTH,
    )


@router.get("/password", response_class=HTMLResponse)
def password_page(
    request: Request, session: SessionDep, settings: SettingsDep, login: LoginDep
) -> HTMLResponse:
    user = admin.get_user(session, login.user_id)
    return _password_page(request, settings, login, user.must_change_password)


@router.post("/password", response_class=HTMLResponse)
async def password_change(
    request: Request, sessions: WriterDep, settings: SettingsDep, login: LoginDep
) -> Response:
    await check_csrf(request, login)
    form = await request.form()
    current = str(form.get("current_password", ""))
    new, again = str(form.get("new_password", "")), str(form.get("new_password_again", ""))
    token = request.cookies.get(COOKIE, "")

    def change() -> None:
        with transaction(sessions) as session:
            admin.change_password(session, login.user_id, current, new, now(), token)

    errors: dict[str, str] = {}
    if new != again:
        errors["new_password_again"] = "两次输入的新密码不一致"
    else:
        try:
            await run_in_threadpool(change)
        except admin.AccountInvalid as exc:
            errors = {name: err.zh for name, err in invalid(exc).errors.items()}
    if errors:
        with sessions() as session:
            must = admin.get_user(session, login.user_id).must_change_password
        return _password_page(request, settings, login, must, errors, status_code=422)
    return see("/")


# -- until an issued password is changed ----------------------------------------------------

# What a user who must change their password may still reach.
OPEN_PATHS = frozenset(
    {"/password", "/login", "/logout", "/healthz", "/api/session", "/api/session/password"}
)
CHANGE_REQUIRED = "password change required: POST /api/session/password first"


class PasswordChangeGate:
    """Sends a user whose password an administrator issued to ``/password`` (pages) or
    answers 403 (JSON API) until they have chosen their own; log-in, log-out and the
    static files stay open.

    A session found clear stays clear for its whole life: a password is issued only to an
    account without sessions (a new one) or together with ending them all (a reset), see
    ``accounts.admin``. So each session is looked up until it is found clear, and then
    remembered (by its token's hash, at most ``remembered`` of them): the gate costs a
    dictionary lookup, not a query, on nearly every request."""

    def __init__(self, app: ASGIApp, remembered: int = 10_000) -> None:
        self.app = app
        self.remembered = remembered
        self.clear: OrderedDict[str, None] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        token = HTTPConnection(scope).cookies.get(COOKIE, "")
        if token and await self._must_change(scope["app"], token):
            response: Response
            if path.startswith("/api/"):
                response = JSONResponse({"detail": CHANGE_REQUIRED}, status_code=403)
            else:
                response = RedirectResponse("/password", status_code=303)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _must_change(self, app: Any, token: str) -> bool:
        key = service.token_hash(token[:256])
        if key in self.clear:
            self.clear.move_to_end(key)
            return False
        must = await run_in_threadpool(self._look_up, app, token)
        if not must:
            self.clear[key] = None
            while len(self.clear) > self.remembered:
                self.clear.popitem(last=False)
        return must

    @staticmethod
    def _look_up(app: Any, token: str) -> bool:
        with app.state.sessions() as session:
            return admin.must_change_password(session, token, now())
