"""Bulletins (通报, issue 17): one row per kind and period, the report's tables as JSON.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulletins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("as_of", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("made_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("made_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletins")),
        sa.UniqueConstraint("kind", "first_day", "last_day", name=op.f("uq_bulletins_kind")),
    )
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulletins_first_day"), ["first_day"], unique=False)
        batch_op.create_index(batch_op.f("ix_bulletins_made_at"), ["made_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulletins_made_at"))
        batch_op.drop_index(batch_op.f("ix_bulletins_first_day"))
    op.drop_table("bulletins")
