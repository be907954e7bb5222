"""Rasa's side of the input channels: the agent, and the routes Rasa mounts.

`EchoAgent` stands in for Rasa's Agent behind Switchboard's real hold gate
(bot/rasa_server.py: a held conversation's message goes to its ticket) and echoes
each message it gets, as a model that repeats the customer's words would.
`ChannelRoutes` mounts channels at /webhooks/<name>/ as Rasa's `register()` does and
calls their handlers with real Sanic requests built from any bytes: headers, query
and body parsing are Sanic's own. (Sanic 21.12 cannot start a second app in one
Python 3.11 process, so no app is started.) A SanicException becomes its status, as
Sanic's error handler answers it; any other exception would be a 500 and fails the
test with its traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from httptools import HttpParserError
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic.compat import Header
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import Session, sessionmaker

from bot.rasa_server import HoldGate, Replies
from bot.services import back_to_bot
from bot.services.assistant_request import asks_for_the_assistant

Handler = Callable[[Request], Awaitable[HTTPResponse]]
MAX_HEAD = 8192  # Sanic's HEADER_MAX_SIZE


class NoTrackers:
    """A tracker store that has no conversation (the voice channel may ask)."""

    async def retrieve(self, sender_id: str) -> None:
        return None


@dataclass
class EchoProcessor:
    """Answers each message with the words it received."""

    received: list[UserMessage] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> Replies:
        self.received.append(message)
        await message.output_channel.send_text_message(
            message.sender_id or "", f"You said: {message.text}"
        )
        return None


def echo_of(text: str) -> str:
    """What `EchoAgent` answers to `text` in a conversation nobody holds."""
    if asks_for_the_assistant(text):  # the hold gate answers: it has it already
        return back_to_bot.ALREADY_NOTICE
    return f"You said: {text.strip()}".strip()


@dataclass
class EchoAgent:
    """What Rasa's channel handlers call (`app.ctx.agent`)."""

    sessions: sessionmaker[Session]
    processor: EchoProcessor = field(default_factory=EchoProcessor)
    tracker_store: Any = field(default_factory=NoTrackers)

    @property
    def received(self) -> list[UserMessage]:
        """The messages that reached the assistant (past the hold gate)."""
        return self.processor.received

    async def handle_message(self, message: UserMessage) -> Replies:
        gated = HoldGate(self.sessions.begin).guard(EchoProcessor.handle_message)
        return await gated(self.processor, message)


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class ChannelRoutes:
    """Input channels mounted at /webhooks/<name>/, as Rasa mounts them."""

    agent: EchoAgent
    routes: dict[tuple[str, str], Handler]

    @classmethod
    def mount(cls, channels: Iterable[InputChannel], agent: EchoAgent) -> ChannelRoutes:
        async def on_new_message(message: UserMessage) -> None:
            await agent.handle_message(message)

        routes: dict[tuple[str, str], Handler] = {}
        for channel in channels:
            prefix = f"/webhooks/{channel.url_prefix()}"
            for route in channel.blueprint(on_new_message)._future_routes:
                for method in route.methods:
                    routes[(method, prefix + route.uri)] = route.handler
        return cls(agent, routes)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        query: bytes = b"",
    ) -> Answer:
        """One request to the route at `path`; `query` is the raw query string."""
        handler = self.routes[(method, path)]
        url = path.encode() + (b"?" + query if query else b"")
        app = SimpleNamespace(ctx=SimpleNamespace(agent=self.agent))
        try:
            # Sanic's server reads the request line as UTF-8, at most 8 kB of head,
            # and parses it with httptools: other request lines reach no route.
            url.decode()
            if len(url) > MAX_HEAD:
                raise ValueError("request line too long")
            request = Request(url, Header(list(headers)), "1.1", method, None, app)  # type: ignore[arg-type]
        except (ValueError, HttpParserError):
            return Answer(400, "text/plain", b"refused before any route")
        request.body = body
        try:
            response = await handler(request)
        except SanicException as exc:
            return Answer(exc.status_code, "text/plain", str(exc).encode())
        content_type = response.content_type or ""
        return Answer(response.status, content_type, response.body or b"")
