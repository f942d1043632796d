"""Managing users in the console, and dialling callbacks through the operator's phone:
users who must choose a new password at their next log-in, the audit of every change an
administrator makes to an account, and the operator's dial requests (漏接回拨 by AMI
Originate) with their outcome.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
    op.create_table(
        "account_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_account_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("account_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_events_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_events_at"), ["at"], unique=False)
    op.create_table(
        "operator_dials",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("callback_request_id", sa.String(length=32), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("failed_leg", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("operator_answered_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_request_id"],
            ["callback_requests.id"],
            name=op.f("fk_operator_dials_callback_request_id_callback_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["callback_attempts.id"],
            name=op.f("fk_operator_dials_attempt_id_callback_attempts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_dials")),
    )
    with op.batch_alter_table("operator_dials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operator_dials_callback_request_id"),
            ["callback_request_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_operator_dials_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("operator_dials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_dials_status"))
        batch_op.drop_index(batch_op.f("ix_operator_dials_callback_request_id"))
    op.drop_table("operator_dials")
    with op.batch_alter_table("account_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_events_at"))
        batch_op.drop_index(batch_op.f("ix_account_events_user_id"))
    op.drop_table("account_events")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
