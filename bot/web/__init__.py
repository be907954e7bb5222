"""The web app (port 8000): demo shop with the chat widget, chat API, the console.

With REDIS_URL set (production), what its processes share lives in Redis
(app.extensions["shared_state"]): chat stream quotas and live push, the console's
sign-in throttle and one-time reply keys. In production mode it runs behind the
load balancer, whose X-Forwarded-For gives the client's address.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.chat_push import announce_on_commit
from bot.settings import Settings
from bot.shared_state import SharedState

SESSION_LIFETIME = timedelta(hours=12)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory: settings from the environment, overridable for tests."""
    app = Flask(__name__)
    settings = Settings.from_env()
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.database_url,
        SETTINGS=settings,
        RASA_URL=settings.rasa_url,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Only over HTTPS: set SESSION_COOKIE_SECURE=true behind TLS.
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        # Sessions are permanent (they survive a browser restart) and are forgotten
        # after this long unused; a sign-in ends after this long in any case.
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    if test_config:
        app.config.update(test_config)
    from bot.web import (
        auth,
        chat,
        console,
        database,
        errors,
        pages,
        registration,
        security,
        shop,
        shop_events,
    )

    database.init_app(app)
    settings = app.config["SETTINGS"]  # tests may give their own
    if settings.redis_url:
        state = SharedState.from_url(settings.redis_url, settings.redis_key_prefix)
        app.extensions["shared_state"] = state
        announce_on_commit(database.session_factory_of(app), state)
    if settings.production:
        # Behind HAProxy (one hop, which appends the address it saw): sign-in
        # throttles and stream quotas count real clients, not the proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]

    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    pages.init_app(app)
    app.register_blueprint(shop.bp)
    app.register_blueprint(registration.bp)
    chat.init_app(app)
    shop_events.init_app(app)
    console.init_app(app)
    return app
