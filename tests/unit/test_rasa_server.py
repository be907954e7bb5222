"""Our Rasa server: the hold gate every channel passes, and the token kept off `ps`."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyparsing.warnings import PyparsingDeprecationWarning
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy.orm import sessionmaker

from bot import launch, migrate
from bot.db import make_engine, make_session_factory
from bot.models import Ticket, TicketStatus
from bot.rasa_server import (
    EMPTY_MESSAGE,
    HoldGate,
    install,
    rasa_arguments,
    rasa_command_line,
)
from bot.services import back_to_bot, handoff
from bot.settings import Settings
from channels.webchat import WebChatInput
from tests.unit.holds import customer_lines, hold_for_a_person

REPLIES = [{"recipient_id": "x", "text": "Hello from the assistant."}]


class FakeProcessor:
    """Stands in for Rasa's MessageProcessor: answers every message it gets."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle_message(self, message: UserMessage) -> list[dict[str, Any]]:
        self.received.append(message.text or "")
        return REPLIES


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker]:
    url = f"sqlite:///{tmp_path_factory.mktemp('gate') / 'switchboard.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


def held_conversation(sessions: sessionmaker) -> tuple[str, int]:
    """A new conversation that a person holds under a handoff ticket."""
    conversation = f"rest-{uuid.uuid4().hex}"
    with sessions.begin() as session:
        return conversation, hold_for_a_person(session, conversation).id


def lines(sessions: sessionmaker, ticket_id: int) -> list[str]:
    with sessions() as session:
        return customer_lines(session, ticket_id)


def message(conversation: str, text: str | None) -> UserMessage:
    return UserMessage(
        text, CollectingOutputChannel(), conversation, input_channel="rest"
    )


async def test_a_held_message_goes_to_the_ticket_and_gets_no_answer(
    sessions: sessionmaker,
) -> None:
    conversation, ticket_id = held_conversation(sessions)
    processor = FakeProcessor()
    gated = HoldGate(sessions.begin).guard(FakeProcessor.handle_message)
    assert await gated(processor, message(conversation, " Is anybody there? ")) is None
    assert await gated(processor, message(conversation, None)) is None
    assert processor.received == []
    assert lines(sessions, ticket_id) == ["Is anybody there?", EMPTY_MESSAGE]


async def test_a_conversation_nobody_holds_is_answered(sessions: sessionmaker) -> None:
    held, ticket_id = held_conversation(sessions)
    processor = FakeProcessor()
    gated = HoldGate(sessions.begin).guard(FakeProcessor.handle_message)
    free = f"rest-{uuid.uuid4().hex}"
    assert await gated(processor, message(free, "hello")) == REPLIES
    assert processor.received == ["hello"]
    assert lines(sessions, ticket_id) == []  # nothing strays into a ticket

    # Handed back: the assistant answers the held conversation again.
    with sessions.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        handoff.release(session, ticket)
    assert await gated(processor, message(held, "thanks")) == REPLIES
    assert processor.received == ["hello", "thanks"]


async def test_asking_for_the_assistant_releases_the_hold_and_gets_the_notice(
    sessions: sessionmaker,
) -> None:
    conversation, ticket_id = held_conversation(sessions)
    processor = FakeProcessor()
    gated = HoldGate(sessions.begin).guard(FakeProcessor.handle_message)
    replies = await gated(processor, message(conversation, "back to the bot please"))
    with sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status == TicketStatus.RESOLVED
        notice = back_to_bot.withdrawn_notice(ticket.reference)
        assert handoff.held_ticket(session, conversation) is None
    assert replies == [{"recipient_id": conversation, "text": notice}]
    assert processor.received == []  # the notice is the answer
    assert lines(sessions, ticket_id) == ["back to the bot please"]
    assert await gated(processor, message(conversation, "hello")) == REPLIES
    assert processor.received == ["hello"]


async def test_asking_for_the_assistant_it_has_already_skips_the_model(
    sessions: sessionmaker,
) -> None:
    # The model takes "talk to the assistant" for a request for a person.
    processor = FakeProcessor()
    gated = HoldGate(sessions.begin).guard(FakeProcessor.handle_message)
    free = f"rest-{uuid.uuid4().hex}"
    replies = await gated(processor, message(free, "talk to the assistant"))
    assert replies == [{"recipient_id": free, "text": back_to_bot.ALREADY_NOTICE}]
    assert processor.received == []


async def test_without_the_database_nothing_is_answered(tmp_path: Path) -> None:
    # The hold can't be checked: the channel reports a failure, the bot stays quiet.
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    processor = FakeProcessor()
    gated = HoldGate(make_session_factory(engine).begin).guard(
        FakeProcessor.handle_message
    )
    with pytest.raises(Exception, match="unable to open database"):
        await gated(processor, message("rest-1", "hello"))
    assert processor.received == []
    engine.dispose()


def test_the_gate_is_installed_once_in_front_of_rasas_processor(
    sessions: sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message
    monkeypatch.setattr(MessageProcessor, "handle_message", original)  # restored after
    install(HoldGate(sessions.begin))
    assert MessageProcessor.handle_message is not original
    assert MessageProcessor.handle_message.__wrapped__ is original  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="installed already"):
        install(HoldGate(sessions.begin))


def test_the_web_chat_channel_needs_the_gate(
    sessions: sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message
    monkeypatch.setattr(MessageProcessor, "handle_message", original)  # restored after
    with pytest.raises(ValueError, match="python -m bot run rasa"):
        WebChatInput.from_credentials(None)  # plain `rasa run`
    install(HoldGate(sessions.begin))
    assert isinstance(WebChatInput.from_credentials(None), WebChatInput)


def test_the_token_is_added_to_rasas_arguments_never_taken_from_them() -> None:
    run = ["run", "--model", "m.tar.gz", "--enable-api"]
    assert rasa_arguments(run, "s3cret") == [*run, "--auth-token", "s3cret"]
    assert rasa_arguments(["shell", "--model", "m"], "s3cret") == [
        "shell",
        "--model",
        "m",
    ]
    for given in (["--auth-token", "x"], ["--auth-token=x"]):
        with pytest.raises(SystemExit, match="set RASA_TOKEN"):
            rasa_arguments([*run, *given], "s3cret")
    with pytest.raises(SystemExit, match="only with a token"):
        rasa_arguments(run, "")


def test_run_rasa_passes_the_token_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(launch.os, "chdir", lambda _: None)
    monkeypatch.setattr(
        launch.os, "execvpe", lambda _, cmd, env: started.append((cmd, env))
    )
    token = f"token-{uuid.uuid4().hex}"
    launch.run_rasa(Settings(var_dir=tmp_path, rasa_token=token, secret_key="k"))
    [(command, env)] = started
    assert command[1:3] == ["-m", "bot.rasa_process"]
    assert "--enable-api" in command
    assert not any(token in part for part in command)
    assert env["RASA_TOKEN"] == token

    launch.run_shell(Settings(var_dir=tmp_path, rasa_token=token, secret_key="k"))
    shell = started[1][0]
    assert shell[1:4] == ["-m", "bot.rasa_process", "shell"]
    assert shell[shell.index("--interface") + 1] == "127.0.0.1"


def test_an_instance_behind_the_load_balancer_listens_on_its_own_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(launch.os, "chdir", lambda _: None)
    monkeypatch.setattr(launch.os, "execvpe", lambda _, cmd, env: started.append(cmd))
    settings = Settings(var_dir=tmp_path, rasa_token="t", secret_key="k")
    launch.run_rasa(settings, port=6105)
    [command] = started
    assert command[command.index("--port") + 1] == "6105"
    # The browser's origin stays the load balancer's web port, not an instance's.
    assert command[command.index("--cors") + 1] == "http://127.0.0.1:8000"


def test_rasa_command_line_keeps_our_warning_filters_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rasa.__main__ as rasa_cli

    def configure_as_rasa_does(*args: Any, **kwargs: Any) -> None:
        warnings.filterwarnings("once", category=UserWarning)

    monkeypatch.setattr(
        rasa_cli, "configure_logging_and_warnings", configure_as_rasa_does
    )
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        assert rasa_command_line() is rasa_cli.main
        rasa_cli.configure_logging_and_warnings(None)  # as rasa's main() starts
        # pyparsing's deprecations are UserWarnings too: rasa's filter would show them.
        for category in (PyparsingDeprecationWarning, UserWarning):
            warnings.warn_explicit(
                category.__name__, category, "_fontconfig_pattern.py", 88,
                module="matplotlib._fontconfig_pattern",
            )  # fmt: skip

    assert [str(w.message) for w in shown] == ["UserWarning"]
