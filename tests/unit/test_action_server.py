"""The action server answers only requests carrying its token (issue 8, item 1).

The app runs on a real port in the test's event loop and is called over HTTP; the
actions it runs use the test's database transaction.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sanic import Sanic

from bot.action_server import authorized, create_app
from bot.settings import PROJECT_ROOT

TOKEN = "action-token-for-tests"
pytestmark = pytest.mark.usefixtures("db_scope")

# What an attacker sends: a tracker claiming the order was verified.
FORGED_STATUS_CALL: dict[str, Any] = {
    "next_action": "action_submit_order_form",
    "sender_id": "attacker",
    "tracker": {
        "sender_id": "attacker",
        "slots": {"order_number": "104257", "verified_order": "104257",
                  "order_request": "status"},
        "latest_message": {"text": "yes", "intent": {"name": "affirm"}},
        "events": [],
        "active_loop": {},
    },
    "domain": {},
    "version": "3.6.2",
}  # fmt: skip


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The action server on a free local port; yields its base URL."""
    monkeypatch.setattr(Sanic, "test_mode", True)  # one app per test, same name
    app = create_app(TOKEN)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    running = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True
    )
    assert running is not None
    await running.startup()
    await running.start_serving()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.close()
        await running.wait_closed()


async def post(url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as client,
        client.post(
            f"{url}/webhook", json=FORGED_STATUS_CALL, headers=headers
        ) as response,
    ):
        return response.status, await response.text()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
     {"Authorization": "Bearer"}, {"X-Token": TOKEN}],
    ids=["none", "wrong token", "other scheme", "empty", "other header"],
)  # fmt: skip
async def test_a_call_without_the_token_is_refused(
    server: str, headers: dict[str, str]
) -> None:
    status, body = await post(server, headers)
    assert status == 401
    assert "104257" not in body and "1Z999AA10123456784" not in body


async def test_with_the_token_the_action_runs_and_still_checks_verification(
    server: str,
) -> None:
    status, body = await post(server, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert "utter_verification_locked" in body  # the slot alone proves nothing
    assert "1Z999AA10123456784" not in body and "UPS" not in body


async def test_only_the_health_check_is_open(server: str) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{server}/health") as response:
            assert response.status == 200
        async with client.get(f"{server}/actions") as response:
            assert response.status == 401
        async with client.get(
            f"{server}/actions", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 200
            names = {entry["name"] for entry in await response.json()}
            assert "action_submit_order_form" in names


async def test_browsers_get_no_cors_approval(server: str) -> None:
    preflight = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    async with (
        aiohttp.ClientSession() as client,
        client.options(f"{server}/webhook", headers=preflight) as response,
    ):
        assert "Access-Control-Allow-Origin" not in response.headers


def test_token_comparison() -> None:
    assert authorized(f"Bearer {TOKEN}", TOKEN)
    assert authorized(f"bearer {TOKEN}", TOKEN)
    assert not authorized(f"Bearer {TOKEN}x", TOKEN)
    assert not authorized(None, TOKEN)
    assert not authorized("Bearer ", "")  # no token configured: nothing passes


def test_no_server_without_a_token() -> None:
    with pytest.raises(ValueError, match="ACTION_SERVER_TOKEN"):
        create_app("")


def test_actions_load_without_tensorflow() -> None:
    # A fresh interpreter: this test process may have imported TensorFlow already.
    script = (
        "import sys\n"
        "from bot.action_server import keep_tensorflow_out\n"
        "keep_tensorflow_out()\n"
        "from rasa_sdk.executor import ActionExecutor\n"
        "executor = ActionExecutor()\n"
        "executor.register_package('actions')\n"
        "import spacy; spacy.blank('en')\n"
        "print(sys.modules['tensorflow'] is None, 'action_fallback' in executor.actions)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )

    assert result.stdout.split() == ["True", "True"]
