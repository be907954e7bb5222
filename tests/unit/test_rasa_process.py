"""The Rasa server's process (bot/rasa_process.py): quiet from its first import."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import PROJECT_ROOT


def test_rasa_loads_without_printing_its_libraries_deprecations() -> None:
    """bot.rasa_server's imports load TensorFlow; the filters must come first."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.rasa_process", "--help"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "--version" in result.stdout  # Rasa's own command line answered
    assert "DeprecationWarning" not in result.stderr, result.stderr
