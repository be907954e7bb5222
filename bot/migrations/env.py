"""Alembic environment: URL from settings (or the caller), batch mode for SQLite."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Engine

import bot.insights.schema  # (its tables join Base.metadata)
import bot.proactive.schema  # noqa: F401  (its tables join Base.metadata)
from bot.db import make_engine
from bot.models import Base, UTCDateTime
from bot.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get(
    "configure_logger", True
):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    # Migrations must not import application code: UTCDateTime is a plain
    # timestamp with time zone in the database.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        _sqlite_for_migrations(engine)
    with engine.connect() as connection:
        _run(connection, sqlite_checks=sqlite)
    engine.dispose()


def _sqlite_for_migrations(engine: Engine) -> None:
    """Make SQLite migrations atomic and let batch mode rebuild referenced tables.

    pysqlite commits DDL as it goes, so a failing migration would leave half a
    schema behind; with SQLAlchemy emitting BEGIN itself the whole upgrade is one
    transaction. Batch mode rebuilds a table by copying it and dropping the
    original, which foreign-key enforcement refuses while other tables refer to
    its rows, so enforcement is off during the migration (it can only be switched
    outside a transaction) and the result is checked with foreign_key_check.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


def _run(connection: Any, sqlite_checks: bool = False) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        # None keeps the dialect's default (PostgreSQL's DDL is transactional).
        transactional_ddl=True if sqlite_checks else None,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite_checks:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"foreign keys broken after migrating: {broken[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
