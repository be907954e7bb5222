"""The Alembic migrations create exactly the schema the models describe."""

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

import bot.insights.schema  # noqa: F401  (its tables join Base.metadata)
from bot import migrate
from bot.models import Base
from tests.conftest import _postgres_database

TABLES = {
    "customers", "orders", "order_items", "tickets", "ticket_messages",
    "verification_attempts", "sms_opt_outs", "processed_webhooks", "channel_choices",
    "chat_messages", "agents", "ticket_events", "conversation_verifications",
    "registrations", "outbox", "insights_conversations", "insights_turns",
    "insights_flows", "insights_event_keys", "insights_positions",
}  # fmt: skip


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_documented_tables_exist(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        else:
            yield stack.enter_context(_postgres_database())


def test_queue_migration_keeps_existing_tickets(empty_database: str) -> None:
    # 0003 rebuilds `tickets` on SQLite (batch mode) while ticket_messages refer to it.
    migrate.upgrade(empty_database, "0002")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO tickets (id, reference, channel, category, subject, "
            "description, status, priority, handed_off, created_at, updated_at) "
            "VALUES (1, 'T-000001', 'web', 'problem', 'Broken lamp', '', 'new', "
            "'normal', false, '2026-11-20 10:00:00+00', '2026-11-20 10:00:00+00')"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO ticket_messages (ticket_id, sender, text, sent_at) "
            "VALUES (1, 'customer', 'my lamp arrived broken', '2026-11-20 10:00:00+00')"
        ))  # fmt: skip
    migrate.upgrade(empty_database)
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT reference, assigned_agent_id, priority_reason FROM tickets")
        ).all() == [("T-000001", None, None)]
        assert conn.execute(text("SELECT count(*) FROM ticket_messages")).scalar() == 1
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_old_verification_attempts_are_counted_for_their_conversation(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database, "0004")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO verification_attempts (subject, key, identifier, "
            "conversation_id, succeeded, attempted_at) VALUES ('order', '104257', "
            "'x@example.com', 'c-1', false, '2026-11-20 10:00:00+00')"
        ))  # fmt: skip
    migrate.upgrade(empty_database)
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT requester, throttled FROM verification_attempts")
        ).all() == [("conversation:c-1", False)]
    engine.dispose()


def test_customers_seeded_before_the_demo_flag_stay_demo_accounts(
    empty_database: str,
) -> None:
    migrate.upgrade(empty_database, "registration_0005")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO customers (name, email, segment, created_at) VALUES "
            "('Jane Doe', 'jane.doe@example.com', 'standard', '2026-11-20 10:00:00+00'),"
            "('Real Person', 'real@example.com', 'standard', '2026-11-20 10:00:00+00')"
        ))  # fmt: skip
    migrate.upgrade(empty_database)
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT email, demo FROM customers ORDER BY email")
        ).all() == [("jane.doe@example.com", True), ("real@example.com", False)]
    engine.dispose()
