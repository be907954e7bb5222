"""Bad input at the Rasa web chat channel (channels/webchat.py): 403 or 400, or replies.

Only Switchboard's web app may call it, signing each body; real Sanic requests
reach the channel mounted as Rasa mounts it (tests/fakes/rasa_agent.py), behind the
real hold gate, on SQLite and PostgreSQL. Unsigned bodies get 403 and signed
garbage 400, and neither reaches the assistant or the database.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from bot.db import session_factory
from bot.settings import Settings
from bot.signing import SIGNATURE_HEADER, sign_body, stamped
from channels.webchat import WebChatInput
from tests.fakes.rasa_agent import Answer, ChannelRoutes, EchoAgent, echo_of
from tests.unit.bad_input import (
    json_bytes,
    json_objects,
    json_values,
    raw_bytes,
    stored_nothing,
    texts,
)
from tests.unit.console.helpers import database_url, rows_removed_after, snapshot

SECRET = "webchat-bad-input-secret"
PATH = "/webhooks/webchat/webhook"
SENDERS = (f"web-bad-input-{n}" for n in itertools.count())


class WebChat:
    def __init__(self, routes: ChannelRoutes, engine: Engine) -> None:
        self.routes, self.agent, self.engine = routes, routes.agent, engine

    async def post(self, body: bytes, signature: str | None) -> Answer:
        headers = [("Content-Type", "application/json")]
        if signature is not None:
            headers.append((SIGNATURE_HEADER, signature))
        return await self.routes.request("POST", PATH, body, headers)

    async def post_signed(self, body: bytes) -> Answer:
        return await self.post(body, sign_body(body, SECRET))


@pytest.fixture
def webchat(engine: Engine) -> Iterator[WebChat]:
    with rows_removed_after(engine):
        agent = EchoAgent(session_factory(database_url(engine)))
        channel = WebChatInput(Settings(secret_key=SECRET))
        yield WebChat(ChannelRoutes.mount([channel], agent), engine)


def error_of(response: Answer) -> str:
    body = json.loads(response.body)
    assert isinstance(body, dict) and body["error"]
    return str(body["error"])


@given(
    body=raw_bytes(),
    signature=st.one_of(
        st.none(),
        texts(),
        st.just(sign_body(b"{}", SECRET)),
        st.just(sign_body(b"", "other")),
    ),
)
async def test_unsigned_bodies_are_refused(
    webchat: WebChat, body: bytes, signature: str | None
) -> None:
    before = snapshot(webchat.engine)
    response = await webchat.post(body, signature)
    assert response.status == 403, response.text
    assert error_of(response) == "missing or invalid signature"
    assert webchat.agent.received == []
    assert stored_nothing(webchat.engine, before)


@given(
    body=st.one_of(
        raw_bytes(),
        json_values().map(json_bytes),
        json_objects(
            {
                "sender": st.one_of(st.just("web-abc"), json_values()),
                "message": st.one_of(texts(), json_values()),
                "customer_id": json_values(),
                "timestamp": json_values(),
                "nonce": json_values(),
            }
        ).map(json_bytes),
    )
)
async def test_signed_garbage_is_refused_with_400(
    webchat: WebChat, body: bytes
) -> None:
    """Signed, yet malformed (a bug in the web app): 400, or 403 when stale."""
    before = snapshot(webchat.engine)
    response = await webchat.post_signed(body)
    event(f"status {response.status}")
    assert response.status in (400, 403), response.text
    assert error_of(response)
    assert webchat.agent.received == []
    assert stored_nothing(webchat.engine, before)


@given(message=texts(), customer_id=st.one_of(st.none(), st.integers(1, 2**31 - 1)))
async def test_any_message_the_web_app_forwards_gets_replies(
    webchat: WebChat, message: str, customer_id: int | None
) -> None:
    sender = next(SENDERS)
    data: dict[str, Any] = {"sender": sender, "message": message}
    if customer_id is not None:
        data["customer_id"] = customer_id
    response = await webchat.post_signed(json_bytes(stamped(data)))
    assert response.status == 200, response.text
    [reply] = json.loads(response.body)
    assert reply["text"] == echo_of(message)
