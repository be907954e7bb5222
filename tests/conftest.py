"""Shared fixtures: a migrated database and one rolled-back transaction per test."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SECRET_KEY", "test-secret")
os.environ.setdefault("RASA_TOKEN", "test-token")

from bot import clock, migrate
from bot.db import make_engine, make_session_factory
from bot.seed import seed_demo_data

TODAY = dt.date(2026, 11, 20)  # a Friday
# Tests never read the machine's date: the clock starts at noon on TODAY in the shop's
# time zone (the suite once failed when the real date moved past the seeded orders).
START = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session", autouse=True)
def _clock() -> Iterator[None]:
    clock.use_clock(clock.ticking_from(START))
    yield
    clock.use_clock(None)


def _sqlite_engine(path: Path) -> Engine:
    # pysqlite's own transaction handling breaks SAVEPOINTs; let SQLAlchemy emit BEGIN
    # (recipe from SQLAlchemy's SQLite dialect documentation).
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN")

    return engine


POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def _postgres_database() -> Iterator[str]:
    """A throw-away PostgreSQL database on the local server."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"switchboard_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}); start it or "
            "set TEST_POSTGRES_URL"
        )
    try:
        yield str(make_url(POSTGRES_URL).set(database=name))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def own_database(kind: str, folder: Path | str) -> Iterator[sessionmaker[Session]]:
    """A migrated database of the caller's own ("sqlite" in `folder`, "postgresql").

    For code that commits its own transactions; sessions as the app makes them.
    """
    with ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{folder}/own.db"
        else:
            url = stack.enter_context(_postgres_database())
        migrate.upgrade(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database migrated with Alembic and loaded with the demo data.

    Every database test runs on SQLite (the embedded default) and on PostgreSQL
    (what operators move to).
    """
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path_factory.mktemp("db") / "switchboard.db"
            url = f"sqlite:///{path}"
            migrate.upgrade(url)
            engine = _sqlite_engine(path)
        else:
            url = stack.enter_context(_postgres_database())
            migrate.upgrade(url)
            engine = create_engine(url)
        with Session(engine) as session, session.begin():
            seed_demo_data(session, today=TODAY)
        yield engine
        engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """One session joined to the test's outer transaction."""
    session = Session(bind=connection)
    nested = connection.begin_nested()

    @event.listens_for(session, "after_transaction_end")
    def _restart_savepoint(sess, trans):  # type: ignore[no-untyped-def]
        nonlocal nested
        if not nested.is_active:
            nested = connection.begin_nested()

    yield session
    session.close()


@contextmanager
def savepoint_session(connection: Connection) -> Iterator[Session]:
    """A unit of work inside the test's transaction: "committed" to a savepoint."""
    session = Session(bind=connection)
    savepoint = connection.begin_nested()
    try:
        yield session
        session.flush()
        savepoint.commit()
    except BaseException:
        savepoint.rollback()
        raise
    finally:
        session.close()


@pytest.fixture
def db_scope(connection: Connection) -> Iterator[None]:
    """Point the Rasa actions at the test's transaction."""
    from actions import common

    common.use_session_scope(lambda: savepoint_session(connection))
    yield
    common.use_session_scope(None)
