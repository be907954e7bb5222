"""The Rasa web chat channel: signatures, request parsing and the vouched identity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

from bot.identity import ChannelIdentity, verify_identity
from bot.settings import Settings
from bot.signing import SIGNATURE_HEADER, sign_body, valid_body_signature
from channels.webchat import WebChatInput, WebChatRequest, parse_request

SECRET = "channel-test-secret"


@dataclass
class FakeRequest:
    """The two things the channel reads from a Sanic request."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeAssistant:
    """Stands in for Rasa's on_new_message: answers every message with one text."""

    def __init__(self) -> None:
        self.received: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(
            message.sender_id or "", f"you said {message.text}"
        )


def signed(body: dict[str, Any], secret: str = SECRET) -> FakeRequest:
    raw = json.dumps(body).encode()
    return FakeRequest(raw, {SIGNATURE_HEADER: sign_body(raw, secret)})


async def receive(request: FakeRequest) -> tuple[int, Any, FakeAssistant]:
    assistant = FakeAssistant()
    channel = WebChatInput(Settings(secret_key=SECRET))
    response = await channel._receive(request, assistant)  # type: ignore[arg-type]
    return response.status, json.loads(response.body or b"null"), assistant


def test_signature_round_trip() -> None:
    signature = sign_body(b'{"a": 1}', SECRET)
    assert valid_body_signature(b'{"a": 1}', signature, SECRET)
    assert valid_body_signature(b'{"a": 1}', signature.upper(), SECRET)
    assert not valid_body_signature(b'{"a": 2}', signature, SECRET)
    assert not valid_body_signature(b'{"a": 1}', signature, "other")
    assert not valid_body_signature(b'{"a": 1}', None, SECRET)
    assert not valid_body_signature(b'{"a": 1}', signature, "")


def test_parse_request() -> None:
    assert parse_request(b'{"sender": "web-1", "message": "hi"}') == WebChatRequest(
        "web-1", "hi", None
    )
    assert parse_request(
        b'{"sender": "web-1", "message": "hi", "customer_id": 7}'
    ) == WebChatRequest("web-1", "hi", 7)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff",
        b"[]",
        b'{"message": "hi"}',
        b'{"sender": "", "message": "hi"}',
        b'{"sender": "web-1"}',
        b'{"sender": "web-1", "message": "hi", "customer_id": "7"}',
        b'{"sender": "web-1", "message": "hi", "customer_id": true}',
    ],
)
def test_parse_request_refuses(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_request(body)


def test_channel_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        WebChatInput(Settings(secret_key=""))


async def test_unsigned_or_badly_signed_requests_are_refused() -> None:
    body = {"sender": "web-1", "message": "hi", "customer_id": 1}
    unsigned = FakeRequest(json.dumps(body).encode())
    for request in (unsigned, signed(body, secret="wrong")):
        status, answer, assistant = await receive(request)
        assert status == 403
        assert answer == {"error": "missing or invalid signature"}
        assert assistant.received == []


async def test_malformed_signed_body_is_400() -> None:
    raw = b"{not json"
    request = FakeRequest(raw, {SIGNATURE_HEADER: sign_body(raw, SECRET)})
    status, _, assistant = await receive(request)
    assert status == 400
    assert assistant.received == []


async def test_signed_customer_is_vouched_for_in_metadata() -> None:
    status, answer, assistant = await receive(
        signed({"sender": "web-1", "message": "hi", "customer_id": 3})
    )
    assert status == 200
    assert [reply["text"] for reply in answer] == ["you said hi"]
    (message,) = assistant.received
    assert message.input_channel == "webchat"
    assert verify_identity(message.metadata, SECRET, "web-1") == ChannelIdentity(
        channel="web", customer_id=3
    )


async def test_anonymous_message_carries_no_identity() -> None:
    status, _, assistant = await receive(
        signed({"sender": "web-1", "message": "hi", "customer_id": None})
    )
    assert status == 200
    assert verify_identity(assistant.received[0].metadata, SECRET, "web-1") is None
