"""The action server: rasa-sdk's app, answering only the Rasa server.

rasa-sdk's own server listens on every interface (`SANIC_HOST`'s default) and runs
any action for anyone who can reach it, with whatever tracker they send. This one
binds to `BIND_HOST` and answers only requests carrying
`Authorization: Bearer <ACTION_SERVER_TOKEN>`, the header Rasa sends from
`var/endpoints.yml` (bot.launch.write_endpoints). Only `GET /health` is open: it
reports the database the actions use (bot/health.py; 503 when it is unreachable),
for the load balancer, from checks run on a thread of their own (`health.Monitor`).
"""

from __future__ import annotations

import hmac
import logging
import sys

from rasa_sdk import endpoint, utils
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import health
from bot.db import session_factory
from bot.settings import Settings
from knowledge_base import served_knowledge_base

logger = logging.getLogger(__name__)

ACTIONS_PACKAGE = "actions"
OPEN_PATHS = frozenset({"/health"})


def authorized(header: str | None, token: str) -> bool:
    """True when an Authorization header carries exactly `token` as a bearer token."""
    if not token or not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def create_app(
    token: str, actions: str = ACTIONS_PACKAGE, checks: health.Monitor | None = None
) -> Sanic:
    """rasa-sdk's app with every route but `/health` behind the bearer token.

    With `checks`, `GET /health` reports them instead of rasa-sdk's plain "ok".
    """
    if not token:
        raise ValueError("the action server needs ACTION_SERVER_TOKEN")
    # No CORS: only the Rasa server calls this, never a browser.
    app = endpoint.create_app(actions, cors_origins="")

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            if checks is not None and request.method == "GET":
                # Answered here, before rasa-sdk's own /health route.
                report = await checks.current()
                return response.json(report.to_json(), status=report.http_status)
            return None
        if authorized(request.headers.get("authorization"), token):
            return None
        logger.warning("refused %s %s: no valid token", request.method, request.path)
        return response.json(
            {"error": "unauthorized"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    return app


def keep_tensorflow_out() -> None:
    """Make `import tensorflow` fail in this process, before the actions load.

    TensorFlow is installed for Rasa, and spaCy's thinc (the entity rules use a
    blank spaCy pipeline) imports it when it can: about 400 MB and seconds of start
    for nothing the actions use. thinc treats the failed import as "not installed".
    """
    sys.modules.setdefault("tensorflow", None)  # type: ignore[arg-type]


def run(settings: Settings, port: int | None = None) -> None:
    """Serve the actions on BIND_HOST and `port` (ACTION_PORT) until stopped."""
    keep_tensorflow_out()
    utils.configure_colored_logging(logging.INFO)
    utils.update_sanic_log_level()
    checks = health.Monitor(
        health.Health(
            "actions",
            [
                health.Check(
                    "database",
                    health.probe_database(session_factory(settings.database_url)),
                )
            ],
        )
    )
    app = create_app(settings.action_server_token, checks=checks)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)

    async def load_help_centre(app: Sanic, loop: object) -> None:
        # Embedding the articles takes seconds on a cold cache: before the server
        # listens, not during a customer's (or a phone caller's) first question.
        served_knowledge_base(settings.var_dir)

    async def start_checks(app: Sanic, loop: object) -> None:
        checks.start()

    app.register_listener(load_help_centre, "before_server_start")
    app.register_listener(start_checks, "before_server_start")
    app.run(
        settings.bind_host,
        port or settings.action_port,
        workers=utils.number_of_sanic_workers(),
        access_log=False,
    )
