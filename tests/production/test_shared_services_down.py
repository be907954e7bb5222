"""Redis, RabbitMQ or PostgreSQL down: loud, clear to customers, nothing mixed up.

"Down" is a closed port: Switchboard's REDIS_URL, EVENT_BROKER_URL and DATABASE_URL
point at forwarders (tests/production/forwarder.py), while other tests go on using
the machine's services. Redis and RabbitMQ are down at first; opening a forwarder
brings the service back. PostgreSQL is up at first, then down for a while (its
forwarder closed, every connection cut) and back. One Rasa server, one web app and
the worker; no action server.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, text

from bot.models import ChatMessage
from bot.settings import LOCAL_RABBITMQ_URL
from bot.web.chat import NOT_TAKEN
from channels.sms import ERROR_REPLY, sms_conversation_id
from tests.customers import fresh_number, inbound, replies
from tests.e2e.console import eventually
from tests.fakes.twilio import FakeTwilio
from tests.production.forwarder import Forwarder
from tests.production.stack import Installation, Processes, Shared, production_env
from tests.stack import free_port

REDIS_PORT = 6379
RABBITMQ_PORT = 5672
POSTGRESQL_PORT = 5432
RECOVERY = 30.0  # seconds


@pytest.fixture(scope="module")
def forwarders() -> Iterator[dict[str, Forwarder]]:
    found = {
        "redis": Forwarder(REDIS_PORT),
        "rabbitmq": Forwarder(RABBITMQ_PORT),
        "postgresql": Forwarder(POSTGRESQL_PORT),
    }
    found["postgresql"].open()
    yield found
    for forwarder in found.values():
        forwarder.close()


@pytest.fixture(scope="module")
def installation(
    shared: Shared,
    forwarders: dict[str, Forwarder],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Installation]:
    var = tmp_path_factory.mktemp("services-down")
    ports = {name: free_port() for name in ("rasa", "actions", "web", "worker")}
    twilio = FakeTwilio().start()
    env = production_env(shared, var, twilio, **ports)
    env["REDIS_URL"] = f"redis://127.0.0.1:{forwarders['redis'].port}/0"
    env["EVENT_BROKER_URL"] = (
        f"amqp://guest:guest@127.0.0.1:{forwarders['rabbitmq'].port}/"
    )
    postgresql = f"127.0.0.1:{POSTGRESQL_PORT}/"
    assert postgresql in shared.database_url
    env["DATABASE_URL"] = shared.database_url.replace(
        postgresql, f"127.0.0.1:{forwarders['postgresql'].port}/"
    )
    processes = Processes(var, env)
    rasa = f"http://127.0.0.1:{ports['rasa']}"
    try:
        processes.launch("rasa", "rasa")
        processes.launch("web", "web")
        processes.launch("worker", "worker", "--port", str(ports["worker"]))
        processes.wait("rasa", f"{rasa}/health", up=loaded)
        processes.wait("web", f"http://127.0.0.1:{ports['web']}/healthz", up=answers)
        processes.wait(
            "worker", f"http://127.0.0.1:{ports['worker']}/health", up=answers
        )
        yield Installation.of(processes, shared, {"rasa": rasa})
    finally:
        processes.stop_all()
        twilio.stop()


def answers(response: requests.Response) -> bool:
    return response.status_code in (200, 503)


def loaded(response: requests.Response) -> bool:
    return bool(response.json().get("model") == "ok")


def worker_health(installation: Installation) -> tuple[int, dict[str, str]]:
    port = installation.processes.running["worker"].args[-1]
    return installation.health(f"http://127.0.0.1:{port}/health")


def user_events_of(installation: Installation, sender: str) -> int:
    with installation.shared.engine.connect() as db:
        return int(
            db.scalar(
                text(
                    "SELECT count(*) FROM events WHERE sender_id = :sender "
                    "AND type_name = 'user'"
                ),
                {"sender": sender},
            )
        )


def chat_messages_saying(installation: Installation, words: str) -> int:
    """How many web chat messages stored say `words`."""
    with installation.shared.engine.connect() as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(ChatMessage)
                .where(ChatMessage.text == words)
            )
        )


def test_both_down_the_assistant_refuses_and_says_why(
    installation: Installation,
) -> None:
    status, report = installation.health(f"{installation.rasa_url}/health")
    assert status == 503
    assert report["status"] == "error"
    assert report["lock_store"] == "unreachable"
    assert report["event_broker"] == "unreachable"
    assert report["model"] == report["database"] == "ok"

    # Without its lock store Rasa handles no message, rather than two at once: the
    # REST channel answers nothing (and logs why), SMS customers are told to text
    # again, and nothing is written.
    sender = "down-" + uuid.uuid4().hex[:10]
    assert installation.say(sender, "hi") == []
    assert user_events_of(installation, sender) == 0
    number = f"+1415555{uuid.uuid4().int % 10000:04d}"
    texted = replies(
        installation.twilio_post("/webhooks/sms/webhook", inbound("hi", number))
    )
    assert texted == [ERROR_REPLY]
    assert (
        user_events_of(installation, sms_conversation_id(number, installation.secret))
        == 0
    )

    rabbitmq = installation.processes.env["EVENT_BROKER_URL"].replace(
        "guest:guest@", ""
    )
    unreachable = f"RabbitMQ at {rabbitmq} is unreachable"
    eventually(lambda: unreachable in installation.processes.log("rasa"), RECOVERY)
    log = installation.processes.log("rasa")
    assert "rasa health: lock_store is unreachable" in log
    assert "the lock store (Redis) is unreachable" in log
    assert "guest:guest" not in log  # the broker's password stays out of logs


def test_redis_down_the_web_app_and_worker_refuse_what_they_cannot_check(
    installation: Installation,
) -> None:
    web = installation.web_url
    status, report = installation.health(f"{web}/healthz")
    assert (status, report["redis"], report["database"]) == (503, "unreachable", "ok")
    status, report = worker_health(installation)
    assert (status, report["redis"], report["database"]) == (503, "unreachable", "ok")

    browser = requests.Session()
    browser.get(f"{web}/", timeout=30)
    origin = {"Origin": web}
    text_ = "where is my order 104257 " + uuid.uuid4().hex[:6]
    chat = browser.post(
        f"{web}/chat/api/messages", json={"text": text_}, headers=origin, timeout=60
    )
    # The web chat channel cannot check its one-time nonce: refused, not taken
    # unchecked; the customer's message is kept and they are told so.
    assert chat.status_code == 503
    assert chat.json()["messages"][0]["text"] == text_
    kept = chat_messages_saying(installation, text_)
    assert kept == 1
    stream = browser.get(f"{web}/chat/api/stream", timeout=30)
    assert stream.status_code == 503 and "Retry-After" in stream.headers

    login = browser.get(f"{web}/console/login", timeout=30)
    token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = browser.post(
        f"{web}/console/login",
        data={"email": "ada@switchboard.test", "password": "x", "csrf_token": token},
        headers=origin,
        timeout=30,
    )
    assert signed_in.status_code == 503
    assert "Signing in is unavailable" in signed_in.text
    assert "sign-in refused: Redis unreachable" in installation.processes.log("web")


def test_when_they_are_back_everything_recovers_and_no_event_is_lost(
    installation: Installation, forwarders: dict[str, Forwarder]
) -> None:
    forwarders["redis"].open()
    health = f"{installation.rasa_url}/health"
    # Redis is back; RabbitMQ still down: degraded, yet serving.
    eventually(lambda: installation.health(health)[1]["lock_store"] == "ok", RECOVERY)
    status, report = installation.health(health)
    assert (status, report["status"], report["event_broker"]) == (
        200,
        "degraded",
        "unreachable",
    )
    assert installation.health(f"{installation.web_url}/healthz")[0] == 200
    eventually(lambda: worker_health(installation)[0] == 200, RECOVERY)
    sender = "back-" + uuid.uuid4().hex[:10]
    assert installation.texts(sender, "hi")
    assert user_events_of(installation, sender) == 1

    # RabbitMQ is back: the events kept meanwhile are published.
    forwarders["rabbitmq"].open()
    eventually(lambda: installation.health(health)[1]["event_broker"] == "ok", RECOVERY)
    queued = asyncio.run(drain(installation.shared.queue))
    mine = [event for event in queued if event.get("sender_id") == sender]
    assert [event["text"] for event in mine if event["event"] == "user"] == ["hi"]
    assert any(event["event"] == "bot" for event in mine)


async def drain(queue: str) -> list[dict[str, Any]]:
    """Every event waiting in the queue (RabbitMQ's own port, not the forwarder)."""
    import aio_pika

    found: list[dict[str, Any]] = []
    connection = await aio_pika.connect(LOCAL_RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True)
        deadline = time.monotonic() + RECOVERY
        while time.monotonic() < deadline:
            message = await declared.get(fail=False, timeout=5)
            if message is None:
                if found:
                    break
                await asyncio.sleep(0.5)
                continue
            await message.ack()
            found.append(json.loads(message.body))
    return found


def test_the_database_down_for_a_while_customers_are_told_and_nothing_is_half_written(
    installation: Installation, forwarders: dict[str, Forwarder]
) -> None:
    """Redis and RabbitMQ are back (the test before); PostgreSQL goes away."""
    health = f"{installation.rasa_url}/health"
    sender = "dbdown-" + uuid.uuid4().hex[:10]
    number = fresh_number()
    texted = sms_conversation_id(number, installation.secret)
    words = "where is my order 104257 " + uuid.uuid4().hex[:6]
    web = requests.Session()
    web.get(f"{installation.web_url}/", timeout=30)

    def chat() -> requests.Response:
        return web.post(
            f"{installation.web_url}/chat/api/messages",
            json={"text": words},
            headers={"Origin": installation.web_url},
            timeout=60,
        )

    forwarders["postgresql"].close()
    try:
        eventually(lambda: installation.health(health)[0] == 503, RECOVERY)
        assert installation.health(health)[1]["database"] == "unreachable"
        assert installation.health(f"{installation.web_url}/healthz")[0] == 503
        # Each channel says so: SMS customers are asked to text again, the web
        # chat customer to send it again; the REST channel answers nothing.
        assert installation.say(sender, "hi") == []
        sms = installation.twilio_post("/webhooks/sms/webhook", inbound("hi", number))
        assert replies(sms) == [ERROR_REPLY]
        refused = chat()
        assert refused.status_code == 503
        assert refused.json()["message"] == NOT_TAKEN
    finally:
        forwarders["postgresql"].open()

    eventually(lambda: installation.health(health)[0] == 200, RECOVERY)
    eventually(
        lambda: installation.health(f"{installation.web_url}/healthz")[0] == 200,
        RECOVERY,
    )
    # Nothing half-written: no trace of the refused messages.
    assert user_events_of(installation, sender) == 0
    assert user_events_of(installation, texted) == 0
    kept = chat_messages_saying(installation, words)
    assert kept == 0
    # Recovered: the same customers, answered, each message once.
    assert installation.texts(sender, "hi")
    assert user_events_of(installation, sender) == 1
    sms = installation.twilio_post("/webhooks/sms/webhook", inbound("hi", number))
    assert replies(sms) and replies(sms) != [ERROR_REPLY]
    assert user_events_of(installation, texted) == 1
    answered = chat()
    assert answered.status_code == 200
    assert answered.json()["messages"][0]["text"] == words
    assert "the database is unreachable" in installation.processes.log("web")
