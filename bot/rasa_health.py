"""`GET /health` on the Rasa server: the model and every dependency (bot/health.py).

Required (503 when down, so the load balancer sends the conversation elsewhere):
the model, the customer database (the hold gate reads it for every message), the
tracker store when it is another database, and the lock store when it is Redis
(without it no message is handled: never two turns of one conversation at once).
Optional (reported, 200 "degraded"): the event broker (Rasa keeps the events and
publishes them later) and the action server (turns that need it get an apology,
bot/action_failures.py), since taking every instance out for them would silence
the assistant altogether. Open without a token: it tells nothing but "ok" or what
is wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import health
from bot.db import session_factory
from bot.settings import Settings, is_rabbitmq

PATH = "/health"
NOT_LOADED = "not loaded"


def _agent_probe(app: Sanic, part: Callable[[Any], None]) -> Callable[[], None]:
    """A probe of the loaded agent (`app.ctx.agent`, set once the model loads)."""

    def probe() -> None:
        agent = getattr(app.ctx, "agent", None)
        if agent is None or not agent.is_ready():
            raise health.Starting(NOT_LOADED)
        part(agent)

    return probe


def _model(agent: Any) -> None:
    return None  # loaded, since the agent is ready


def _lock_store(agent: Any) -> None:
    agent.lock_store.red.ping()


def _event_broker(agent: Any) -> None:
    broker = agent.tracker_store.event_broker
    if broker is None or not broker.is_ready():
        raise health.Unhealthy(health.UNREACHABLE)


def checks(app: Sanic, settings: Settings) -> health.Health:
    """The Rasa server's checks, as its settings configure it."""
    found = [
        health.Check("model", _agent_probe(app, _model)),
        health.Check(
            "database", health.probe_database(session_factory(settings.database_url))
        ),
    ]
    if settings.tracker_store_url != settings.database_url:
        found.append(
            health.Check(
                "tracker_store",
                health.probe_database(session_factory(settings.tracker_store_url)),
            )
        )
    if settings.lock_store_url:
        found.append(health.Check("lock_store", _agent_probe(app, _lock_store)))
    if is_rabbitmq(settings.event_broker_url):  # Rasa's SQL broker is always ready
        found.append(
            health.Check(
                "event_broker", _agent_probe(app, _event_broker), required=False
            )
        )
    action_health = settings.action_server_url.rsplit("/", 1)[0] + PATH
    found.append(
        health.Check("action_server", health.probe_http(action_health), required=False)
    )
    return health.Health("rasa", found)


def add_route(app: Sanic, settings: Settings) -> None:
    """Answer `GET /health` on `app` from a Monitor (bot/health.py) started with it."""
    monitor = health.Monitor(checks(app, settings))

    async def start_monitor(app: Sanic, loop: object) -> None:
        monitor.start()

    async def stop_monitor(app: Sanic, loop: object) -> None:
        monitor.stop()

    async def health_route(request: Request) -> HTTPResponse:
        report = await monitor.current()
        return response.json(report.to_json(), status=report.http_status)

    app.register_listener(start_monitor, "before_server_start")
    app.register_listener(stop_monitor, "after_server_stop")
    app.add_route(health_route, PATH, methods=["GET"], name="switchboard_health")


def install(settings: Settings) -> None:
    """Add the route to the Sanic app that Rasa's `run` and `shell` build."""
    import rasa.core.run

    build = rasa.core.run.configure_app

    @functools.wraps(build)
    def configure_app(*args: Any, **kwargs: Any) -> Sanic:
        app = build(*args, **kwargs)
        add_route(app, settings)
        return app

    rasa.core.run.configure_app = configure_app
