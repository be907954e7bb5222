"""Fault tests of production mode on the machine's PostgreSQL, Redis and RabbitMQ.

Every run has its own PostgreSQL database (created, migrated, seeded and dropped at
the end), Redis key prefix and RabbitMQ queue (deleted at the end), so runs on one
machine never meet. Each module starts its processes once (a module-scoped
fixture) from the trained model, and stops them at its end.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot import migrate
from bot.seed import seed_demo_data
from bot.settings import LOCAL_RABBITMQ_URL, LOCAL_REDIS_URL, PROJECT_ROOT
from tests.conftest import _postgres_database
from tests.production.stack import Shared
from tests.rabbitmq import delete_queue
from tests.stack import system_today

MODEL = PROJECT_ROOT / "models" / "switchboard.tar.gz"


def _forget_redis(prefix: str) -> None:
    client = redis.Redis.from_url(LOCAL_REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def shared() -> Iterator[Shared]:
    """A seeded database, a Redis key prefix and a queue for this run alone."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    run = "sbtest" + uuid.uuid4().hex[:10]  # letters and digits (REDIS_KEY_PREFIX)
    with _postgres_database() as url:
        migrate.upgrade(url)
        engine = create_engine(url)
        with Session(engine) as session, session.begin():
            seed_demo_data(session, today=system_today())
        try:
            yield Shared(url, engine, run, f"{run}_events")
        finally:
            engine.dispose()
            _forget_redis(run)
            asyncio.run(delete_queue(LOCAL_RABBITMQ_URL, f"{run}_events"))
