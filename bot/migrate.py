"""Run Alembic migrations programmatically (used by the CLI and tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from bot.settings import PROJECT_ROOT


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic config for this project, optionally pointed at a database URL."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "migrations"))
    config.attributes["configure_logger"] = False
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Migrate the database at `database_url` (default: settings) to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def upgrade_connection(connection: Connection, revision: str = "head") -> None:
    """Migrate using an existing connection (tests run inside their own)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
