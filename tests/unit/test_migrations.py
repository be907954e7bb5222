"""The Alembic migrations create exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from bot.models import Base

TABLES = {
    "customers", "orders", "order_items", "tickets", "ticket_messages",
    "verification_attempts", "sms_opt_outs", "processed_webhooks", "channel_choices",
    "chat_messages",
}  # fmt: skip


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_documented_tables_exist(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
