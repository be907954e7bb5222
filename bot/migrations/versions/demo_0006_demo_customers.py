"""demo customers: the demo shop's sign-in knows them from the database

Revision ID: demo_0006
Revises: registration_0005
Create Date: 2026-11-30 06:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "demo_0006"
down_revision = "registration_0005"
branch_labels = None
depends_on = None

# The demo customers seeded before this revision, as they were then.
SEEDED_DEMO_EMAILS = (
    "jane.doe@example.com",
    "sam.lee@example.com",
    "maria.lopez@example.com",
    "tom.obrien@example.com",
    "priya.n@example.com",
    "alex.kim@example.com",
)


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("demo", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    customers = sa.table("customers", sa.column("email"), sa.column("demo"))
    op.execute(
        customers.update()
        .where(customers.c.email.in_(SEEDED_DEMO_EMAILS))
        .values(demo=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("demo")
