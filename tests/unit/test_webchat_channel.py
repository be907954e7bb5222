"""The Rasa web chat channel: signatures, request parsing and the vouched identity."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

from bot.identity import ChannelIdentity, verify_identity
from bot.settings import Settings
from bot.shared_state import SharedState
from bot.signing import (
    CHANNEL_IDENTITY,
    MAX_AGE_SECONDS,
    SIGNATURE_HEADER,
    WEBCHAT_BODY,
    NonceCache,
    is_fresh,
    sign,
    sign_body,
    stamped,
    valid_body_signature,
    verify,
)
from bot.web.rasa_client import WebChatClient
from channels.webchat import WebChatInput, WebChatRequest, parse_request
from tests.unit.conftest import REDIS_URL

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


def signed(
    body: dict[str, Any], secret: str = SECRET, now: float | None = None
) -> FakeRequest:
    """A request signed like the web app signs it: timestamped, with a nonce."""
    raw = json.dumps(stamped(body, now)).encode()
    return FakeRequest(raw, {SIGNATURE_HEADER: sign_body(raw, secret)})


async def receive(
    request: FakeRequest, channel: WebChatInput | None = None
) -> tuple[int, Any, FakeAssistant]:
    assistant = FakeAssistant()
    channel = channel or WebChatInput(Settings(secret_key=SECRET))
    response = await channel._receive(request, assistant)  # type: ignore[arg-type]
    return response.status, json.loads(response.body or b"null"), assistant


def test_signature_round_trip() -> None:
    signature = sign_body(b'{"a": 1}', SECRET)
    assert valid_body_signature(b'{"a": 1}', signature, SECRET)
    assert valid_body_signature(b'{"a": 1}', f" {signature}\n", SECRET)
    assert not valid_body_signature(b'{"a": 2}', signature, SECRET)
    assert not valid_body_signature(b'{"a": 1}', signature, "other")
    assert not valid_body_signature(b'{"a": 1}', None, SECRET)
    assert not valid_body_signature(b'{"a": 1}', signature, "")


def test_body_signatures_are_for_web_chat_bodies_only() -> None:
    body = b'{"a": 1}'
    signature = sign_body(body, SECRET)
    assert verify(body, signature, SECRET, WEBCHAT_BODY)
    # The same bytes signed for another purpose, or a plain HMAC under SECRET_KEY
    # (the old scheme), are not a body signature.
    assert not valid_body_signature(body, sign(body, SECRET, CHANNEL_IDENTITY), SECRET)
    plain = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert not valid_body_signature(body, plain, SECRET)
    assert not valid_body_signature(body, "é" * 43, SECRET)


def test_freshness_window() -> None:
    now = 1_800_000_000.0
    assert is_fresh(int(now), now)
    assert is_fresh(int(now) - MAX_AGE_SECONDS, now)
    assert is_fresh(int(now) + MAX_AGE_SECONDS, now)
    assert not is_fresh(int(now) - MAX_AGE_SECONDS - 1, now)
    assert not is_fresh(int(now) + MAX_AGE_SECONDS + 1, now)


def test_nonce_cache_remembers_nonces_until_they_expire() -> None:
    cache = NonceCache(ttl=10)
    assert cache.use("a", now=0)
    assert not cache.use("a", now=9)
    assert cache.use("b", now=9)
    assert cache.use("a", now=10)  # forgotten: its timestamp is stale by now anyway
    assert len(cache) == 2
    assert NonceCache().ttl > 2 * MAX_AGE_SECONDS


def test_parse_request() -> None:
    body = b'{"sender": "web-1", "message": "hi", "timestamp": 5, "nonce": "n1"}'
    assert parse_request(body) == WebChatRequest("web-1", "hi", None, 5, "n1")
    assert parse_request(
        b'{"sender": "web-1", "message": "hi", "customer_id": 7, "timestamp": 5,'
        b' "nonce": "n1"}'
    ) == WebChatRequest("web-1", "hi", 7, 5, "n1")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff",
        b"[]",
        b"[" * 100_000,  # deeper than Python's recursion limit
        b'{"message": "hi"}',
        b'{"sender": "", "message": "hi"}',
        b'{"sender": "web-1"}',
        b'{"sender": "web-1", "message": "hi", "customer_id": "7"}',
        b'{"sender": "web-1", "message": "hi", "customer_id": true}',
        b'{"sender": "web-1", "message": "hi", "nonce": "n1"}',
        b'{"sender": "web-1", "message": "hi", "timestamp": "5", "nonce": "n1"}',
        b'{"sender": "web-1", "message": "hi", "timestamp": true, "nonce": "n1"}',
        b'{"sender": "web-1", "message": "hi", "timestamp": 5}',
        b'{"sender": "web-1", "message": "hi", "timestamp": 5, "nonce": ""}',
        b'{"sender": "web-1", "message": "hi", "timestamp": 5, "nonce": 1}',
        b'{"sender": "web-1", "message": "hi", "timestamp": 5, "nonce": "'
        + b"n" * 65
        + b'"}',
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


@pytest.mark.parametrize("age", [MAX_AGE_SECONDS + 5, -MAX_AGE_SECONDS - 5, 3600])
async def test_stale_or_future_requests_are_refused(age: int) -> None:
    request = signed(
        {"sender": "web-1", "message": "hi", "customer_id": 1}, now=time.time() - age
    )
    status, answer, assistant = await receive(request)
    assert status == 403
    assert answer == {"error": "request expired"}
    assert assistant.received == []


async def test_a_request_a_little_old_is_accepted() -> None:
    request = signed({"sender": "web-1", "message": "hi"}, now=time.time() - 30)
    status, _, _ = await receive(request)
    assert status == 200


async def test_a_replayed_request_is_refused() -> None:
    channel = WebChatInput(Settings(secret_key=SECRET))
    request = signed({"sender": "web-1", "message": "hi", "customer_id": 1})
    assert (await receive(request, channel))[0] == 200
    status, answer, assistant = await receive(request, channel)
    assert status == 403
    assert answer == {"error": "request replayed"}
    assert assistant.received == []
    # The same message sent again by the web app has a new nonce: it goes through.
    again = signed({"sender": "web-1", "message": "hi", "customer_id": 1})
    assert (await receive(again, channel))[0] == 200


async def test_a_replay_to_another_instance_is_refused_too(
    shared_state: SharedState,
) -> None:
    settings = Settings(
        secret_key=SECRET, redis_url=REDIS_URL, redis_key_prefix=shared_state.prefix
    )
    first, second = WebChatInput(settings), WebChatInput(settings)
    request = signed({"sender": "web-1", "message": "hi"})
    assert (await receive(request, first))[0] == 200
    status, answer, assistant = await receive(request, second)
    assert (status, answer, assistant.received) == (
        403,
        {"error": "request replayed"},
        [],
    )


async def test_without_redis_no_message_goes_unchecked(closed_port: int) -> None:
    settings = Settings(
        secret_key=SECRET, redis_url=f"redis://127.0.0.1:{closed_port}/0"
    )
    request = signed({"sender": "web-1", "message": "hi"})
    status, answer, assistant = await receive(request, WebChatInput(settings))
    assert (status, answer, assistant.received) == (
        503,
        {"error": "replay check unavailable"},
        [],
    )


async def test_unstamped_signed_body_is_400() -> None:
    raw = json.dumps({"sender": "web-1", "message": "hi", "customer_id": 1}).encode()
    request = FakeRequest(raw, {SIGNATURE_HEADER: sign_body(raw, SECRET)})
    status, _, assistant = await receive(request)
    assert status == 400
    assert assistant.received == []


async def test_what_the_web_app_sends_is_accepted() -> None:
    client = WebChatClient("http://127.0.0.1:5005", SECRET)
    channel = WebChatInput(Settings(secret_key=SECRET))
    for _ in range(2):  # every message has its own nonce
        body, headers = client.signed_request("web-1", "hi", 3)
        status, answer, assistant = await receive(FakeRequest(body, headers), channel)
        assert status == 200
        assert [reply["text"] for reply in answer] == ["you said hi"]
    assert verify_identity(assistant.received[0].metadata, SECRET, "web-1") == (
        ChannelIdentity(channel="web", customer_id=3)
    )


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
