"""Users, passwords (argon2) and server-side sessions. Functions take a Session, except
``authenticate``: it commits the attempt's count before the slow password check."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from accounts.lockout import LockoutPolicy
from accounts.models import LoginSession, Role, User
from core.db import UTCDateTime, transaction

MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    pass


class LoginRefused(Exception):
    """A log-in failed. ``reason`` is for the server's log only: every refusal looks the same
    to the client, so it cannot tell a wrong password from an unknown or locked name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    expires_at: dt.datetime


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    display_name: str,
    now: dt.datetime,
    phone: str = "",
) -> User:
    if not USERNAME.fullmatch(username):
        raise AccountError("a user name is 2-64 letters, digits, '_', '.' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} exists already")
    if phone and not phone.isalnum():
        raise AccountError("a phone is the operator's SIP endpoint name (letters and digits)")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role.value,
        password_hash=_hasher.hash(password),
        created_at=now,
        phone=phone,
    )
    session.add(user)
    session.flush()
    return user


def claim_attempt(
    session: Session, username: str, now: dt.datetime, policy: LockoutPolicy
) -> tuple[str, str] | None:
    """Count one failure against the account *before* its password is checked: the user's id
    and password hash, or None when the name is unknown, inactive or locked.

    One conditional ``UPDATE … RETURNING``: concurrent attempts serialise on the user's row
    (PostgreSQL re-evaluates the condition on the row another attempt just committed; SQLite
    has one writer), so no more than ``policy.max_failures`` passwords are ever checked before
    the lock, which the last of them sets. ``record_success`` undoes the count. The caller
    commits at once, before the slow check, so attempts wait for each other only briefly.
    """
    reaches_limit = User.failed_logins + 1 >= policy.max_failures
    found = session.execute(
        update(User)
        .where(
            User.username == username,
            User.active.is_(True),
            or_(User.locked_until.is_(None), User.locked_until <= now),
        )
        .values(
            failed_logins=case((reaches_limit, 0), else_=User.failed_logins + 1),
            locked_until=case(
                (reaches_limit, literal(now + policy.lock_for, UTCDateTime())), else_=None
            ),
        )
        .returning(User.id, User.password_hash)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return None if found is None else (found.id, found.password_hash)


def authenticate(
    sessions: sessionmaker[Session],
    username: str,
    password: str,
    now: dt.datetime,
    policy: LockoutPolicy,
) -> str:
    """The id of the user whose password this is, or LoginRefused. The attempt is counted
    (and committed) first; then the password is checked, outside any transaction. Unknown,
    inactive and locked names are checked against a dummy hash: the same work and the same
    refusal as a wrong password."""
    claimed = None
    if USERNAME.fullmatch(username):  # anything else names nobody: no need to ask the database
        with transaction(sessions) as session:
            claimed = claim_attempt(session, username, now, policy)
    if claimed is None:
        _verify(_DUMMY_HASH, password)
        raise LoginRefused("unknown, inactive or locked name")
    user_id, password_hash = claimed
    if not _verify(password_hash, password):
        raise LoginRefused("wrong password")
    return user_id


def record_success(session: Session, user_id: str, password: str) -> User:
    """The log-in succeeded: failures start again from zero, and the hash is renewed if the
    hasher's parameters have changed since it was made."""
    user = session.get(User, user_id)
    if user is None:
        raise LoginRefused("user removed during log-in")
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def unlock(session: Session, username: str) -> bool:
    """Lift an account's lock and forget its failures (an administrator's act); False if
    there is no such user."""
    done = session.execute(
        update(User)
        .where(User.username == username)
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from."""
    return _verify(password_hash, password)


def token_hash(token: str) -> str:
    """What is stored of a session's cookie token."""
    return _hash_token(token)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, user: User, client: str, now: dt.datetime, lifetime: dt.timedelta
) -> NewSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=_hash_token(token),
            user_id=user.id,
            csrf_token=csrf,
            client=client[:128],
            created_at=now,
            expires_at=now + lifetime,
        )
    )
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
