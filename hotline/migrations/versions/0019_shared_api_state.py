"""The API on several hosts (issue 18, H6): failed log-ins per client address and the
passwords the console issued (shown once) are kept in the database, not in one API process;
each node's row says how many operators' phones are ringing and on a call.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_address_at", "login_failures", ["address", "at"], unique=False
    )
    op.create_table(
        "issued_secrets",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_issued_secrets")),
    )
    op.create_index(
        op.f("ix_issued_secrets_expires_at"), "issued_secrets", ["expires_at"], unique=False
    )
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(
            sa.Column("operators_ringing", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("operators_busy", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("operators_busy")
        batch.drop_column("operators_ringing")
    op.drop_index(op.f("ix_issued_secrets_expires_at"), table_name="issued_secrets")
    op.drop_table("issued_secrets")
    op.drop_index("ix_login_failures_address_at", table_name="login_failures")
    op.drop_table("login_failures")
