"""Managing users over JSON, for administrators: list accounts (role, unit, status, bound
phone), create one (the generated password is in the answer, once), disable or enable it,
reset its password, lift its lock, bind an operator's phone; the audit of those changes.
And, for everyone, changing one's own password (``POST /api/session/password``), which an
issued password requires before anything else.

The console's pages (``api.users_pages``) call the same functions here, so the two doors
apply the same rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from accounts import admin
from accounts.models import AccountEvent, Role, User
from api.auth import COOKIE, Login, LoginDep, check_csrf, require
from api.deps import SessionDep, SettingsDep, WriterDep, now
from core.db import transaction
from core.settings import Settings
from dispatch.cases.handling_models import Unit
from dispatch.cases.registration import FieldError, Invalid
from dispatch.routing import units

router = APIRouter(tags=["users"])
Admin = Annotated[Login, Depends(require(Role.ADMIN))]


class UserPublic(BaseModel):
    id: str
    username: str
    display_name: str
    role: Role
    active: bool
    phone: str
    unit_id: str | None
    unit_name: str | None
    locked_until: dt.datetime | None
    must_change_password: bool
    created_at: dt.datetime


class UserCreate(BaseModel):
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=128)
    role: Role
    phone: str = Field(default="", max_length=64, description="An operator phone to bind")
    unit_id: str = Field(default="", max_length=32, description="A unit handler's unit")


class IssuedPublic(BaseModel):
    """A password issued by an administrator: shown this once; the user must change it at
    their next log-in."""

    user: UserPublic
    password: str


class PhoneIn(BaseModel):
    phone: str = Field(default="", max_length=64, description="Empty: unbind")


class PhonePublic(BaseModel):
    phone: str
    user_id: str | None
    username: str | None


class AccountEventPublic(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    user_id: str
    username: str
    action: admin.AccountAction
    detail: str


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


# -- the use cases both doors call -----------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    user: User
    unit: Unit | None


def account_rows(session: Session) -> list[AccountRow]:
    """Every account with the unit its holder belongs to (unit handlers)."""
    unit_of: dict[str, Unit] = {}
    for unit in units.list_units(session, active_only=False):
        for member in units.members(session, unit.id):
            unit_of[member.id] = unit
    return [AccountRow(user, unit_of.get(user.id)) for user in admin.list_users(session)]


def invalid(exc: admin.AccountInvalid) -> Invalid:
    """The accounts layer's field problems as the console's field errors."""
    return Invalid({name: FieldError(p.zh, p.en) for name, p in exc.errors.items()})


def create_account(
    sessions: sessionmaker[Session],
    settings: Settings,
    fields: dict[str, str],
    login: Login,
    at: dt.datetime,
) -> admin.Issued:
    """A new account (and, for a unit handler, its unit), in one transaction. ``Invalid``
    with a message per wrong field."""
    role, unit_id = fields.get("role", ""), fields.get("unit_id", "").strip()
    new = admin.NewAccount(
        username=fields.get("username", ""),
        display_name=fields.get("display_name", ""),
        role=role,
        phone=fields.get("phone", ""),
    )
    unit_problem = None
    if role == Role.UNIT_HANDLER and not unit_id:
        unit_problem = FieldError("请选择承办人所属单位", "a unit handler needs a unit")
    elif role != Role.UNIT_HANDLER and unit_id:
        unit_problem = FieldError(
            "只有承办单位经办人属于单位", "only unit handlers belong to a unit"
        )
    with transaction(sessions) as session:
        errors: dict[str, FieldError] = {}
        unit = None
        if unit_problem is not None:
            errors["unit_id"] = unit_problem
        elif unit_id:
            try:
                unit = units.active_unit(session, unit_id)
            except Invalid as exc:
                errors.update(exc.errors)
        try:
            issued = admin.create_account(session, new, login.username, at, settings.operators)
        except admin.AccountInvalid as exc:
            errors = {**invalid(exc).errors, **errors}
        if errors:
            raise Invalid(errors)  # nothing of it is kept
        if unit is not None:
            units.add_member(session, issued.user, unit)
        return issued


def user_public(row: AccountRow) -> UserPublic:
    user = row.user
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        active=user.active,
        phone=user.phone,
        unit_id=row.unit.id if row.unit else None,
        unit_name=row.unit.name if row.unit else None,
        locked_until=user.locked_until,
        must_change_password=user.must_change_password,
        created_at=user.created_at,
    )


def _row(session: Session, user_id: str) -> UserPublic:
    user = admin.get_user(session, user_id)
    return user_public(AccountRow(user, units.unit_of_user(session, user.id)))


def _refused(exc: admin.AccountRefused) -> HTTPException:
    return HTTPException(status_code=409, detail=str(exc))


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail="user not found")


# -- routes ----------------------------------------------------------------------------------


@router.get("/api/users", response_model=list[UserPublic])
def list_users(session: SessionDep, _login: Admin) -> list[UserPublic]:
    """Every account: role, unit, status (active, locked, must change its password), phone."""
    return [user_public(row) for row in account_rows(session)]


@router.post("/api/users", response_model=IssuedPublic, status_code=201)
def create_user(
    body: UserCreate, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> IssuedPublic:
    """Create an account with a generated password, returned here once; the user must
    change it at their first log-in. ``phone``: one of the operator phones set up (operators
    and supervisors); ``unit_id``: a unit handler's unit (required for them)."""
    fields = {k: str(v) for k, v in body.model_dump().items()}
    issued = create_account(sessions, settings, fields, login, now())
    with sessions() as session:
        return IssuedPublic(user=_row(session, issued.user.id), password=issued.password)


@router.post("/api/users/{user_id}/disable", response_model=UserPublic)
def disable_user(user_id: str, sessions: WriterDep, login: Admin) -> UserPublic:
    """Disable the account: its sessions end at once and it can no longer log in."""
    return _set_active(sessions, user_id, False, login)


@router.post("/api/users/{user_id}/enable", response_model=UserPublic)
def enable_user(user_id: str, sessions: WriterDep, login: Admin) -> UserPublic:
    return _set_active(sessions, user_id, True, login)


def _set_active(
    sessions: sessionmaker[Session], user_id: str, active: bool, login: Login
) -> UserPublic:
    try:
        with transaction(sessions) as session:
            admin.set_active(session, user_id, active, login.user_id, login.username, now())
            return _row(session, user_id)
    except admin.AccountNotFound:
        raise _not_found() from None
    except admin.AccountRefused as exc:
        raise _refused(exc) from None


@router.post("/api/users/{user_id}/password-reset", response_model=IssuedPublic)
def reset_password(user_id: str, sessions: WriterDep, login: Admin) -> IssuedPublic:
    """A new generated password (returned here once), to be changed at the next log-in; the
    account's sessions end and its lock is lifted."""
    try:
        with transaction(sessions) as session:
            issued = admin.reset_password(session, user_id, login.user_id, login.username, now())
            return IssuedPublic(user=_row(session, user_id), password=issued.password)
    except admin.AccountNotFound:
        raise _not_found() from None
    except admin.AccountRefused as exc:
        raise _refused(exc) from None


@router.post("/api/users/{user_id}/unlock", response_model=UserPublic)
def unlock_user(user_id: str, sessions: WriterDep, login: Admin) -> UserPublic:
    """Lift the lock that repeated failed log-ins put on the account."""
    try:
        with transaction(sessions) as session:
            admin.unlock(session, user_id, login.username, now())
            return _row(session, user_id)
    except admin.AccountNotFound:
        raise _not_found() from None


@router.put("/api/users/{user_id}/phone", response_model=UserPublic)
def bind_phone(
    user_id: str, body: PhoneIn, sessions: WriterDep, settings: SettingsDep, login: Admin
) -> UserPublic:
    """Bind one of the operator phones set up (``HOTLINE_OPERATORS``) to an operator's or
    supervisor's account, so calls ringing there show on their console and callbacks are
    dialled through it; an empty phone unbinds. A phone is bound to one account at a time."""
    try:
        with transaction(sessions) as session:
            admin.bind_phone(
                session, user_id, body.phone, login.username, now(), settings.operators
            )
            return _row(session, user_id)
    except admin.AccountNotFound:
        raise _not_found() from None
    except admin.AccountInvalid as exc:
        raise invalid(exc) from None


@router.get("/api/users/phones", response_model=list[PhonePublic])
def phones(session: SessionDep, settings: SettingsDep, _login: Admin) -> list[PhonePublic]:
    """The operator phones set up, each with the account bound to it."""
    holders = admin.phone_holders(session)
    return [
        PhonePublic(
            phone=phone,
            user_id=holders[phone].id if phone in holders else None,
            username=holders[phone].username if phone in holders else None,
        )
        for phone in settings.operators
    ]


@router.get("/api/users/events", response_model=list[AccountEventPublic])
def account_events(
    session: SessionDep, _login: Admin, limit: int = 100
) -> list[AccountEventPublic]:
    """The latest changes to accounts (who, what, to whom, when), newest first."""
    return [event_public(e) for e in admin.events(session, max(1, min(limit, 1000)))]


def event_public(event: AccountEvent) -> AccountEventPublic:
    return AccountEventPublic(
        id=event.id,
        at=event.at,
        actor=event.actor,
        user_id=event.user_id,
        username=event.username,
        action=admin.AccountAction(event.action),
        detail=event.detail,
    )


@router.post("/api/session/password", status_code=204, tags=["session"])
async def change_password(
    body: PasswordChangeIn, request: Request, sessions: WriterDep, login: LoginDep
) -> Response:
    """Change your own password (required after a password an administrator issued).
    Your other sessions end; this one stays."""
    await check_csrf(request, login)
    token = request.cookies.get(COOKIE, "")

    def change() -> None:
        with transaction(sessions) as session:
            admin.change_password(
                session, login.user_id, body.current_password, body.new_password, now(), token
            )

    try:
        await run_in_threadpool(change)
    except admin.AccountInvalid as exc:
        raise invalid(exc) from None
    return Response(status_code=204)
