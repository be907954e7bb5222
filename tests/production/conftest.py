"""Fault tests of production mode on the machine's PostgreSQL, Redis and RabbitMQ.

Every run has its own PostgreSQL database (created, migrated, seeded and dropped at
the end), Redis key prefix and RabbitMQ queue (deleted at the end), so runs on one
machine never meet. Each module starts its processes once (a module-scoped
fixture) from the trained model, and stops them at its end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.production.stack import Shared, shared_services
from tests.stack import MODEL


@pytest.fixture(scope="session")
def shared() -> Iterator[Shared]:
    """A seeded database, a Redis key prefix and a queue for this run alone."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    with shared_services() as services:
        yield services
