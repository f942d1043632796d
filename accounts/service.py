"""Users, passwords (argon2) and server-side sessions. Functions take a Session."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.lockout import LockoutPolicy
from accounts.models import LoginSession, Role, User

MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    pass


class LoginRefused(Exception):
    """Why a log-in failed; ``locked_until`` is set when the account is locked."""

    def __init__(self, locked_until: dt.datetime | None = None) -> None:
        super().__init__("locked" if locked_until else "bad credentials")
        self.locked_until = locked_until


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: dt.datetime


def create_user(session: Session, username: str, password: str, role: Role,
                display_name: str, now: dt.datetime, phone: str = "") -> User:
    if not USERNAME.match(username):
        raise AccountError("a user name is 2-64 letters, digits, '_', '.' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} exists already")
    if phone and not phone.isalnum():
        raise AccountError("a phone is the operator's SIP endpoint name (letters and digits)")
    user = User(username=username, display_name=display_name or username, role=role.value,
                password_hash=_hasher.hash(password), created_at=now, phone=phone)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str, now: dt.datetime,
                 policy: LockoutPolicy) -> User:
    """The user, or LoginRefused. Unknown names cost the same work as wrong passwords."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        raise LoginRefused()
    if policy.is_locked(user.locked_until, now):
        raise LoginRefused(user.locked_until)
    if not _verify(user.password_hash, password):
        user.failed_logins, user.locked_until = policy.after_failure(user.failed_logins, now)
        session.flush()
        raise LoginRefused(user.locked_until)
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, client: str, now: dt.datetime,
                  lifetime: dt.timedelta) -> NewSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_hash_token(token), user_id=user.id, csrf_token=csrf,
                             client=client[:128], created_at=now, expires_at=now + lifetime))
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    session.flush()
    return NewSession(token, csrf, now + lifetime)


def find_session(session: Session, token: str, now: dt.datetime) -> LoginSession | None:
    """The live session for a cookie token, with its user (None if unknown or expired)."""
    if not token or len(token) > 128:
        return None
    found = session.get(LoginSession, _hash_token(token))
    if found is None or found.expires_at <= now or not found.user.active:
        return None
    return found


def end_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash_token(token)))
