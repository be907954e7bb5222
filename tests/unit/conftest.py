"""Fixtures shared by the unit tests (the database ones are in tests/conftest.py).

Also the Hypothesis profile of the property-based tests (``test_bad_input_*.py``):
the same bounded set of examples on every run, so a failure is reproducible and
`make unit` stays fast on two cores; no per-example deadline (a shared machine and
PostgreSQL make timings noisy). ``HYPOTHESIS_PROFILE=explore`` tries many more,
random examples when hunting for bugs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

from tests.fakes.rasa_webchat import FakeRasaWebChat
from tests.unit.queue_setup import Team, make_team

settings.register_profile(
    "switchboard",
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    # An app and its database are built once per test, not once per example: each
    # property holds whatever the examples before it left behind.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
settings.register_profile(
    "explore", parent=settings.get_profile("switchboard"), max_examples=1000,
    derandomize=False,
)  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "switchboard"))


@pytest.fixture
def rasa() -> Iterator[FakeRasaWebChat]:
    """Rasa's web chat channel on loopback, answering "Hello there!"."""
    fake = FakeRasaWebChat(replies=[{"recipient_id": "x", "text": "Hello there!"}])
    yield fake.start()
    fake.stop()


@pytest.fixture
def team(session: Session) -> Team:
    """Alice and Bob (agents), Sue (supervisor) and a deactivated account."""
    return make_team(session)
