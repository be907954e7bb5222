"""Fixtures shared by the unit tests (the database ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.unit.queue_setup import Team, make_team


@pytest.fixture
def team(session: Session) -> Team:
    """Alice and Bob (agents), Sue (supervisor) and a deactivated account."""
    return make_team(session)
