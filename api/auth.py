"""Who is asking: the session cookie, role checks and CSRF, as FastAPI dependencies.

No session → 401 (pages redirect to the log-in page); wrong role → 403. Every request that
changes something must carry the session's CSRF token, in the ``X-CSRF-Token`` header (API)
or the ``csrf_token`` form field (pages).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from accounts import service
from accounts.models import LEADERS, Role
from api.deps import SessionDep

COOKIE = "hotline_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Login:
    user_id: str
    username: str
    display_name: str
    role: Role
    csrf_token: str
    phone: str = ""


class NotLoggedIn(Exception):
    """Raised by the dependencies; the app answers 401 (API) or redirects (pages)."""


def current_login(request: Request, session: SessionDep) -> Login:
    found = service.find_session(session, request.cookies.get(COOKIE, ""), dt.datetime.now(dt.UTC))
    if found is None:
        raise NotLoggedIn
    user = found.user
    return Login(
        user.id, user.username, user.display_name, Role(user.role), found.csrf_token, user.phone
    )


LoginDep = Annotated[Login, Depends(current_login)]


async def check_csrf(request: Request, login: Login) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf_token", ""))
    if not secrets.compare_digest(sent.encode(), login.csrf_token.encode()):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token")


def require(*roles: Role) -> Callable[[Request, Login], Awaitable[Login]]:
    """A dependency admitting only these roles (and checking CSRF on changes)."""
    allowed = frozenset(roles)

    async def dependency(request: Request, login: LoginDep) -> Login:
        if login.role not in allowed:
            raise HTTPException(status_code=403, detail="your role may not do this")
        await check_csrf(request, login)
        return login

    return dependency


CALL_READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
CallReader = Annotated[Login, Depends(require(*CALL_READERS))]
CASE_WORKERS = (Role.OPERATOR, Role.SUPERVISOR)
CaseWorker = Annotated[Login, Depends(require(*CASE_WORKERS))]
KnowledgeEditor = Annotated[Login, Depends(require(Role.SUPERVISOR))]
Supervisor = Annotated[Login, Depends(require(*LEADERS))]  # the leader rule: accounts.is_leader
UnitHandler = Annotated[Login, Depends(require(Role.UNIT_HANDLER))]
INVESTIGATORS = (Role.SUPERVISOR, Role.INVESTIGATOR)
Investigator = Annotated[Login, Depends(require(*INVESTIGATORS))]
Auditor = Annotated[Login, Depends(require(Role.AUDITOR))]
IntegrityReader = Annotated[Login, Depends(require(Role.SUPERVISOR, Role.AUDITOR))]
