"""The action server answers only Rasa, and slots alone disclose nothing (issue 8).

Item 1: a forged `POST /webhook` with `verified_order` set used to return the
order's status, carrier and tracking number. Item 7: var/ files were world-readable.
"""

from __future__ import annotations

import os
import socket
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bot.services.orders import get_order
from tests.stack import Stack, free_port, launch, wait_until_up

pytestmark = pytest.mark.e2e

TRACKING = "1Z999AA10123456784"


def forged_call(action: str, slots: dict[str, Any]) -> dict[str, Any]:
    """What an attacker posts: a tracker claiming the order was verified."""
    sender = f"attacker-{uuid.uuid4().hex[:8]}"
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": {"text": "yes", "intent": {"name": "affirm"}},
            "events": [],
            "active_loop": {},
        },
        "domain": {},
        "version": "3.6.2",
    }


STATUS = forged_call(
    "action_submit_order_form",
    {"order_number": "104257", "verified_order": "104257", "order_request": "status"},
)
CANCEL = forged_call(
    "action_submit_order_form",
    {"order_number": "112233", "verified_order": "112233", "order_request": "cancel",
     "cancel_confirmed": True},
)  # fmt: skip


@pytest.mark.parametrize("call", [STATUS, CANCEL], ids=["status", "cancel"])
@pytest.mark.parametrize("token", [None, "wrong"], ids=["no token", "wrong token"])
def test_a_forged_call_without_the_token_is_refused(
    stack: Stack, call: dict[str, Any], token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.post(
        f"{stack.action_url}/webhook", json=call, headers=headers, timeout=30
    )
    assert response.status_code == 401
    assert TRACKING not in response.text and "UPS" not in response.text
    assert order_status(stack, "112233") == "placed"


@pytest.mark.parametrize("call", [STATUS, CANCEL], ids=["status", "cancel"])
def test_with_the_token_a_slot_alone_still_discloses_nothing(
    stack: Stack, call: dict[str, Any]
) -> None:
    response = requests.post(
        f"{stack.action_url}/webhook",
        json=call,
        headers={"Authorization": f"Bearer {stack.action_token}"},
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    assert [r.get("response") for r in body["responses"]] == [
        "utter_verification_locked"
    ]
    assert TRACKING not in response.text and "UPS" not in response.text
    assert order_status(stack, "112233") == "placed"


def order_status(stack: Stack, number: str) -> str:
    with stack.session() as session:
        order = get_order(session, number)
        assert order is not None
        return order.status.value


def test_rasa_sends_the_token_and_verified_customers_get_answers(stack: Stack) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:12]}"
    stack.texts(sender, "where is my order 104257?")
    replies = stack.texts(sender, "jane.doe@example.com")
    assert TRACKING in replies[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_files_are_private(stack: Stack) -> None:
    stack.texts(f"e2e-{uuid.uuid4().hex[:12]}", "hi")  # the tracker store has a row
    var = stack.logs
    assert mode(var) & 0o077 == 0
    endpoints = var / "endpoints.yml"
    assert mode(endpoints) == 0o600
    action = yaml.safe_load(endpoints.read_text())["action_endpoint"]
    assert action["headers"] == {"Authorization": f"Bearer {stack.action_token}"}
    for name in ("switchboard.db", "tracker.db"):
        assert mode(var / name) == 0o600, name  # the tracker db was made by Rasa


def test_the_action_server_binds_to_bind_host(tmp_path: Path) -> None:
    # All of 127.0.0.0/8 is loopback on Linux: bound to 127.0.0.2, the server
    # must not answer on 127.0.0.1 (rasa-sdk alone listened on 0.0.0.0).
    port = free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'switchboard.db'}",
        "BIND_HOST": "127.0.0.2",
        "ACTION_PORT": str(port),
        "RASA_TELEMETRY_ENABLED": "false",
    }
    log = tmp_path / "actions.log"
    process = launch("actions", env, log)
    try:
        wait_until_up(f"http://127.0.0.2:{port}/health", process, log)
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", port))
    finally:
        process.terminate()
        process.wait(timeout=30)
