"""What an administrator does to accounts: create one, disable or enable it, reset its
password, lift its lock, bind an operator's phone. Every change writes an ``AccountEvent``
(who, to whom, when, what) in the same transaction, and never a password.

Passwords an administrator issues (a new account, a reset) are generated here, returned
once for the administrator to hand over, and must be replaced by the user at their next
log-in (``User.must_change_password``). Disabling an account or resetting its password ends
its sessions at once. The flag is only ever set on an account without sessions (a new one,
or a reset, which ends them): a session that did not need a new password never will (the
console's gate relies on it).

Functions take a Session; the caller owns the transaction. Refusals carry a Chinese message
for the console and an English one for the JSON API.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from accounts import service
from accounts.models import ROLE_LABELS, AccountEvent, LoginSession, Role, User

# Roles whose holders answer calls, so may have an operator phone bound.
PHONE_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR})
ENDPOINT = re.compile(r"[A-Za-z0-9]{1,64}")
DISPLAY_NAME_MAX = 128


class AccountAction(StrEnum):
    CREATED = "created"
    DISABLED = "disabled"
    ENABLED = "enabled"
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    UNLOCKED = "unlocked"
    PHONE_BOUND = "phone_bound"
    PHONE_UNBOUND = "phone_unbound"


ACTION_LABELS = {
    AccountAction.CREATED: "创建账号",
    AccountAction.DISABLED: "停用",
    AccountAction.ENABLED: "启用",
    AccountAction.PASSWORD_RESET: "重置密码",
    AccountAction.PASSWORD_CHANGED: "修改密码",
    AccountAction.UNLOCKED: "解除锁定",
    AccountAction.PHONE_BOUND: "绑定分机",
    AccountAction.PHONE_UNBOUND: "解除分机绑定",
}


@dataclass(frozen=True)
class Problem:
    zh: str
    en: str


class AccountInvalid(service.AccountError):
    """Fields that cannot be accepted, each with its message."""

    def __init__(self, errors: dict[str, Problem]) -> None:
        super().__init__("; ".join(f"{name}: {p.en}" for name, p in errors.items()))
        self.errors = errors


class AccountRefused(service.AccountError):
    """A change that is not allowed as things stand (disable yourself, the last admin…)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh


class AccountNotFound(LookupError):
    def __init__(self) -> None:
        super().__init__("user not found")


@dataclass(frozen=True)
class Issued:
    """An account and the password just issued for it (to be shown once)."""

    user: User
    password: str


@dataclass(frozen=True)
class NewAccount:
    username: str
    display_name: str
    role: str
    phone: str = ""


def generate_password() -> str:
    """A password to hand over once: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def _event(
    session: Session,
    user: User,
    action: AccountAction,
    actor: str,
    now: dt.datetime,
    detail: str = "",
) -> AccountEvent:
    event = AccountEvent(
        at=now,
        actor=actor[:64],
        user_id=user.id,
        username=user.username,
        action=action.value,
        detail=detail[:1000],
    )
    session.add(event)
    return event


def _end_sessions(session: Session, user_id: str, keep_token_hash: str = "") -> int:
    query = delete(LoginSession).where(LoginSession.user_id == user_id)
    if keep_token_hash:
        query = query.where(LoginSession.token_hash != keep_token_hash)
    result = session.execute(query.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id) if user_id else None
    if user is None:
        raise AccountNotFound
    return user


def list_users(session: Session) -> list[User]:
    """Every account: active ones first, then by role and name."""
    return list(
        session.scalars(select(User).order_by(User.active.desc(), User.role, User.username))
    )


def phone_holders(session: Session) -> dict[str, User]:
    """Each bound phone with the account it is bound to."""
    return {u.phone: u for u in session.scalars(select(User).where(User.phone != ""))}


def _check_phone(
    session: Session, phone: str, role: str, endpoints: Collection[str], user_id: str = ""
) -> str:
    phone = phone.strip()
    if not phone:
        return ""
    if role not in PHONE_ROLES:
        raise AccountInvalid(
            {
                "phone": Problem(
                    "只有话务员和督查员可以绑定话务分机",
                    "only operators and supervisors have a phone",
                )
            }
        )
    if not ENDPOINT.fullmatch(phone) or phone not in endpoints:
        raise AccountInvalid(
            {
                "phone": Problem(
                    "没有这个话务分机（可选：" + "、".join(endpoints) + "）",
                    "not one of the operator phones set up (HOTLINE_OPERATORS)",
                )
            }
        )
    holder = session.scalar(select(User).where(User.phone == phone, User.id != user_id))
    if holder is not None:
        raise AccountInvalid(
            {
                "phone": Problem(
                    f"分机 {phone} 已绑定给 {holder.username}（{holder.display_name}），"
                    "请先解除其绑定",
                    f"phone {phone} is bound to {holder.username} already",
                )
            }
        )
    return phone


def create_account(
    session: Session,
    new: NewAccount,
    actor: str,
    now: dt.datetime,
    endpoints: Collection[str],
) -> Issued:
    """A new account with a generated password that must be changed at the first log-in."""
    errors: dict[str, Problem] = {}
    username = new.username.strip()
    display_name = new.display_name.strip()
    if not service.USERNAME.fullmatch(username):
        errors["username"] = Problem(
            "用户名为 2–64 个字母、数字或 _ . -",
            "a user name is 2-64 letters, digits, '_', '.' or '-'",
        )
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        errors["username"] = Problem("该用户名已被使用", f"user {username!r} exists already")
    if not display_name:
        errors["display_name"] = Problem("请填写姓名", "a display name is required")
    elif len(display_name) > DISPLAY_NAME_MAX:
        errors["display_name"] = Problem(
            f"姓名不超过 {DISPLAY_NAME_MAX} 字", f"at most {DISPLAY_NAME_MAX} characters"
        )
    try:
        role = Role(new.role)
    except ValueError:
        errors["role"] = Problem("请选择角色", "role must be one of " + ", ".join(Role))
        role = None
    phone = ""
    if role is not None:
        try:
            phone = _check_phone(session, new.phone, role, endpoints)
        except AccountInvalid as exc:
            errors.update(exc.errors)
    if errors or role is None:
        raise AccountInvalid(errors)
    password = generate_password()
    user = service.create_user(session, username, password, role, display_name, now, phone=phone)
    user.must_change_password = True
    detail = f"role={role.value}" + (f" phone={phone}" if phone else "")
    _event(session, user, AccountAction.CREATED, actor, now, detail)
    session.flush()
    return Issued(user, password)


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
        )
        or 0
    )


def set_active(
    session: Session, user_id: str, active: bool, actor_id: str, actor: str, now: dt.datetime
) -> User:
    """Disable (its sessions end at once) or enable an account. An administrator cannot
    disable their own account, nor the last active administrator's."""
    user = get_user(session, user_id)
    if user.active == active:
        return user
    if not active:
        if user.id == actor_id:
            raise AccountRefused("不能停用自己的账号", "you cannot disable your own account")
        if user.role == Role.ADMIN and _active_admins(session) <= 1:
            raise AccountRefused(
                "这是最后一个启用的系统管理员账号，不能停用",
                "the last active administrator cannot be disabled",
            )
    user.active = active
    detail = ""
    if not active:
        ended = _end_sessions(session, user.id)
        detail = f"sessions_ended={ended}"
    else:
        user.failed_logins, user.locked_until = 0, None
    _event(
        session,
        user,
        AccountAction.ENABLED if active else AccountAction.DISABLED,
        actor,
        now,
        detail,
    )
    session.flush()
    return user


def reset_password(
    session: Session, user_id: str, actor_id: str, actor: str, now: dt.datetime
) -> Issued:
    """A new generated password, to be changed at the next log-in; the account's sessions
    end and its lock is lifted. Not for your own account (change it instead)."""
    user = get_user(session, user_id)
    if user.id == actor_id:
        raise AccountRefused(
            "请通过“修改密码”修改自己的密码", "change your own password at /api/session/password"
        )
    password = generate_password()
    user.password_hash = service.hash_password(password)
    user.must_change_password = True
    user.failed_logins, user.locked_until = 0, None
    ended = _end_sessions(session, user.id)
    _event(session, user, AccountAction.PASSWORD_RESET, actor, now, f"sessions_ended={ended}")
    session.flush()
    return Issued(user, password)


def unlock(session: Session, user_id: str, actor: str, now: dt.datetime) -> User:
    """Lift the lock repeated failed log-ins put on the account."""
    user = get_user(session, user_id)
    user.failed_logins, user.locked_until = 0, None
    _event(session, user, AccountAction.UNLOCKED, actor, now)
    session.flush()
    return user


def bind_phone(
    session: Session,
    user_id: str,
    phone: str,
    actor: str,
    now: dt.datetime,
    endpoints: Collection[str],
) -> User:
    """Bind one of the operator phones set up (``endpoints``) to the account, or unbind
    (empty ``phone``). A phone belongs to one account at a time."""
    user = get_user(session, user_id)
    phone = _check_phone(session, phone, user.role, endpoints, user.id)
    if phone == user.phone:
        return user
    before = user.phone
    user.phone = phone
    if phone:
        detail = f"phone={before}->{phone}" if before else f"phone={phone}"
        _event(session, user, AccountAction.PHONE_BOUND, actor, now, detail)
    else:
        _event(session, user, AccountAction.PHONE_UNBOUND, actor, now, f"phone={before}")
    session.flush()
    return user


def change_password(
    session: Session,
    user_id: str,
    current: str,
    new: str,
    now: dt.datetime,
    keep_token: str = "",
) -> User:
    """The user chooses their own password (needed after an issued one). The current one
    must be right; the user's other sessions end (``keep_token``: the one in use)."""
    user = get_user(session, user_id)
    errors: dict[str, Problem] = {}
    if not service.verify_password(user.password_hash, current):
        errors["current_password"] = Problem("当前密码不正确", "the current password is wrong")
    if len(new) < service.MIN_PASSWORD_LENGTH:
        errors["new_password"] = Problem(
            f"新密码至少 {service.MIN_PASSWORD_LENGTH} 个字符",
            f"a password needs at least {service.MIN_PASSWORD_LENGTH} characters",
        )
    elif new == current:
        errors["new_password"] = Problem(
            "新密码不能与当前密码相同", "the new password must differ from the current one"
        )
    if errors:
        raise AccountInvalid(errors)
    user.password_hash = service.hash_password(new)
    user.must_change_password = False
    _end_sessions(session, user.id, service.token_hash(keep_token) if keep_token else "")
    _event(session, user, AccountAction.PASSWORD_CHANGED, user.username, now)
    session.flush()
    return user


def detail_zh(event: AccountEvent) -> str:
    """An event's detail (``key=value`` words) as the console says it."""
    said = []
    for word in event.detail.split():
        key, _, value = word.partition("=")
        if key == "role":
            said.append("角色：" + next((v for k, v in ROLE_LABELS.items() if k == value), value))
        elif key == "phone":
            said.append("分机：" + value.replace("->", " → "))
        elif key == "sessions_ended":
            said.append(f"结束登录会话 {value} 个")
        else:
            said.append(word)
    return "，".join(said)


def events(session: Session, limit: int = 100, user_id: str = "") -> list[AccountEvent]:
    """The latest account changes, newest first."""
    query = select(AccountEvent).order_by(AccountEvent.id.desc()).limit(limit)
    if user_id:
        query = query.where(AccountEvent.user_id == user_id)
    return list(session.scalars(query))


def must_change_password(session: Session, token: str, now: dt.datetime) -> bool:
    """Whether the session with this cookie token belongs to a user who must choose a new
    password first (False for no live session: the log-in check answers that)."""
    found = service.find_session(session, token, now)
    return bool(found is not None and found.user.must_change_password)
