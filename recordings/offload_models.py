"""Rows of the uploads to the object store: one per stored file, written in the transaction
that enters the file in the manifest (``manifest.append``), so no stored file is ever without
its row."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime

PENDING, STORED, FAILED = "pending", "stored", "failed"
PURGING, PURGED = "purging", "purged"  # purged: its object and local copy are to go / gone


class ObjectUpload(Base):
    """A stored file on its way to the bucket.

    ``origin`` names the data folder that holds the local copy (host and folder): only the
    processes working on that folder upload it. ``next_try_at`` is both the retry time and
    the claim: an uploader pushes it forward before it starts, so another one skips the row
    until then, and a crashed uploader's rows come due again by themselves.
    """

    __tablename__ = "object_uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # manifest data path
    kind: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(32), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    origin: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # see the states above
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    next_try_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    stored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the local copy was removed after the upload was confirmed (None: still there,
    # or kept by ``object_store_keep_local``).
    local_removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
