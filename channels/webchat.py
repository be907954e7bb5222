"""Web chat channel: messages forwarded by Switchboard's web app, signed with HMAC.

The browser never talks to this channel. The web app (bot/web/chat.py) forwards each
customer message with an `X-Switchboard-Signature` over the raw body, and vouches for
the signed-in customer with `customer_id`; unsigned requests are refused. The body
carries a `timestamp` and a random `nonce` (bot/signing.py): a body older than 60 s,
more than 60 s in the future, or seen before, is refused too, so a captured request
cannot be replayed. With REDIS_URL set, nonces are remembered in Redis, so a replay
sent to another Rasa instance is refused as well; while Redis cannot be reached,
every message is refused (503) rather than taken unchecked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import rasa_server
from bot.identity import ChannelIdentity
from bot.settings import Settings
from bot.shared_state import SharedState, SharedStateDown
from bot.signing import (
    SIGNATURE_HEADER,
    NonceCache,
    SharedNonces,
    is_fresh,
    valid_body_signature,
)
from channels.common import OnNewMessage, run_through_rasa

logger = logging.getLogger(__name__)

MAX_SENDER_LENGTH = 255
MAX_NONCE_LENGTH = 64


@dataclass(frozen=True)
class WebChatRequest:
    """One forwarded customer message."""

    sender: str
    message: str
    customer_id: int | None = None
    timestamp: int = 0  # Unix seconds, when the web app signed it
    nonce: str = ""


def parse_request(body: bytes) -> WebChatRequest:
    """The message in a webhook body; ValueError says what is wrong with it."""
    try:
        data = json.loads(body)
    # Not UTF-8 or not JSON (ValueErrors), or nested deeper than Python recurses.
    except (ValueError, RecursionError) as exc:
        raise ValueError("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    sender, message = data.get("sender"), data.get("message")
    customer_id = data.get("customer_id")
    timestamp, nonce = data.get("timestamp"), data.get("nonce")
    if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_LENGTH:
        raise ValueError("sender must be a non-empty string")
    if not isinstance(message, str):
        raise ValueError("message must be a string")
    # bool is an int in Python; a customer id of `true` is a client bug, not customer 1.
    if customer_id is not None and (
        isinstance(customer_id, bool) or not isinstance(customer_id, int)
    ):
        raise ValueError("customer_id must be an integer or null")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise ValueError("timestamp must be an integer (Unix seconds)")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= MAX_NONCE_LENGTH:
        raise ValueError("nonce must be a non-empty string")
    return WebChatRequest(sender, message, customer_id, timestamp, nonce)


class WebChatInput(InputChannel):
    """`POST /webhooks/webchat/webhook`, called only by Switchboard's web app."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # Plain `rasa run` would let the bot answer conversations a person holds.
        if not rasa_server.installed():
            raise ValueError(
                "start Rasa with `python -m bot run rasa` (bot/rasa_server.py): "
                "without its hold gate the bot answers held conversations"
            )
        # The shared secret comes from the environment, never from credentials.yml.
        return cls(Settings.from_env())

    def __init__(self, settings: Settings) -> None:
        if not settings.secret_key:
            raise ValueError(
                "the web chat channel needs SECRET_KEY to check signatures"
            )
        self.settings = settings
        self.nonces: NonceCache | SharedNonces = (
            SharedNonces(
                SharedState.from_url(settings.redis_url, settings.redis_key_prefix)
            )
            if settings.redis_url
            else NonceCache()
        )

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("webchat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        return webhook

    async def _receive(
        self, request: Request, on_new_message: OnNewMessage
    ) -> HTTPResponse:
        body = request.body or b""
        signature = request.headers.get(SIGNATURE_HEADER)
        if not valid_body_signature(body, signature, self.settings.secret_key):
            return response.json({"error": "missing or invalid signature"}, status=403)
        try:
            message = parse_request(body)
        except ValueError as exc:
            return response.json({"error": str(exc)}, status=400)
        if not is_fresh(message.timestamp):
            return response.json({"error": "request expired"}, status=403)
        try:
            # Redis's answer (or its timeout) is waited for off the event loop.
            fresh = await asyncio.to_thread(self.nonces.use, message.nonce)
        except SharedStateDown as exc:
            logger.error("web chat message refused: Redis unreachable: %s", exc)
            return response.json({"error": "replay check unavailable"}, status=503)
        if not fresh:
            return response.json({"error": "request replayed"}, status=403)
        identity = (
            ChannelIdentity(channel="web", customer_id=message.customer_id)
            if message.customer_id is not None
            else None
        )
        try:
            replies = await run_through_rasa(
                on_new_message,
                message.message,
                message.sender,
                self.name(),
                identity,
                self.settings.secret_key,
            )
        except Exception:  # the web app tells the customer; never a half answer
            logger.exception("web chat message failed (sender %s)", message.sender)
            return response.json({"error": "the assistant failed"}, status=500)
        return response.json(replies)
