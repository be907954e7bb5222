"""The web app (port 8000): demo shop with the chat widget, chat API, health check.

A later issue adds the agent console.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from bot.settings import Settings

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
        pages,
        registration,
        security,
        shop,
    )

    database.init_app(app)

    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(shop.bp)
    app.register_blueprint(registration.bp)
    chat.init_app(app)
    console.init_app(app)
    return app
