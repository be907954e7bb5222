"""Index the delivery keys' received_at, which the worker prunes by.

Revision ID: faults_0009
Revises: proactive_0008
"""

from __future__ import annotations

from alembic import op

revision = "faults_0009"
down_revision = "proactive_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_processed_webhooks_received_at"),
        "processed_webhooks",
        ["received_at"],
    )
    op.create_index(
        op.f("ix_insights_event_keys_received_at"),
        "insights_event_keys",
        ["received_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_insights_event_keys_received_at"), table_name="insights_event_keys"
    )
    op.drop_index(
        op.f("ix_processed_webhooks_received_at"), table_name="processed_webhooks"
    )
