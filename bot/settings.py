"""Settings read from the environment (and a `.env` file), with documented defaults."""

from __future__ import annotations

import fcntl
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name, "true" if default else "false").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


GENERATED_SECRETS = (
    "SECRET_KEY", "RASA_TOKEN", "TWILIO_AUTH_TOKEN", "ACTION_SERVER_TOKEN",
)  # fmt: skip


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


@dataclass(frozen=True)
class Settings:
    """Every setting Switchboard reads; see `.env.example` for documentation."""

    var_dir: Path = DEFAULT_VAR_DIR
    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'switchboard.db'}"
    default_phone_region: str = "US"
    max_verification_attempts: int = 3
    max_attempts_per_key: int = 5
    max_attempts_per_identifier: int = 5
    attempt_window_minutes: int = 60
    bind_host: str = "127.0.0.1"
    web_port: int = 8000
    rasa_port: int = 5005
    action_port: int = 5055
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    tracker_store_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'rasa_tracker.db'}"
    lock_store_url: str | None = None
    secret_key: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    # Sent by Rasa with every action call; the action server refuses calls without it.
    action_server_token: str = ""
    # How long a verification made in a conversation counts (Rasa's session length).
    verification_ttl_minutes: int = 60
    timezone: str = "America/New_York"
    password_reset_url: str = "http://127.0.0.1:8000/account/reset"
    opening_hours: str = "mon-fri 08:00-20:00; sat 09:00-17:00"
    registration_url: str = "http://127.0.0.1:8000/register"
    # Where the link mailed to a registrant points (the web app's confirm page).
    registration_confirm_url: str = "http://127.0.0.1:8000/register/confirm"
    # Twilio (names as in Twilio's docs). Without real credentials, the generated
    # development auth token still lets signed test requests be made locally.
    twilio_account_sid: str = "AC00000000000000000000000000000000"
    twilio_auth_token: str = ""
    twilio_phone_number: str = "+15005550006"
    twilio_api_base_url: str | None = None
    public_base_url: str = "http://127.0.0.1:5005"
    agent_phone_number: str | None = None
    agent_queue_name: str | None = None
    voice_response_timeout: float = 0.8
    # Vouch for a caller's `From` number: "attested" (STIR/SHAKEN full attestation,
    # StirVerstat=TN-Validation-Passed-A), "always" (weaker) or "never".
    voice_trust_caller_id: str = "attested"
    # Send the web app's session cookie only over HTTPS: set true behind TLS.
    session_cookie_secure: bool = False
    # Seconds between the delivery worker's rounds (bot/worker.py).
    worker_interval: float = 5.0

    @property
    def web_origin(self) -> str:
        """Origin of the web app, allowed to call the Rasa server from the browser."""
        return f"http://{self.bind_host}:{self.web_port}"

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from environment variables (after loading `.env`)."""
        load_dotenv_file()
        var_dir = Path(_env("SWITCHBOARD_VAR_DIR", str(DEFAULT_VAR_DIR))).resolve()

        def generated() -> dict[str, str]:
            return local_secrets(var_dir)

        return cls(
            var_dir=var_dir,
            database_url=_env(
                "DATABASE_URL", f"sqlite:///{var_dir / 'switchboard.db'}"
            ),
            default_phone_region=_env("DEFAULT_PHONE_REGION", "US"),
            max_verification_attempts=_env_int("MAX_VERIFICATION_ATTEMPTS", 3),
            max_attempts_per_key=_env_int("MAX_ATTEMPTS_PER_KEY", 5),
            max_attempts_per_identifier=_env_int("MAX_ATTEMPTS_PER_IDENTIFIER", 5),
            attempt_window_minutes=_env_int("ATTEMPT_WINDOW_MINUTES", 60),
            bind_host=_env("BIND_HOST", "127.0.0.1"),
            web_port=_env_int("WEB_PORT", 8000),
            rasa_port=_env_int("RASA_PORT", 5005),
            action_port=_env_int("ACTION_PORT", 5055),
            action_server_url=_env(
                "ACTION_SERVER_URL",
                f"http://127.0.0.1:{_env_int('ACTION_PORT', 5055)}/webhook",
            ),
            tracker_store_url=_env(
                "RASA_TRACKER_STORE_URL", f"sqlite:///{var_dir / 'rasa_tracker.db'}"
            ),
            lock_store_url=os.environ.get("LOCK_STORE_URL") or None,
            secret_key=os.environ.get("SECRET_KEY") or generated()["SECRET_KEY"],
            rasa_url=_env(
                "RASA_URL", f"http://127.0.0.1:{_env_int('RASA_PORT', 5005)}"
            ),
            rasa_token=os.environ.get("RASA_TOKEN") or generated()["RASA_TOKEN"],
            action_server_token=os.environ.get("ACTION_SERVER_TOKEN")
            or generated()["ACTION_SERVER_TOKEN"],
            verification_ttl_minutes=_env_int("VERIFICATION_TTL_MINUTES", 60),
            timezone=_env("SWITCHBOARD_TIMEZONE", "America/New_York"),
            password_reset_url=_env(
                "PASSWORD_RESET_URL", "http://127.0.0.1:8000/account/reset"
            ),
            registration_url=_env("REGISTRATION_URL", "http://127.0.0.1:8000/register"),
            registration_confirm_url=_env(
                "REGISTRATION_CONFIRM_URL", "http://127.0.0.1:8000/register/confirm"
            ),
            opening_hours=_env("OPENING_HOURS", "mon-fri 08:00-20:00; sat 09:00-17:00"),
            twilio_account_sid=_env(
                "TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"
            ),
            twilio_auth_token=os.environ.get("TWILIO_AUTH_TOKEN")
            or generated()["TWILIO_AUTH_TOKEN"],
            twilio_phone_number=_env("TWILIO_PHONE_NUMBER", "+15005550006"),
            twilio_api_base_url=os.environ.get("TWILIO_API_BASE_URL") or None,
            public_base_url=_env(
                "PUBLIC_BASE_URL", f"http://127.0.0.1:{_env_int('RASA_PORT', 5005)}"
            ).rstrip("/"),
            agent_phone_number=os.environ.get("AGENT_PHONE_NUMBER") or None,
            agent_queue_name=os.environ.get("AGENT_QUEUE_NAME") or None,
            voice_response_timeout=float(_env("VOICE_RESPONSE_TIMEOUT", "0.8")),
            voice_trust_caller_id=_env("VOICE_TRUST_CALLER_ID", "attested")
            .strip()
            .lower(),
            session_cookie_secure=_env_bool("SESSION_COOKIE_SECURE", False),
            worker_interval=_env_float("WORKER_INTERVAL", 5.0),
        )
