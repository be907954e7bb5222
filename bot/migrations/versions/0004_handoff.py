"""handoff: conversation holds, delivery state of replies, handoff context

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DELIVERY = sa.Enum(
    "pending",
    "delivered",
    "failed",
    name="delivery",
    native_enum=False,
    create_constraint=True,
    length=32,
)


def upgrade() -> None:
    op.create_table(
        "conversation_holds",
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_conversation_holds_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_holds")),
    )
    with op.batch_alter_table("conversation_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_holds_ticket_id"), ["ticket_id"], unique=False
        )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("delivery", DELIVERY, nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_ticket_messages_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ticket_messages_next_attempt_at"),
            ["next_attempt_at"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_messages_agent_id_agents"),
            "agents",
            ["agent_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_ticket_messages_agent_id_agents"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_ticket_messages_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_ticket_messages_agent_id"))
        for column in (
            "last_error",
            "delivered_at",
            "next_attempt_at",
            "attempts",
            "delivery",
            "agent_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("summary")
        batch_op.drop_column("context")
    with op.batch_alter_table("conversation_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_holds_ticket_id"))
    op.drop_table("conversation_holds")
