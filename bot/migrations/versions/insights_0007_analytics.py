"""insights: analytics tables written from Rasa's event stream (bot/insights/)

Revision ID: insights_0007
Revises: demo_0006
Create Date: 2026-11-30 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "insights_0007"
down_revision = "demo_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insights_event_keys",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_insights_event_keys")),
    )
    op.create_table(
        "insights_positions",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_insights_positions")),
    )
    op.create_table(
        "insights_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("segment", sa.String(length=32), nullable=True),
        sa.Column("contact_key", sa.String(length=300), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("intents", sa.Text(), nullable=False),
        sa.Column("first_intent", sa.String(length=64), nullable=True),
        sa.Column("last_intent", sa.String(length=64), nullable=True),
        sa.Column("last_action", sa.String(length=64), nullable=True),
        sa.Column("flows_started", sa.Integer(), nullable=False),
        sa.Column("flows_completed", sa.Integer(), nullable=False),
        sa.Column("active_flow", sa.String(length=64), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verifications", sa.Integer(), nullable=False),
        sa.Column("verification_failures", sa.Integer(), nullable=False),
        sa.Column("verification_locked", sa.Boolean(), nullable=False),
        sa.Column("fallbacks", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("kb_answered", sa.Integer(), nullable=False),
        sa.Column("kb_unanswered", sa.Integer(), nullable=False),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handoff_reason", sa.String(length=32), nullable=True),
        sa.Column("ticket_reference", sa.String(length=16), nullable=True),
        sa.Column("person_later_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repeat_contact", sa.Boolean(), nullable=False),
        sa.Column("contacted_again", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_insights_conversations_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insights_conversations")),
    )
    with op.batch_alter_table("insights_conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insights_conversations_contact_started",
            ["contact_key", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insights_conversations_conversation_id"),
            ["conversation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insights_conversations_customer_id"),
            ["customer_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insights_conversations_day"), ["day"], unique=False
        )
        batch_op.create_index(
            "ix_insights_conversations_day_channel", ["day", "channel"], unique=False
        )

    op.create_table(
        "insights_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_row_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("kb_found", sa.Boolean(), nullable=True),
        sa.Column("kb_article", sa.String(length=200), nullable=True),
        sa.Column("kb_question", sa.Text(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_row_id"],
            ["insights_conversations.id"],
            name=op.f("fk_insights_turns_conversation_row_id_insights_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insights_turns")),
    )
    with op.batch_alter_table("insights_turns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insights_turns_conversation_row_id"),
            ["conversation_row_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insights_turns_kb_found"), ["kb_found"], unique=False
        )

    op.create_table(
        "insights_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_row_id", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=True),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("request", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_turn", sa.Integer(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_row_id"],
            ["insights_conversations.id"],
            name=op.f("fk_insights_flows_conversation_row_id_insights_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["turn_id"],
            ["insights_turns.id"],
            name=op.f("fk_insights_flows_turn_id_insights_turns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insights_flows")),
    )
    with op.batch_alter_table("insights_flows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insights_flows_conversation_row_id"),
            ["conversation_row_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insights_flows_turn_id"), ["turn_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("insights_flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insights_flows_turn_id"))
        batch_op.drop_index(batch_op.f("ix_insights_flows_conversation_row_id"))

    op.drop_table("insights_flows")
    with op.batch_alter_table("insights_turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insights_turns_kb_found"))
        batch_op.drop_index(batch_op.f("ix_insights_turns_conversation_row_id"))

    op.drop_table("insights_turns")
    with op.batch_alter_table("insights_conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_insights_conversations_day_channel")
        batch_op.drop_index(batch_op.f("ix_insights_conversations_day"))
        batch_op.drop_index(batch_op.f("ix_insights_conversations_customer_id"))
        batch_op.drop_index(batch_op.f("ix_insights_conversations_conversation_id"))
        batch_op.drop_index("ix_insights_conversations_contact_started")

    op.drop_table("insights_conversations")
    op.drop_table("insights_positions")
    op.drop_table("insights_event_keys")
