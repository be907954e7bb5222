"""Settings read from the environment (and a `.env` file), each declared once.

Every setting is a field of `Settings` that carries its environment variable, its
type and its default (or how the default follows from other settings), so the
dataclass, `Settings.from_env` and `.env.example` cannot disagree (a unit test
compares them). The checks the Twilio channels need at start are here too.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

import phonenumbers

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"

# Field metadata keys.
ENV = "env"
DERIVED = "derived"
CLEAN = "clean"
GENERATED = "generated"

# VOICE_TRUST_CALLER_ID: when the IVR vouches for a caller's `From` number.
TRUST_ATTESTED = "attested"  # full STIR/SHAKEN attestation only
TRUST_ALWAYS = "always"  # carriers without StirVerstat; spoofable
TRUST_NEVER = "never"
TRUST_MODES = (TRUST_ATTESTED, TRUST_ALWAYS, TRUST_NEVER)
MAX_QUEUE_NAME = 64  # Twilio's limit for a queue's friendly name
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")  # Twilio's format

# SWITCHBOARD_MODE: everything in this machine's files and processes (`make run`), or
# the shared services several processes and machines need (`make run-production`).
EMBEDDED = "embedded"
PRODUCTION = "production"
MODES = (EMBEDDED, PRODUCTION)
# Production defaults: the local services, as on development and CI machines.
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/switchboard"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def setting(
    env: str,
    default: Any = "",
    *,
    derived: Callable[[Any], Any] | None = None,
    clean: Callable[[str], str] | None = None,
    generated: bool = False,
) -> Any:
    """A `Settings` field read from the variable `env`.

    Args:
        env: The environment variable; unset or empty means the default.
        default: The value when `env` is unset.
        derived: The default computed from the other settings instead (the field's
            `default` is then the empty value that asks for it).
        clean: Tidies the variable's text before use.
        generated: A secret generated into var/secrets.env when `env` is unset.

    Returns:
        The dataclass field.
    """
    metadata = {ENV: env, DERIVED: derived, CLEAN: clean, GENERATED: generated}
    return field(default=default, metadata=metadata)


def _sqlite_in_var_dir(filename: str) -> Callable[[Any], str]:
    return lambda settings: f"sqlite:///{settings.var_dir / filename}"


def _by_mode(
    production: Callable[[Any], Any],
    embedded: Callable[[Any], Any] = lambda settings: None,
) -> Callable[[Any], Any]:
    """A default that follows SWITCHBOARD_MODE (embedded: unset unless given)."""
    return lambda settings: (production if settings.mode == PRODUCTION else embedded)(
        settings
    )


@dataclass(frozen=True)
class Settings:
    """Every setting Switchboard reads; see `.env.example` for documentation."""

    # First: the defaults of the data and shared-state settings below follow it.
    mode: str = setting(
        "SWITCHBOARD_MODE", EMBEDDED, clean=lambda raw: raw.strip().lower()
    )
    var_dir: Path = setting("SWITCHBOARD_VAR_DIR", DEFAULT_VAR_DIR)
    database_url: str = setting(
        "DATABASE_URL",
        derived=_by_mode(
            lambda s: LOCAL_POSTGRES_URL, _sqlite_in_var_dir("switchboard.db")
        ),
    )
    default_phone_region: str = setting("DEFAULT_PHONE_REGION", "US")
    max_verification_attempts: int = setting("MAX_VERIFICATION_ATTEMPTS", 3)
    max_attempts_per_key: int = setting("MAX_ATTEMPTS_PER_KEY", 5)
    max_attempts_per_identifier: int = setting("MAX_ATTEMPTS_PER_IDENTIFIER", 5)
    attempt_window_minutes: int = setting("ATTEMPT_WINDOW_MINUTES", 60)
    bind_host: str = setting("BIND_HOST", "127.0.0.1")
    web_port: int = setting("WEB_PORT", 8000)
    rasa_port: int = setting("RASA_PORT", 5005)
    action_port: int = setting("ACTION_PORT", 5055)
    action_server_url: str = setting(
        "ACTION_SERVER_URL",
        derived=lambda s: f"http://127.0.0.1:{s.action_port}/webhook",
    )
    # In production, Rasa's `events` table sits next to the customer tables.
    tracker_store_url: str = setting(
        "RASA_TRACKER_STORE_URL",
        derived=_by_mode(
            lambda s: s.database_url, _sqlite_in_var_dir("rasa_tracker.db")
        ),
    )
    # Shared state of the web processes and the Rasa instances (production only).
    redis_url: str | None = setting(
        "REDIS_URL", None, derived=_by_mode(lambda s: LOCAL_REDIS_URL)
    )
    # Prefix of every Redis key Switchboard writes (letters and digits).
    redis_key_prefix: str = setting("REDIS_KEY_PREFIX", "switchboard")
    lock_store_url: str | None = setting(
        "LOCK_STORE_URL", None, derived=lambda s: s.redis_url
    )
    # Rasa's event broker (every conversation event, for Insights): RabbitMQ
    # (amqp://, production) or a SQL database (Rasa's SQL broker, embedded).
    event_broker_url: str = setting(
        "EVENT_BROKER_URL",
        derived=_by_mode(
            lambda s: LOCAL_RABBITMQ_URL, _sqlite_in_var_dir("rasa_events.db")
        ),
    )
    # RabbitMQ only: the durable queue the insights consumer reads (and the fanout
    # exchange Rasa publishes to, named after it).
    event_broker_queue: str = setting("EVENT_BROKER_QUEUE", "switchboard_events")
    secret_key: str = setting("SECRET_KEY", generated=True)
    rasa_url: str = setting(
        "RASA_URL", derived=lambda s: f"http://127.0.0.1:{s.rasa_port}"
    )
    rasa_token: str = setting("RASA_TOKEN", generated=True)
    # Sent by Rasa with every action call; the action server refuses calls without it.
    action_server_token: str = setting("ACTION_SERVER_TOKEN", generated=True)
    # Seconds Rasa waits for a custom action before the turn ends with the apology
    # (bot/action_failures.py): below the SMS channel's 10 s wait for a turn.
    action_timeout: float = setting("ACTION_TIMEOUT", 6.0)
    # A file the Rasa server appends a line to per turn: its time and its custom
    # action calls (bot/turn_trace.py; the load benchmark sets it). Unset: none.
    turn_trace_file: str | None = setting("TURN_TRACE_FILE", None)
    # How long a verification made in a conversation counts (Rasa's session length).
    verification_ttl_minutes: int = setting("VERIFICATION_TTL_MINUTES", 60)
    timezone: str = setting("SWITCHBOARD_TIMEZONE", "America/New_York")
    password_reset_url: str = setting(
        "PASSWORD_RESET_URL", "http://127.0.0.1:8000/account/reset"
    )
    opening_hours: str = setting(
        "OPENING_HOURS", "mon-fri 08:00-20:00; sat 09:00-17:00"
    )
    registration_url: str = setting(
        "REGISTRATION_URL", "http://127.0.0.1:8000/register"
    )
    # Where the link mailed to a registrant points (the web app's confirm page).
    registration_confirm_url: str = setting(
        "REGISTRATION_CONFIRM_URL", "http://127.0.0.1:8000/register/confirm"
    )
    # Twilio (names as in Twilio's docs). Without real credentials, the generated
    # development auth token still lets signed test requests be made locally.
    twilio_account_sid: str = setting(
        "TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"
    )
    twilio_auth_token: str = setting("TWILIO_AUTH_TOKEN", generated=True)
    twilio_phone_number: str = setting("TWILIO_PHONE_NUMBER", "+15005550006")
    twilio_api_base_url: str | None = setting("TWILIO_API_BASE_URL", None)
    public_base_url: str = setting(
        "PUBLIC_BASE_URL",
        derived=lambda s: f"http://127.0.0.1:{s.rasa_port}",
        clean=lambda raw: raw.rstrip("/"),
    )
    agent_phone_number: str | None = setting("AGENT_PHONE_NUMBER", None)
    agent_queue_name: str | None = setting("AGENT_QUEUE_NAME", None)
    voice_response_timeout: float = setting("VOICE_RESPONSE_TIMEOUT", 0.8)
    # Vouch for a caller's `From` number: "attested" (STIR/SHAKEN full attestation,
    # StirVerstat=TN-Validation-Passed-A), "always" (weaker) or "never".
    voice_trust_caller_id: str = setting(
        "VOICE_TRUST_CALLER_ID", TRUST_ATTESTED, clean=lambda raw: raw.strip().lower()
    )
    # Send the web app's session cookie only over HTTPS: set true behind TLS.
    session_cookie_secure: bool = setting("SESSION_COOKIE_SECURE", False)
    # Seconds between the delivery worker's rounds (bot/worker.py).
    worker_interval: float = setting("WORKER_INTERVAL", 5.0)
    # Minutes a handed-off conversation nobody claimed stays held before the
    # assistant answers again (the ticket stays in the queue); 0: held until claimed.
    unclaimed_hold_minutes: int = setting("UNCLAIMED_HOLD_MINUTES", 30)
    # Days the keys of handled deliveries are kept to refuse a second delivery
    # (bot/services/retention.py; the worker prunes older ones once an hour).
    webhook_key_retention_days: int = setting("WEBHOOK_KEY_RETENTION_DAYS", 90)
    insights_key_retention_days: int = setting("INSIGHTS_KEY_RETENTION_DAYS", 30)
    # Seconds the insights consumer waits when the SQL event broker has nothing new.
    insights_interval: float = setting("INSIGHTS_INTERVAL", 2.0)
    # Proactive service (bot/services/notifications.py): the shop's events webhook
    # signs with this (HMAC-SHA256 over "timestamp.body"); generated per install.
    shop_webhook_secret: str = setting("SHOP_WEBHOOK_SECRET", generated=True)
    # No SMS in these local hours (the customer's time zone, else the shop's):
    # "21:00-08:00"; empty: texts go out at any hour.
    quiet_hours: str = setting("QUIET_HOURS", "21:00-08:00")
    # Proactive messages per customer, per channel and local day.
    notification_daily_cap: int = setting("NOTIFICATION_DAILY_CAP", 3)
    # Folder of the proactive messages' templates (<event>.<channel>.txt).
    notification_templates_dir: Path = setting(
        "NOTIFICATION_TEMPLATES_DIR", PROJECT_ROOT / "notification_templates"
    )
    # `make run-production`: how many of each service run behind the load balancer.
    rasa_instances: int = setting("RASA_INSTANCES", 2)
    action_instances: int = setting("ACTION_INSTANCES", 2)
    web_instances: int = setting("WEB_INSTANCES", 2)
    # The worker's health endpoint and the load balancer's statistics page.
    worker_port: int = setting("WORKER_PORT", 5057)
    haproxy_stats_port: int = setting("HAPROXY_STATS_PORT", 8404)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(
                f"SWITCHBOARD_MODE must be {' or '.join(MODES)}, got {self.mode!r}"
            )
        if not self.redis_key_prefix.isalnum():
            # Rasa's Redis lock store ignores any other prefix (and shares keys).
            raise ValueError(
                "REDIS_KEY_PREFIX must be letters and digits only, got "
                f"{self.redis_key_prefix!r}"
            )
        for item in fields(self):
            derive = item.metadata[DERIVED]
            if derive is not None and not getattr(self, item.name):
                object.__setattr__(self, item.name, derive(self))

    @property
    def production(self) -> bool:
        """Whether shared state lives in PostgreSQL, Redis and RabbitMQ."""
        return self.mode == PRODUCTION

    @property
    def web_origin(self) -> str:
        """Origin of the web app, allowed to call the Rasa server from the browser."""
        return f"http://{self.bind_host}:{self.web_port}"

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from environment variables (after loading `.env`).

        Unset secrets come from var/secrets.env, generated there if need be.
        """
        load_dotenv_file()
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = os.environ.get(item.metadata[ENV])
            if raw:
                values[item.name] = _parse(item.metadata, raw, _types()[item.name])
        unset = [
            item
            for item in fields(cls)
            if item.metadata[GENERATED] and item.name not in values
        ]
        if unset:
            generated = local_secrets(values.get("var_dir", DEFAULT_VAR_DIR))
            values.update({item.name: generated[item.metadata[ENV]] for item in unset})
        return cls(**values)


@cache
def _types() -> dict[str, Any]:
    """The type of each `Settings` field (str | None for optional text)."""
    return get_type_hints(Settings)


def _parse(metadata: Mapping[str, Any], raw: str, kind: Any) -> Any:
    """The value of a setting's variable, or a ValueError naming the variable."""
    name = metadata[ENV]
    if metadata[CLEAN] is not None:
        raw = metadata[CLEAN](raw)
    if kind is Path:
        return Path(raw).resolve()
    if kind is bool:
        flag = raw.strip().lower()
        if flag in {"1", "true", "yes", "on"}:
            return True
        if flag in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{name} must be true or false, got {flag!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if kind is float:
        try:
            return float(raw)
        except ValueError as exc:
            raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    return raw


# Secrets with no default: generated per installation (see `local_secrets`).
GENERATED_SECRETS = tuple(
    item.metadata[ENV] for item in fields(Settings) if item.metadata[GENERATED]
)


def local_secrets(var_dir: Path) -> dict[str, str]:
    """Secrets generated once per installation in `var/secrets.env` (git-ignored).

    Nothing secret has a default in the code: a fresh install gets its own random
    values, which every Switchboard process reads from this file. Processes start
    together, so the file is completed under an exclusive lock: they all agree on
    one set, also when an older file lacks a newer secret. A complete file is only
    read (it may be read-only).
    """
    path = var_dir / "secrets.env"
    if path.exists():
        with path.open() as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)  # not while another process writes
            values = _parse_secrets(handle.read())
        if all(name in values for name in GENERATED_SECRETS):
            return values
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        values = _parse_secrets(handle.read())
        missing = [name for name in GENERATED_SECRETS if name not in values]
        for name in missing:  # a new install, or a file from an older version
            values[name] = secrets.token_urlsafe(32)
        handle.write("".join(f"{name}={values[name]}\n" for name in missing))
    return values


def _parse_secrets(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name and value:
            values[name.strip()] = value.strip()
    return values


def load_dotenv_file(path: Path | None = None) -> None:
    """Load `.env` into the environment without overriding variables already set."""
    from dotenv import load_dotenv

    load_dotenv(path or PROJECT_ROOT / ".env", override=False)


def is_rabbitmq(event_broker_url: str) -> bool:
    """Whether EVENT_BROKER_URL names RabbitMQ (amqp://), else a SQL database."""
    return event_broker_url.split("://", 1)[0] in ("amqp", "amqps")


# --- what the Twilio channels need at start -----------------------------------------


def check_twilio(settings: Settings) -> Settings:
    """The settings, or a ValueError naming the variable the Twilio channels need."""
    if not settings.twilio_auth_token:
        raise ValueError("TWILIO_AUTH_TOKEN is needed to validate Twilio webhooks")
    if not settings.public_base_url.startswith(("http://", "https://")):
        raise ValueError("PUBLIC_BASE_URL must be the http(s) URL Twilio calls")
    if not ACCOUNT_SID.fullmatch(settings.twilio_account_sid):
        raise ValueError("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
    return settings


def check_voice(settings: Settings) -> Settings:
    """`check_twilio` and the phone IVR's own settings, or a ValueError naming one."""
    check_twilio(settings)
    if "?" in settings.public_base_url or "#" in settings.public_base_url:
        raise ValueError("PUBLIC_BASE_URL must not have a query or fragment")
    if not 0 < settings.voice_response_timeout <= 10:
        raise ValueError(
            "VOICE_RESPONSE_TIMEOUT must be more than 0 and at most 10 seconds "
            f"(Twilio gives up after 15), got {settings.voice_response_timeout}"
        )
    if settings.agent_phone_number and not _is_phone_number(
        settings.agent_phone_number, settings.default_phone_region
    ):
        raise ValueError(
            f"AGENT_PHONE_NUMBER {settings.agent_phone_number!r} is not a valid "
            "phone number"
        )
    if settings.agent_queue_name and len(settings.agent_queue_name) > MAX_QUEUE_NAME:
        raise ValueError(f"AGENT_QUEUE_NAME must be at most {MAX_QUEUE_NAME} chars")
    if settings.voice_trust_caller_id not in TRUST_MODES:
        raise ValueError(
            f"VOICE_TRUST_CALLER_ID must be one of {', '.join(TRUST_MODES)}, "
            f"got {settings.voice_trust_caller_id!r}"
        )
    return settings


def _is_phone_number(raw: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(raw.strip(), region))
    except phonenumbers.NumberParseException:
        return False
