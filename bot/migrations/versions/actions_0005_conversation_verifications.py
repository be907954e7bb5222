"""conversation_verifications: what each conversation proved, checked server-side

Revision ID: actions_0005
Revises: 0004
Create Date: 2026-11-30 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "actions_0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("identifier", sa.String(length=320), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_verifications")),
    )
    op.create_index(
        op.f("ix_conversation_verifications_conversation_id"),
        "conversation_verifications",
        ["conversation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_conversation_verifications_expires_at"),
        "conversation_verifications",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_conversation_verifications_expires_at"),
        table_name="conversation_verifications",
    )
    op.drop_index(
        op.f("ix_conversation_verifications_conversation_id"),
        table_name="conversation_verifications",
    )
    op.drop_table("conversation_verifications")
