"""Train a tiny NLU model with a test's own config and data, and check its intents."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.model_training import train_nlu
from rasa.shared.nlu.constants import INTENT


def assert_tiny_model_recognises(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    nlu: str,
    expected: list[tuple[str, str]],
) -> None:
    """Trains `config` on `nlu` in `tmp_path` and asserts each (text, intent) pair."""
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "cache"))
    config_file = tmp_path / "config.yml"
    config_file.write_text(config)
    nlu_file = tmp_path / "nlu.yml"
    nlu_file.write_text(textwrap.dedent(nlu))

    model_path = train_nlu(str(config_file), str(nlu_file), str(tmp_path / "models"))

    assert model_path is not None
    agent = Agent.load(model_path)
    for text, intent in expected:
        parsed = asyncio.run(agent.parse_message(text))
        assert parsed[INTENT]["name"] == intent, (text, parsed[INTENT])
