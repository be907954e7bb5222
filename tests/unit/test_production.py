"""`make run-production`'s plan (bot/production.py): HAProxy, the Procfile, the database."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import production
from bot.settings import Settings
from tests.conftest import POSTGRES_URL

SETTINGS = Settings(mode="production", rasa_instances=3, web_instances=2)


def test_each_service_has_its_instances_on_ports_a_hundred_apart() -> None:
    plan = production.topology(SETTINGS)
    assert plan.service("rasa").instances == (5105, 5205, 5305)
    assert plan.service("actions").instances == (5155, 5255)
    assert plan.service("web").instances == (8100, 8200)
    assert (plan.worker_port, plan.stats_port) == (5057, 8404)
    with pytest.raises(ValueError, match="at least one instance"):
        production.topology(Settings(mode="production", action_instances=0))


def test_haproxy_balances_checked_instances_on_loopback() -> None:
    config = production.haproxy_config(production.topology(SETTINGS))
    lines = [line.strip() for line in config.splitlines()]
    for front, check in (
        ("127.0.0.1:5005", "GET /health"),
        ("127.0.0.1:5055", "GET /health"),
        ("127.0.0.1:8000", "GET /healthz"),
    ):
        assert f"bind {front}" in lines
        assert f"option httpchk {check}" in lines
    assert "server rasa3 127.0.0.1:5305 check" in lines
    assert "server web2 127.0.0.1:8200 check" in lines
    assert "server worker 127.0.0.1:5057 check" in lines
    assert "bind 127.0.0.1:8404" in lines  # statistics: loopback only
    assert "option redispatch 1" in lines  # a refused connection goes elsewhere
    # A saturated instance answers its check late but stays in (10 s, 3 failures);
    # a dead one refusing live traffic is checked every 500 ms.
    assert "timeout check 10s" in lines
    assert (
        "default-server inter 2s fastinter 500ms fall 3 rise 2"
        " observe layer4 error-limit 1 on-error fastinter"
    ) in lines
    # Only the web app is told the client's address (its ProxyFix reads it).
    assert lines.count("option forwardfor") == 1


def test_haproxy_accepts_the_configuration(tmp_path: Path) -> None:
    if not shutil.which("haproxy"):
        pytest.fail("HAProxy missing: run `make haproxy` first")
    config = tmp_path / "haproxy.cfg"
    config.write_text(production.haproxy_config(production.topology(SETTINGS)))
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(config)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_procfile_runs_each_instance_on_its_port(tmp_path: Path) -> None:
    plan = production.topology(SETTINGS)
    lines = production.procfile(plan, tmp_path / "haproxy.cfg").splitlines()
    names = [line.split(":", 1)[0] for line in lines]
    assert names == [
        "haproxy", "rasa1", "rasa2", "rasa3", "actions1", "actions2", "web1", "web2",
        "worker", "insights",
    ]  # fmt: skip
    assert lines[0].endswith(f"-db -f {tmp_path / 'haproxy.cfg'}")
    assert lines[3].endswith("-m bot run rasa --port 5305")
    assert lines[-2].endswith("-m bot run worker --port 5057")
    # The insights consumer reads RabbitMQ's queue (EVENT_BROKER_QUEUE).
    assert lines[-1].endswith("-m bot run insights")


@pytest.mark.postgres
def test_prepare_creates_a_missing_database() -> None:
    name = "sbprod_" + uuid.uuid4().hex[:10]
    url = str(make_url(POSTGRES_URL).set(database=name))
    try:
        assert production.ensure_database(url) == (
            f"created the PostgreSQL database {name}"
        )
        assert production.ensure_database(url) is None  # there already
        engine = create_engine(url)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()
    finally:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    assert production.ensure_database("sqlite:///x.db") is None


def test_prepare_names_each_service_that_does_not_answer(closed_port: int) -> None:
    settings = Settings(
        mode="production",
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port}/switchboard",
        redis_url=f"redis://127.0.0.1:{closed_port}/0",
        event_broker_url=f"amqp://guest:guest@127.0.0.1:{closed_port}/",
    )
    problems = production.prepare(settings)
    assert [problem.split(":", 1)[0] for problem in problems] == [
        "DATABASE_URL", "RASA_TRACKER_STORE_URL", "REDIS_URL", "EVENT_BROKER_URL",
    ]  # fmt: skip


def test_start_refuses_embedded_mode() -> None:
    with pytest.raises(SystemExit, match="SWITCHBOARD_MODE=production"):
        production.start(Settings())
