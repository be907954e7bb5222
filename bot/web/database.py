"""The web app's database: one session factory per app, and the one way to reach it.

`init_app` builds the engine and session factory from the app's DATABASE_URL and
keeps them in app.extensions["session_factory"] (tests may put another factory
there); every view gets its sessions through `session_factory()`.
"""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, make_session_factory

EXTENSION = "session_factory"


def init_app(app: Flask) -> None:
    """Build the app's engine and session factory from its DATABASE_URL."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[EXTENSION] = make_session_factory(engine)


def session_factory_of(app: Flask) -> sessionmaker[Session]:
    """`app`'s session factory (outside a request)."""
    factory: sessionmaker[Session] = app.extensions[EXTENSION]
    return factory


def session_factory() -> sessionmaker[Session]:
    """The current app's session factory: one short-lived session per unit of work."""
    return session_factory_of(current_app)  # type: ignore[arg-type]
