"""Secrets shown once (a password the console issued), kept in the database so that any API
host behind a load balancer can show it, and only once.

The secret is split in two: the database row holds it sealed with a one-time pad of random
bytes as long as the padded secret, and the pad goes to the browser that asked (a cookie), so
neither the database nor the cookie alone reveals anything. The row is found by the SHA-256 of
a random token (the page's address carries the token, never the pad), belongs to the user who
issued it, is deleted by the one read that shows it, and expires after a few minutes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import LargeBinary, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

SEALED = 1024  # bytes of every sealed secret (and of its pad): 2 of length, then the secret


class IssuedSecret(Base):
    __tablename__ = "issued_secrets"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    owner_id: Mapped[str] = mapped_column(String(32))  # the user who may see it
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class Issued:
    token: str  # names the row (urlsafe); it alone reveals nothing
    pad: bytes  # unseals it; for the browser of whoever issued it only


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def seal(secret: bytes) -> tuple[bytes, bytes]:
    """(sealed, pad): the secret padded to SEALED bytes, and the random pad that opens it."""
    if len(secret) > SEALED - 2:
        raise ValueError(f"a secret shown once is at most {SEALED - 2} bytes")
    padded = len(secret).to_bytes(2, "big") + secret + bytes(SEALED - 2 - len(secret))
    pad = secrets.token_bytes(SEALED)
    return _xor(padded, pad), pad


def unseal(sealed: bytes, pad: bytes) -> bytes | None:
    """The secret, or None when the pad does not fit (another pad, a truncated one)."""
    if len(sealed) != SEALED or len(pad) != SEALED:
        return None
    padded = _xor(sealed, pad)
    length = int.from_bytes(padded[:2], "big")
    if length > SEALED - 2 or any(padded[2 + length :]):
        return None
    return padded[2 : 2 + length]


def _key_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def put(
    session: Session, owner_id: str, secret: bytes, now: dt.datetime, ttl: dt.timedelta
) -> Issued:
    """Keep ``secret`` for ``owner_id`` until read once or ``ttl`` has passed; rows that
    have expired are deleted."""
    session.execute(delete(IssuedSecret).where(IssuedSecret.expires_at <= now))
    sealed, pad = seal(secret)
    token = secrets.token_urlsafe(18)
    session.add(
        IssuedSecret(
            key_hash=_key_hash(token), owner_id=owner_id, sealed=sealed, expires_at=now + ttl
        )
    )
    return Issued(token, pad)


def take(session: Session, token: str, pad: bytes, owner_id: str, now: dt.datetime) -> bytes | None:
    """The secret, once: the row is deleted by this read (only one of several reads at once
    gets it). None if unknown, already taken, expired, another user's, or the pad is wrong."""
    found = session.execute(
        delete(IssuedSecret)
        .where(IssuedSecret.key_hash == _key_hash(token), IssuedSecret.owner_id == owner_id)
        .returning(IssuedSecret.sealed, IssuedSecret.expires_at)
    ).first()
    if found is None or found.expires_at <= now:
        return None
    return unseal(found.sealed, pad)
