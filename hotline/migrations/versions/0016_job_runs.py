"""Scheduled jobs' runs (``dispatch.handling.job_runs``): how many times, and when last, the
supervision job ran, for the dashboard's live state and ``/metrics`` (issue 17).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("runs", sa.BigInteger(), nullable=False),
        sa.Column("last_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_runs")),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
