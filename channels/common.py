"""What the Switchboard channels share.

Twilio signatures, running a message through Rasa, database work off the event
loop, and bot output as plain text.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from bot.db import session_factory
from bot.identity import ChannelIdentity, sign_identity
from bot.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# Twilio's webhook bodies are a few kilobytes with a few dozen fields.
MAX_TWILIO_BODY = 64 * 1024
MAX_TWILIO_FIELDS = 200

_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
# Pictographs, dingbats, flags and variation selectors: unreadable in SMS, unsayable.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\ufe0f\u200d]"
)
# What XML 1.0 cannot carry: a reply echoing a customer's control character would
# make TwiML that Twilio refuses to parse, and the customer would hear nothing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class Transactions:
    """Runs a channel's units of database work, each in one transaction in a thread.

    The database is not asyncio's, so the event loop stays free.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        return session_factory(self.database_url)

    async def __call__(self, work: Callable[[Session], T]) -> T:
        """`work`'s result, committed; rolled back if it raises."""

        def run() -> T:
            with self._sessions.begin() as session:
                return work(session)

        return await asyncio.to_thread(run)


def public_url(settings: Settings, request: Request) -> str:
    """The URL Twilio called: the public base URL plus the path and query."""
    url = f"{settings.public_base_url}{request.path}"
    if request.query_string:
        url += f"?{request.query_string}"
    return url


def form_params(request: Request) -> dict[str, str]:
    """Twilio's form fields, one value each, blank ones included.

    Twilio signs every parameter it posts, empty ones too (`FromCity=`), but
    Sanic's `request.form` drops blank values, which would break the signature.
    """
    if len(request.body or b"") > MAX_TWILIO_BODY:
        return {}
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = request.body.decode("utf-8", errors="replace")
        params: dict[str, str] = {}
        pairs = parse_qsl(
            body, keep_blank_values=True, max_num_fields=MAX_TWILIO_FIELDS
        )
        for key, value in pairs:
            params.setdefault(key, value)
        return params
    return {key: values[0] for key, values in request.form.items()}


def valid_twilio_signature(settings: Settings, request: Request) -> bool:
    """Check X-Twilio-Signature with the twilio library against the public URL.

    Oversized bodies are refused before any parsing or hashing: Twilio's own are a
    few kilobytes, and a huge unsigned body must not stall the server's event loop.
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.twilio_auth_token:
        return False
    if len(request.body or b"") > MAX_TWILIO_BODY:
        return False
    validator = RequestValidator(settings.twilio_auth_token)
    return bool(
        validator.validate(
            public_url(settings, request), form_params(request), signature
        )
    )


def checked_params(
    settings: Settings,
    request: Request,
    refusal: Callable[[dict[str, str], str], str | None],
    what: str,
) -> dict[str, str] | HTTPResponse:
    """A Twilio webhook's form fields, or the answer refusing it.

    403 without a valid signature; 400 when `refusal` finds a field in the wrong
    format (checked even though signed: a moved field boundary keeps the signature).
    """
    if not valid_twilio_signature(settings, request):
        logger.warning("%s with a missing or invalid Twilio signature", what)
        return response.text("invalid Twilio signature", status=403)
    params = form_params(request)
    reason = refusal(params, settings.twilio_account_sid)
    if reason:
        logger.warning("%s refused: %s", what, reason)
        return response.text(reason, status=400)
    return params


def collector_for(channel: str) -> type[CollectingOutputChannel]:
    """A collecting output channel named after `channel`.

    Rasa picks a response's channel variant (`channel: voice` in domain.yml) by the
    output channel's name; the stock collector is called "collector".
    """

    class NamedCollector(CollectingOutputChannel):
        @classmethod
        def name(cls) -> str:
            return channel

    return NamedCollector


async def run_through_rasa(
    on_new_message: OnNewMessage,
    text: str,
    sender_id: str,
    input_channel: str,
    identity: ChannelIdentity | None,
    secret: str,
) -> list[dict[str, Any]]:
    """Send one customer message to the assistant and collect its replies."""
    collector = collector_for(input_channel)()
    metadata = sign_identity(identity, secret, sender_id) if identity else None
    await on_new_message(
        UserMessage(
            text,
            collector,
            sender_id,
            input_channel=input_channel,
            metadata=metadata,
        )
    )
    return list(collector.messages)


def plain_text(text: str, keep_urls: bool = True) -> str:
    """Plain text: "[Track](https://x)" -> "Track: https://x"; no emoji, no controls."""
    text = _NOT_XML.sub("", text)
    text = _MARKDOWN_LINK.sub(lambda m: f"{m[1]}: {m[2]}" if keep_urls else m[1], text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _EMOJI.sub("", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def last_buttons(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The buttons of the last message that has any."""
    for message in reversed(messages):
        if message.get("buttons"):
            return list(message["buttons"])
    return []


def button_payloads(messages: list[dict[str, Any]]) -> list[str]:
    return [str(b.get("payload", "")) for b in last_buttons(messages)]


def button_titles(messages: list[dict[str, Any]]) -> list[str]:
    return [plain_text(str(b.get("title", ""))) for b in last_buttons(messages)]
