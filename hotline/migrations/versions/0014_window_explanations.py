"""红旗窗口 (issue 17): the receipt of a window's written explanation (书面说明) for a year,
once per window and year, with who recorded it and when.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "window_explanations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("rectification", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_window_explanations_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_window_explanations")),
        sa.UniqueConstraint("unit_id", "year", name=op.f("uq_window_explanations_unit_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("window_explanations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_window_explanations_year"), ["year"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("window_explanations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_window_explanations_year"))
    op.drop_table("window_explanations")
