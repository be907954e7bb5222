"""Settings declared once: defaults, variables, `.env.example`, start-up checks."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from pathlib import Path

import pytest

from bot.settings import (
    ENV,
    GENERATED,
    LOCAL_POSTGRES_URL,
    LOCAL_RABBITMQ_URL,
    LOCAL_REDIS_URL,
    PROJECT_ROOT,
    Settings,
    check_twilio,
    check_voice,
)
from knowledge_base import KNOWLEDGE_BASE_DIR_ENV

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
# Variables read by others than `Settings`: Rasa itself, the knowledge base library.
NOT_SETTINGS = {"RASA_TELEMETRY_ENABLED", KNOWLEDGE_BASE_DIR_ENV}
EXAMPLE_LINE = re.compile(r"# ([A-Z][A-Z0-9_]*)=(.*)")


def documented() -> dict[str, str]:
    """Each variable `.env.example` shows (commented out) and its example value."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    return {m[1]: m[2] for line in lines if (m := EXAMPLE_LINE.fullmatch(line))}


def as_documented(value: object) -> str:
    """A default as `.env.example` writes it: paths relative to the project."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text.replace(f"{PROJECT_ROOT}/", "")


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    variables = {item.metadata[ENV] for item in fields(Settings)}
    assert set(documented()) == variables | NOT_SETTINGS


def test_env_example_shows_the_defaults() -> None:
    defaults = Settings()
    for item in fields(Settings):
        name, default = item.metadata[ENV], getattr(defaults, item.name)
        shown = documented()[name]
        if item.metadata[GENERATED]:
            assert shown == "", name  # secrets have no default
        elif isinstance(default, float):
            assert float(shown) == default, name
        elif default is not None:  # else an example, or nothing
            assert shown == as_documented(default), name


def test_unset_variables_give_the_dataclass_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for item in fields(Settings):
        monkeypatch.delenv(item.metadata[ENV], raising=False)
    monkeypatch.setattr("bot.settings.load_dotenv_file", lambda: None)
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    from_env = Settings.from_env()
    generated = {i.name for i in fields(Settings) if i.metadata[GENERATED]}
    assert replace(from_env, **{name: "" for name in generated}) == Settings(
        var_dir=tmp_path
    )


def test_derived_defaults_follow_the_settings_they_come_from(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, rasa_port=6005, action_port=6055)
    assert settings.database_url == f"sqlite:///{tmp_path / 'switchboard.db'}"
    assert settings.tracker_store_url == f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
    assert settings.rasa_url == settings.public_base_url == "http://127.0.0.1:6005"
    assert settings.action_server_url == "http://127.0.0.1:6055/webhook"
    assert Settings(database_url="sqlite://").database_url == "sqlite://"


def test_production_mode_moves_the_defaults_to_the_shared_services() -> None:
    embedded = Settings()
    assert (embedded.redis_url, embedded.lock_store_url) == (None, None)
    assert not embedded.production
    # Rasa's SQL event broker in var/ (issue 11); RabbitMQ in production.
    assert (
        embedded.event_broker_url == f"sqlite:///{embedded.var_dir / 'rasa_events.db'}"
    )
    production = Settings(mode="production")
    assert production.database_url == LOCAL_POSTGRES_URL
    assert production.tracker_store_url == LOCAL_POSTGRES_URL  # table `events`
    assert production.redis_url == production.lock_store_url == LOCAL_REDIS_URL
    assert production.event_broker_url == LOCAL_RABBITMQ_URL
    # Each can still be set; the lock store follows REDIS_URL unless given.
    own = Settings(
        mode="production",
        database_url="postgresql://db.internal/shop",
        redis_url="redis://cache.internal:6379/2",
    )
    assert own.tracker_store_url == "postgresql://db.internal/shop"
    assert own.lock_store_url == "redis://cache.internal:6379/2"


def test_the_mode_and_the_redis_prefix_are_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_MODE", " Production ")
    assert Settings.from_env().production
    monkeypatch.setenv("SWITCHBOARD_MODE", "prod")
    with pytest.raises(ValueError, match="SWITCHBOARD_MODE must be embedded or"):
        Settings.from_env()
    with pytest.raises(ValueError, match="REDIS_KEY_PREFIX must be letters"):
        Settings(redis_key_prefix="shop:1")


def test_variables_are_typed_and_tidied(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ivr.example.com/")
    monkeypatch.setenv("VOICE_RESPONSE_TIMEOUT", "2.5")
    monkeypatch.setenv("AGENT_QUEUE_NAME", "")  # empty is unset
    settings = Settings.from_env()
    assert settings.public_base_url == "https://ivr.example.com"
    assert settings.voice_response_timeout == 2.5
    assert settings.agent_queue_name is None
    monkeypatch.setenv("VOICE_RESPONSE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="VOICE_RESPONSE_TIMEOUT must be a number"):
        Settings.from_env()


VALID = Settings(twilio_auth_token="token", public_base_url="https://ivr.example.com")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"twilio_auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"public_base_url": "ivr.example.com"}, "PUBLIC_BASE_URL"),
        ({"twilio_account_sid": "AC123"}, "TWILIO_ACCOUNT_SID"),
    ],
)
def test_what_the_twilio_channels_need(change: dict[str, object], message: str) -> None:
    assert check_twilio(VALID) is VALID
    with pytest.raises(ValueError, match=message):
        check_twilio(replace(VALID, **change))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"twilio_auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"public_base_url": "ivr.example.com"}, "PUBLIC_BASE_URL"),
        ({"public_base_url": "https://x.example?a=1"}, "PUBLIC_BASE_URL"),
        ({"voice_response_timeout": 0.0}, "VOICE_RESPONSE_TIMEOUT"),
        ({"voice_response_timeout": 20.0}, "VOICE_RESPONSE_TIMEOUT"),
        ({"agent_phone_number": "12"}, "AGENT_PHONE_NUMBER"),
        ({"agent_queue_name": "q" * 65}, "AGENT_QUEUE_NAME"),
        ({"voice_trust_caller_id": "sometimes"}, "VOICE_TRUST_CALLER_ID"),
        ({"voice_trust_caller_id": ""}, "VOICE_TRUST_CALLER_ID"),
    ],
)
def test_what_the_phone_ivr_needs(change: dict[str, object], message: str) -> None:
    assert check_voice(VALID) is VALID
    assert check_voice(replace(VALID, agent_phone_number="(415) 555-0100"))
    with pytest.raises(ValueError, match=message):
        check_voice(replace(VALID, **change))  # type: ignore[arg-type]
