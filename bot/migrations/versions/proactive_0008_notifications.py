"""proactive service: consent, shop events, notifications

Revision ID: proactive_0008
Revises: insights_0007
Create Date: 2026-11-30 12:25:41
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "proactive_0008"
down_revision = "insights_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "sms",
                "web",
                name="consent_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "registration",
                "web_chat",
                "sms_keyword",
                "cli",
                "import",
                name="consent_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_contact_consents_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_consents")),
        sa.UniqueConstraint(
            "customer_id", "channel", name=op.f("uq_contact_consents_customer_id")
        ),
    )
    with op.batch_alter_table("contact_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_consents_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "web_chat_sessions",
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_web_chat_sessions_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_web_chat_sessions")),
    )
    with op.batch_alter_table("web_chat_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_chat_sessions_customer_id"),
            ["customer_id"],
            unique=False,
        )

    op.create_table(
        "shop_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=128), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "shipped",
                "out_for_delivery",
                "delivered",
                "delayed",
                "cancelled",
                "refund_issued",
                "ticket_updated",
                "ticket_resolved",
                name="event_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "webhook",
                "cli",
                "import",
                "console",
                "worker",
                name="event_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_shop_events_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_shop_events_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_shop_events_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_shop_events_event_key")),
    )
    with op.batch_alter_table("shop_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shop_events_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shop_events_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_shop_events_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "sms",
                "web",
                name="notification_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sent",
                "failed",
                "suppressed",
                name="notification_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_notifications_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["shop_events.id"],
            name=op.f("fk_notifications_event_id_shop_events"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_notifications_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_notifications_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "event_id", "channel", name=op.f("uq_notifications_event_id")
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_address"), ["address"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_next_attempt_at"),
            ["next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_ticket_id"), ["ticket_id"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("timezone")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_order_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_notifications_event_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_customer_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_address"))

    op.drop_table("notifications")
    with op.batch_alter_table("shop_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_events_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_shop_events_order_id"))
        batch_op.drop_index(batch_op.f("ix_shop_events_customer_id"))

    op.drop_table("shop_events")
    with op.batch_alter_table("web_chat_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_chat_sessions_customer_id"))

    op.drop_table("web_chat_sessions")
    with op.batch_alter_table("contact_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_consents_customer_id"))

    op.drop_table("contact_consents")
