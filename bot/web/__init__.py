"""The web app (port 8000): landing page and health check for now.

Later issues grow it into the chat page and the agent console.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from bot.db import make_engine, make_session_factory
from bot.settings import Settings


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory: settings from the environment, overridable for tests."""
    app = Flask(__name__)
    settings = Settings.from_env()
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.database_url,
        SETTINGS=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.update(test_config)
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["session_factory"] = make_session_factory(engine)

    from bot.web import pages

    app.register_blueprint(pages.bp)
    return app
