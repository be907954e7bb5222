"""Start the real Rasa server and action server on a fresh, seeded database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.browser import browser  # noqa: F401  (a fixture for every e2e test)
from tests.stack import MODEL, Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service of `make run` (tests/stack.py): REST channel, HTTP API with token."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    with running_stack(tmp_path_factory.mktemp("var")) as running:
        yield running
