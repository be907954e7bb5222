import os
import stat
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import yaml

from bot import launch
from bot.cli import main
from bot.settings import Settings, local_secrets


def test_sqlite_tracker_store() -> None:
    assert launch.tracker_store_config("sqlite:////srv/sb/tracker.db") == {
        "type": launch.TRACKER_STORE, "dialect": "sqlite", "db": "/srv/sb/tracker.db",
    }  # fmt: skip


def test_postgres_tracker_store() -> None:
    config = launch.tracker_store_config("postgresql://rasa:pw@db.internal:6543/rasa")
    assert config == {
        "type": launch.TRACKER_STORE, "dialect": "postgresql", "url": "db.internal",
        "db": "rasa",
        "port": 6543, "username": "rasa", "password": "pw",
    }  # fmt: skip


def test_lock_store_is_in_memory_unless_redis_configured() -> None:
    assert launch.lock_store_config(None, "sb") is None
    # Ours (bot/lock_store.py), not Rasa's "redis", which two instances can share
    # only by luck.
    assert launch.lock_store_config("redis://:pw@127.0.0.1:6379/2", "sb") == {
        "type": "bot.lock_store.SharedLockStore", "url": "127.0.0.1", "port": 6379,
        "db": 2, "key_prefix": "sb", "password": "pw",
    }  # fmt: skip


def test_production_endpoints(tmp_path: Path) -> None:
    settings = Settings(
        mode="production", var_dir=tmp_path, redis_key_prefix="shop1",
        event_broker_queue="shop1_events", action_server_token="t",
    )  # fmt: skip
    endpoints = yaml.safe_load(launch.write_endpoints(settings).read_text())
    assert endpoints["tracker_store"] == {
        "type": launch.TRACKER_STORE, "dialect": "postgresql", "url": "127.0.0.1",
        "db": "switchboard",
        "port": 5432, "username": "postgres",
    }  # fmt: skip
    assert endpoints["lock_store"]["key_prefix"] == "shop1"
    assert endpoints["event_broker"]["queues"] == ["shop1_events"]
    embedded = Settings(var_dir=tmp_path, action_server_token="t")
    endpoints = yaml.safe_load(launch.write_endpoints(embedded).read_text())
    assert "lock_store" not in endpoints
    assert endpoints["event_broker"]["type"] == "sql"  # Rasa's, var/rasa_events.db


def test_endpoints_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ACTION_PORT", "6055")
    monkeypatch.delenv("ACTION_SERVER_URL", raising=False)
    monkeypatch.setenv("LOCK_STORE_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "t0ken")
    endpoints = yaml.safe_load(launch.write_endpoints(Settings.from_env()).read_text())
    # Rasa sends the action server's token with every call (issue 8, item 1).
    assert endpoints["action_endpoint"] == {
        "url": "http://127.0.0.1:6055/webhook",
        "headers": {"Authorization": "Bearer t0ken"},
        "enable_selective_domain": True,  # the domain only to validate_* actions
    }
    assert endpoints["tracker_store"]["db"] == str(tmp_path / "rasa_tracker.db")
    assert endpoints["lock_store"]["type"] == "bot.lock_store.SharedLockStore"
    # Rasa's SQL event broker, in a database of its own (issue 11).
    assert endpoints["event_broker"] == {
        "type": "sql",
        "url": f"sqlite:///{tmp_path / 'rasa_events.db'}",
    }


def test_event_broker_config() -> None:
    assert launch.event_broker_config("postgresql://u:p@db/events", "q") == {
        "type": "sql", "url": "postgresql://u:p@db/events",
    }  # fmt: skip
    assert launch.event_broker_config(
        "amqp://rasa:s%40cret@mq.example.com:5673/vhost", "switchboard_events"
    ) == {
        "type": "bot.event_broker.RabbitMQBroker",
        "url": "amqp://mq.example.com:5673/vhost", "port": 5673,
        "username": "rasa", "password": "s@cret", "queues": ["switchboard_events"],
        "exchange_name": "switchboard_events",
    }  # fmt: skip
    assert launch.event_broker_config("amqp://localhost", "q")["username"] == "guest"
    # What Rasa logs is the URL: the credentials go in their own fields.
    assert launch.event_broker_config("amqp://sb:s3cret@mq.internal/shop", "q") == {
        "type": "bot.event_broker.RabbitMQBroker",
        "url": "amqp://mq.internal:5672/shop",
        "port": 5672, "username": "sb", "password": "s3cret",
        "queues": ["q"], "exchange_name": "q",
    }  # fmt: skip


def test_fingerprint_changes_with_training_data(tmp_path: Path) -> None:
    for name in ("config.yml", "domain.yml"):
        (tmp_path / name).write_text(name)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text("a")
    first = launch.training_fingerprint(tmp_path)
    assert launch.training_fingerprint(tmp_path) == first
    (tmp_path / "data" / "nlu.yml").write_text("b")
    assert launch.training_fingerprint(tmp_path) != first


def test_fingerprint_ignores_the_help_centres_validation_set(tmp_path: Path) -> None:
    for name in ("config.yml", "domain.yml"):
        (tmp_path / name).write_text(name)
    kb = tmp_path / "data" / "validation" / "kb"
    kb.mkdir(parents=True)
    first = launch.training_fingerprint(tmp_path)
    (kb / "questions.yml").write_text("answerable: {}")  # read at run time only
    assert launch.training_fingerprint(tmp_path) == first
    (tmp_path / "data" / "validation" / "nlu.yml").write_text("nlu: []")
    assert launch.training_fingerprint(tmp_path) != first


def test_secrets_are_generated_once_per_install(tmp_path: Path) -> None:
    first = local_secrets(tmp_path)
    assert set(first) == {
        "SECRET_KEY", "RASA_TOKEN", "TWILIO_AUTH_TOKEN", "ACTION_SERVER_TOKEN",
        "SHOP_WEBHOOK_SECRET",
    }  # fmt: skip
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
    assert len(values["ACTION_SERVER_TOKEN"]) >= 32
    assert local_secrets(tmp_path) == values


def test_processes_starting_together_agree_on_new_secrets(tmp_path: Path) -> None:
    # An install from before ACTION_SERVER_TOKEN: Rasa and the action server both
    # add it at their first start, and must end up with the same value.
    (tmp_path / "secrets.env").write_text("SECRET_KEY=abc\nRASA_TOKEN=def\n")
    with ProcessPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(local_secrets, [tmp_path] * 8))
    assert len({r["ACTION_SERVER_TOKEN"] for r in results}) == 1
    assert len({r["TWILIO_AUTH_TOKEN"] for r in results}) == 1
    assert local_secrets(tmp_path) == results[0]


# --- var/ files are private (issue 8, item 7) ----------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore this process's umask after a test that sets it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask")
def test_existing_var_files_are_made_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    (var / "switchboard.db").write_text("customers")
    (var / "switchboard.db-wal").write_text("")
    (var / "endpoints.yml").write_text("")
    elsewhere = tmp_path / "data" / "tracker.db"  # a tracker database outside var/
    elsewhere.parent.mkdir()
    elsewhere.write_text("conversations")
    for path in (var, *var.iterdir(), elsewhere):
        path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(var))
    monkeypatch.setenv("RASA_TRACKER_STORE_URL", f"sqlite:///{elsewhere}")
    launch.keep_files_private(Settings.from_env())
    assert mode(var) == 0o700
    assert {p.name: mode(p) for p in var.iterdir()} == {
        "switchboard.db": 0o600, "switchboard.db-wal": 0o600,
        "endpoints.yml": 0o600, "secrets.env": 0o600,
    }  # fmt: skip
    assert mode(elsewhere) == 0o600
    (var / "new.log").write_text("")  # what this process creates from now on
    assert mode(var / "new.log") == 0o600


@pytest.mark.usefixtures("umask")
def test_the_command_line_creates_private_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(var))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{var / 'switchboard.db'}")
    assert main(["db", "upgrade"]) == 0
    assert main(["seed"]) == 0  # customers, and agents' password hashes
    assert mode(var) == 0o700
    files = {p.name: mode(p) for p in var.iterdir()}
    assert "switchboard.db" in files and "demo-agents.txt" in files
    assert set(files.values()) == {0o600}


def test_the_endpoints_file_stays_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    (tmp_path / "endpoints.yml").write_text("old")
    (tmp_path / "endpoints.yml").chmod(0o644)
    path = launch.write_endpoints(Settings.from_env())
    assert mode(path) == 0o600


def test_services_table_without_demo_agents_says_how_to_add_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BIND_HOST", "10.1.2.3")
    monkeypatch.setenv("WEB_PORT", "9000")

    table = launch.services_table(Settings.from_env(), demo_agents=None).splitlines()

    assert table[4].split() == [
        "Agent", "console", "http://10.1.2.3:9000/console", "agents:", "`python",
        "-m", "bot", "agent", "create`",
    ]  # fmt: skip
    assert len(table) == 7 and "password" not in "".join(table)


def test_train_records_its_wall_and_cpu_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from benchmarks.nlu import training_time

    def fake_rasa(command: list[str], **kwargs: object) -> None:
        # A real child process that uses some CPU, as `rasa train` would.
        subprocess.run([sys.executable, "-c", "sum(range(20_000_000))"], check=True)
        launch.model_path().write_bytes(b"model")

    monkeypatch.setattr(launch, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(launch, "MODEL_DIR", tmp_path / "models")
    monkeypatch.setattr(launch.train_output, "run", fake_rasa)

    assert launch.train(force=True)

    recorded = yaml.safe_load(launch.training_time_path().read_text())
    assert recorded["wall_seconds"] >= recorded["cpu_seconds"] * 0.5 > 0
    assert training_time(launch.model_path()).startswith("training time: ")
    assert "not recorded" in training_time(tmp_path / "other.tar.gz")
