"""Recordings, attachments and archives in an object store (issue 18): one row per stored file
on its way to the bucket (pending, stored, failed, purged), written with its manifest entry.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "object_uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("stored_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("local_removed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_object_uploads")),
        sa.UniqueConstraint("key", name=op.f("uq_object_uploads_key")),
    )
    with op.batch_alter_table("object_uploads") as batch:
        batch.create_index(batch.f("ix_object_uploads_object_id"), ["object_id"], unique=False)
        batch.create_index(batch.f("ix_object_uploads_origin"), ["origin"], unique=False)
        batch.create_index(batch.f("ix_object_uploads_state"), ["state"], unique=False)
        batch.create_index(batch.f("ix_object_uploads_next_try_at"), ["next_try_at"], unique=False)


def downgrade() -> None:
    op.drop_table("object_uploads")
