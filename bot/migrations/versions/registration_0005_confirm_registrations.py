"""registrations confirmed by email, an outbox for mail, requesters of verifications

Revision ID: registration_0005
Revises: web_session_version
Create Date: 2026-11-30 03:15:08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registration_0005"
down_revision = "web_session_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_to_address"), ["to_address"], unique=False
        )

    op.create_table(
        "registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("phone_vouched", sa.Boolean(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("existing_account", sa.Boolean(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_registrations_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registrations_conversation_id"),
            ["conversation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_registrations_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registrations_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registrations_email"), ["email"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registrations_phone"), ["phone"], unique=False
        )

    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requester", sa.String(length=320), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "throttled", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.create_index(
            batch_op.f("ix_verification_attempts_requester"),
            ["requester"],
            unique=False,
        )
    # Old attempts were made by their conversation (nothing else was recorded).
    op.execute(
        "UPDATE verification_attempts SET requester = 'conversation:' || conversation_id"
    )


def downgrade() -> None:
    with op.batch_alter_table("verification_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_attempts_requester"))
        batch_op.drop_column("throttled")
        batch_op.drop_column("requester")

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrations_phone"))
        batch_op.drop_index(batch_op.f("ix_registrations_email"))
        batch_op.drop_index(batch_op.f("ix_registrations_customer_id"))
        batch_op.drop_index(batch_op.f("ix_registrations_created_at"))
        batch_op.drop_index(batch_op.f("ix_registrations_conversation_id"))

    op.drop_table("registrations")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_to_address"))

    op.drop_table("outbox")
