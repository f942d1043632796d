"""Manual reminders and recalls: a supervision record names who issued it and why (催办 by
a supervisor), the once-per-deadline rule kept for the supervision job's own records only;
an assignment the centre took back from its unit (收回, 改派) keeps when and why.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

AUTOMATIC = sa.text("issued_by = ''")


def upgrade() -> None:
    with op.batch_alter_table("supervision_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("issued_by", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), server_default="", nullable=False))
        batch_op.drop_constraint("uq_supervision_records_deadline_id", type_="unique")
    op.create_index(
        "uq_supervision_records_automatic",
        "supervision_records",
        ["deadline_id", "kind"],
        unique=True,
        sqlite_where=AUTOMATIC,
        postgresql_where=AUTOMATIC,
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recalled_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("recall_reason", sa.Text(), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("recall_reason")
        batch_op.drop_column("recalled_at")
    op.drop_index("uq_supervision_records_automatic", table_name="supervision_records")
    op.execute("DELETE FROM supervision_records WHERE issued_by <> ''")
    with op.batch_alter_table("supervision_records", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_supervision_records_deadline_id", ["deadline_id", "kind"]
        )
        batch_op.drop_column("reason")
        batch_op.drop_column("issued_by")
