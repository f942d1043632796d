"""Overflow between nodes (issue 18, H7): a call row a node wrote for another node's waiting
caller names that first call (``calls.overflow_of``: the first node's Asterisk uniqueid), so
the citizen's call is counted once (the first node's row) and the leg is shown on its page.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("overflow_of", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_calls_overflow_of"), ["overflow_of"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index(batch.f("ix_calls_overflow_of"))
        batch.drop_column("overflow_of")
