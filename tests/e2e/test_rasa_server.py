"""The Rasa server as `python -m bot run rasa` starts it.

Holds on every channel, no socket.io, and the API token kept off the command line.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import requests

from tests.e2e.console import Console, new_agent, reference_in
from tests.stack import Stack


def test_a_rest_conversation_held_by_a_person_gets_no_bot_answer(
    stack: Stack,
) -> None:
    sender = f"e2e-hold-{uuid.uuid4().hex[:12]}"
    reference = reference_in(stack.texts(sender, "I want to talk to a person"))

    # Rasa's own REST channel: the message is the agent's, the bot says nothing.
    assert stack.say(sender, "hello? is anybody there?") == []
    _, email, password = new_agent(stack)
    console = Console(stack.web_url)
    console.sign_in(email, password)
    console.customer_said(reference, "hello? is anybody there?")

    console.act(reference, "claim")
    console.act(reference, "return")
    # Handed back: the assistant answers again, and the ticket gets nothing more.
    assert stack.texts(sender, "what are your opening hours?") != []
    lines = [m["text"] for m in console.ticket(reference)["messages"]]
    assert "what are your opening hours?" not in lines


def test_socketio_is_switched_off(stack: Stack) -> None:
    for path in ("/socket.io/?EIO=4&transport=polling", "/webhooks/socketio/"):
        assert requests.get(f"{stack.rasa_url}{path}", timeout=10).status_code == 404


def _command_lines() -> dict[int, str]:
    """Every process's command line, arguments separated by spaces."""
    lines = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        lines[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace")
    return lines


def test_the_api_token_is_not_on_any_command_line(stack: Stack) -> None:
    port = stack.rasa_url.rsplit(":", 1)[1]
    lines = _command_lines()
    rasa = [
        line
        for line in lines.values()
        if "bot.rasa_process run" in line and f"--port {port} " in line
    ]
    assert len(rasa) == 1, rasa  # the server this test talks to
    assert "--enable-api" in rasa[0]
    assert [line for line in lines.values() if stack.token in line] == []

    # The HTTP API still refuses requests without the token and takes them with it.
    status = f"{stack.rasa_url}/status"
    assert requests.get(status, timeout=10).status_code == 401
    wrong = requests.get(status, params={"token": "not-the-token"}, timeout=10)
    assert wrong.status_code == 401
    assert (
        requests.get(status, params={"token": stack.token}, timeout=10).status_code
        == 200
    )
    tracker = f"{stack.rasa_url}/conversations/e2e-token/tracker"
    assert requests.get(tracker, timeout=10).status_code == 401
