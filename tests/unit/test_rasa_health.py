"""The Rasa server's health report (bot/rasa_health.py): what is required, what not."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot import rasa_health
from bot.settings import Settings


class Redis:
    def __init__(self, up: bool) -> None:
        self.up = up

    def ping(self) -> bool:
        if not self.up:
            raise ConnectionRefusedError("Redis is down")
        return True


def agent(redis_up: bool = True, broker_ready: bool = True) -> Any:
    """What the checks read of Rasa's loaded Agent."""
    broker = SimpleNamespace(is_ready=lambda: broker_ready)
    return SimpleNamespace(
        is_ready=lambda: True,
        lock_store=SimpleNamespace(red=Redis(redis_up)),
        tracker_store=SimpleNamespace(event_broker=broker),
    )


@pytest.fixture
def settings(tmp_path: Path, closed_port: int) -> Settings:
    return Settings(
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/switchboard.db",
        tracker_store_url=f"sqlite:///{tmp_path}/tracker.db",
        lock_store_url="redis://127.0.0.1:6379/0",
        event_broker_url="amqp://guest:guest@127.0.0.1:5672/",
        action_server_url=f"http://127.0.0.1:{closed_port}/webhook",
    )


def report(settings: Settings, loaded: Any) -> tuple[int, dict[str, str]]:
    app = SimpleNamespace(ctx=SimpleNamespace(agent=loaded))
    found = rasa_health.checks(app, settings).report()  # type: ignore[arg-type]
    return found.http_status, found.to_json()


def test_before_the_model_is_loaded_the_instance_is_out(settings: Settings) -> None:
    status, found = report(settings, None)
    assert status == 503
    assert (
        found["model"] == found["lock_store"] == found["event_broker"] == ("not loaded")
    )
    assert found["database"] == found["tracker_store"] == "ok"


def test_the_broker_and_action_server_down_only_degrade_it(settings: Settings) -> None:
    status, found = report(settings, agent(broker_ready=False))
    assert (status, found) == (
        200,
        {
            "status": "degraded", "model": "ok", "database": "ok",
            "tracker_store": "ok", "lock_store": "ok", "event_broker": "unreachable",
            "action_server": "unreachable",
        },
    )  # fmt: skip


def test_the_lock_store_down_takes_it_out(settings: Settings) -> None:
    status, found = report(settings, agent(redis_up=False))
    assert (status, found["lock_store"]) == (503, "unreachable")


def test_one_database_is_checked_once_and_unused_stores_not_at_all(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/switchboard.db"
    embedded = Settings(var_dir=tmp_path, database_url=url, tracker_store_url=url)
    app = SimpleNamespace(ctx=SimpleNamespace(agent=agent()))
    names = [check.name for check in rasa_health.checks(app, embedded).checks]  # type: ignore[arg-type]
    assert names == ["model", "database", "action_server"]
