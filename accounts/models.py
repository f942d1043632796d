"""Database rows for users and their log-in sessions."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime
from core.ids import new_id


class Role(StrEnum):
    OPERATOR = "operator"  # 话务员
    SUPERVISOR = "supervisor"  # 督查/分管领导
    UNIT_HANDLER = "unit_handler"  # 承办单位经办人
    ADMIN = "admin"  # 系统管理员
    INVESTIGATOR = "investigator"  # 调查员（纪检、复核）
    AUDITOR = "auditor"  # 审计员


ROLE_LABELS = {
    Role.OPERATOR: "话务员",
    Role.SUPERVISOR: "督查员",
    Role.UNIT_HANDLER: "承办单位经办人",
    Role.ADMIN: "系统管理员",
    Role.INVESTIGATOR: "调查员",
    Role.AUDITOR: "审计员",
}


LEADERS = frozenset({Role.SUPERVISOR})


def is_leader(role: str) -> bool:
    """The leader rule: the supervisors (督查/分管领导) approve or deny a case for dispatch,
    review the units' replies, decide extensions, conclude and archive cases."""
    return role in LEADERS


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    phone: Mapped[str] = mapped_column(String(64), default="")  # operator's SIP endpoint
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an administrator issued the password (a new account, a reset): the user must
    # choose their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LoginSession(Base):
    """A server-side session. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)

    user: Mapped[User] = relationship()


class AccountEvent(Base):
    """One change made to an account (created, disabled, enabled, password reset or changed,
    unlocked, phone bound): who did it, to whom, when and what. Never holds a password."""

    __tablename__ = "account_events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
