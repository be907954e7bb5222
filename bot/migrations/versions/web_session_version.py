"""session versions: signing out ends every session cookie issued before

Revision ID: web_session_version
Revises: actions_0005
Create Date: 2026-11-30 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_session_version"
down_revision = "actions_0005"
branch_labels = None
depends_on = None

TABLES = ("customers", "agents")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column(
                "session_version", sa.Integer(), server_default="0", nullable=False
            ),
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("session_version")
