"""Indexes for the reports' reader (issue 17, ``dispatch.reports.reader``): the cases with
something in a time window are found by each table's own time column, and each index holds
the case id too, so that finding them reads the index alone.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_cases_received": ("cases", ["received_at", "id"]),
    # With the action: the history entries the indicators count (reader.COUNTED) are found
    # in the index alone.
    "ix_case_events_at_case": ("case_events", ["at", "action", "case_id"]),
    "ix_assignments_dispatched_case": ("assignments", ["dispatched_at", "case_id"]),
    "ix_extensions_decided_case": ("extensions", ["decided_at", "case_id"]),
    "ix_supervision_records_at_case": ("supervision_records", ["at", "case_id"]),
    "ix_feedback_at_case": ("feedback", ["at", "case_id"]),
    "ix_callback_requests_created": ("callback_requests", ["created_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
