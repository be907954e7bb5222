"""The agent console (/console): sign-in, the queue, tickets, supervisor pages.

`init_app` registers it. `app.extensions["sms_sender"]` is a zero-argument factory
of the SMS sender replies to SMS and voice customers go through (the Twilio REST
client by default); tests put a fake in its place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Flask

from bot.durations import describe_duration
from bot.settings import Settings
from bot.shared_state import SharedState
from bot.twilio_client import TwilioClient
from bot.web.console import actions, api, auth, insights, once, supervisor, views
from bot.web.console.common import SMS_SENDER, is_supervisor


def _local_time_filter(settings: Settings) -> Callable[[dt.datetime | str | None], str]:
    zone = ZoneInfo(settings.timezone)

    def local_time(value: dt.datetime | str | None) -> str:
        """A UTC time (or ISO string) in the team's time zone: "Nov 20 14:05"."""
        if value is None or value == "":
            return ""
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(zone).strftime("%b %d %H:%M")

    return local_time


def init_app(app: Flask) -> None:
    """Register the console's blueprints, sign-in and defaults."""
    settings: Settings = app.config["SETTINGS"]
    app.config.setdefault("CONSOLE_PRIORITY_REFRESH_SECONDS", 30.0)
    app.config.setdefault("CONSOLE_QUEUE_POLL_MS", 3000)
    app.config.setdefault("CONSOLE_TICKET_POLL_MS", 2000)
    app.extensions.setdefault(SMS_SENDER, lambda: TwilioClient.from_settings(settings))
    app.extensions["console_priorities"] = views.PriorityRefresher(
        float(app.config["CONSOLE_PRIORITY_REFRESH_SECONDS"])
    )
    state: SharedState | None = app.extensions.get("shared_state")
    app.extensions[actions.USED_KEYS] = (
        once.OnceKeys() if state is None else once.SharedOnceKeys(state)
    )
    app.jinja_env.filters["local_time"] = _local_time_filter(settings)
    app.jinja_env.filters["duration"] = describe_duration
    app.jinja_env.globals["console_is_supervisor"] = is_supervisor
    auth.init_app(app)
    # Each blueprint is behind auth.protect (sign-in, role, form token); the
    # ticket forms (actions.py) are routes of the console blueprint (views.py).
    for blueprint in (actions.bp, api.bp, supervisor.bp, insights.bp):
        app.register_blueprint(blueprint)
