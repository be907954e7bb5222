from pathlib import Path

import pytest
import yaml

from bot import launch
from bot.settings import Settings, local_secrets


def test_sqlite_tracker_store() -> None:
    assert launch.tracker_store_config("sqlite:////srv/sb/tracker.db") == {
        "type": "SQL", "dialect": "sqlite", "db": "/srv/sb/tracker.db",
    }  # fmt: skip


def test_postgres_tracker_store() -> None:
    config = launch.tracker_store_config("postgresql://rasa:pw@db.internal:6543/rasa")
    assert config == {
        "type": "SQL", "dialect": "postgresql", "host": "db.internal", "db": "rasa",
        "port": 6543, "username": "rasa", "password": "pw",
    }  # fmt: skip


def test_lock_store_is_in_memory_unless_redis_configured() -> None:
    assert launch.lock_store_config(None) is None
    assert launch.lock_store_config("redis://127.0.0.1:6379/2") == {
        "type": "redis", "url": "127.0.0.1", "port": 6379, "db": 2,
    }  # fmt: skip


def test_endpoints_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ACTION_PORT", "6055")
    monkeypatch.delenv("ACTION_SERVER_URL", raising=False)
    monkeypatch.setenv("LOCK_STORE_URL", "redis://localhost:6379/0")
    endpoints = yaml.safe_load(launch.write_endpoints(Settings.from_env()).read_text())
    assert endpoints["action_endpoint"] == {"url": "http://127.0.0.1:6055/webhook"}
    assert endpoints["tracker_store"]["db"] == str(tmp_path / "rasa_tracker.db")
    assert endpoints["lock_store"]["type"] == "redis"


def test_fingerprint_changes_with_training_data(tmp_path: Path) -> None:
    for name in ("config.yml", "domain.yml"):
        (tmp_path / name).write_text(name)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text("a")
    first = launch.training_fingerprint(tmp_path)
    assert launch.training_fingerprint(tmp_path) == first
    (tmp_path / "data" / "nlu.yml").write_text("b")
    assert launch.training_fingerprint(tmp_path) != first


def test_secrets_are_generated_once_per_install(tmp_path: Path) -> None:
    first = local_secrets(tmp_path)
    assert set(first) == {"SECRET_KEY", "RASA_TOKEN", "TWILIO_AUTH_TOKEN"}
    assert all(len(value) >= 32 for value in first.values())
    assert local_secrets(tmp_path) == first
    assert (tmp_path / "secrets.env").stat().st_mode & 0o077 == 0
    assert local_secrets(tmp_path / "other") != first


def test_environment_secrets_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RASA_TOKEN", "from-env")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    settings = Settings.from_env()
    assert settings.rasa_token == "from-env"
    assert settings.secret_key == local_secrets(tmp_path)["SECRET_KEY"]


def test_bad_integer_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_PORT", "fifty")
    with pytest.raises(ValueError, match="RASA_PORT must be an integer"):
        Settings.from_env()


def test_secrets_file_from_an_older_version_gets_the_new_secrets(
    tmp_path: Path,
) -> None:
    (tmp_path / "secrets.env").write_text("SECRET_KEY=abc\nRASA_TOKEN=def\n")
    values = local_secrets(tmp_path)
    assert values["SECRET_KEY"] == "abc" and values["RASA_TOKEN"] == "def"
    assert len(values["TWILIO_AUTH_TOKEN"]) >= 32
    assert local_secrets(tmp_path) == values
