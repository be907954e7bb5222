"""A phone call played against the IVR channel, for the voice channel's tests.

`Caller` posts signed webhooks straight to the channel's handler, as Twilio would;
`FakeAssistant` stands in for Rasa.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from rasa.core.channels.channel import UserMessage
from twilio.request_validator import RequestValidator

from bot.settings import Settings
from channels.twilio_checks import SIGNATURE_HEADER
from channels.voice.channel import VoiceInput

SECRET = "voice-test-secret"
CALLER = "+14155550134"  # Jane's phone
ATTESTED = "TN-Validation-Passed-A"


@dataclass
class FakeRequest:
    """What the channel reads from a Sanic request besides the form."""

    args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    app: Any = field(default_factory=lambda: SimpleNamespace(ctx=SimpleNamespace()))


@dataclass
class FakeAssistant:
    """Stands in for Rasa: replies with `replies`, after `release` if given."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    release: asyncio.Event | None = None
    received: list[UserMessage] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise RuntimeError("action server down")
        for reply in self.replies:
            await message.output_channel.send_response(
                message.sender_id or "", dict(reply)
            )

    @property
    def texts(self) -> list[str]:
        return [m.text or "" for m in self.received]


@dataclass
class Caller:
    """One call's webhooks, posted straight to the channel's handler."""

    channel: VoiceInput
    assistant: FakeAssistant
    caller: str = CALLER
    verstat: str | None = ATTESTED  # Twilio's StirVerstat; None: not sent
    sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)

    @property
    def conversation_id(self) -> str:
        return f"voice:{self.sid}"

    async def post(
        self,
        args: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **fields: str,
    ) -> ET.Element:
        params = {"CallSid": self.sid, "From": self.caller, "CallStatus": "in-progress"}
        if self.verstat is not None:
            params["StirVerstat"] = self.verstat
        # Twilio posts each webhook to a fresh URL the channel gave it (its step
        # token), so no two are signed alike; a step is made up where a test has none.
        args = {"step": uuid.uuid4().hex[:16], **(args or {})}
        form = {**params, **fields}
        url = f"{self.channel.urls.webhook}?{urlencode(args)}"
        signature = RequestValidator(
            self.channel.settings.twilio_auth_token
        ).compute_signature(url, form)
        twiml = await self.channel._answer_safely(
            self.assistant,
            FakeRequest(  # type: ignore[arg-type]
                args, {SIGNATURE_HEADER: signature, **(headers or {})}
            ),
            form,
        )
        return ET.fromstring(str(twiml))

    async def start(self) -> ET.Element:
        return await self.post()

    async def say(self, words: str) -> ET.Element:
        return await self.post(SpeechResult=words, Confidence="0.91")

    async def press(self, digits: str) -> ET.Element:
        return await self.post(Digits=digits)

    async def wait(self) -> ET.Element:
        return await self.post(args={"wait": "1"})

    async def answer(self, twiml: ET.Element, **fields: str) -> ET.Element:
        """Keys or speech posted to the <Gather>'s action, as Twilio would."""
        gather = twiml.find("Gather")
        assert gather is not None
        return await self.post(args=query(gather.attrib["action"]), **fields)

    async def fall_silent(self, twiml: ET.Element) -> ET.Element:
        """No input: Twilio follows the <Redirect> after the <Gather>."""
        redirect = twiml.find("Redirect")
        assert redirect is not None and redirect.text
        return await self.post(args=query(redirect.text))


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def said(root: ET.Element) -> str:
    return " ".join(say.text or "" for say in root.iter("Say"))


def tags(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


NY = dt.timezone(dt.timedelta(hours=-5))
MONDAY_NOON = dt.datetime(2026, 11, 16, 12, 0, tzinfo=NY)  # the team is working
SUNDAY_NOON = dt.datetime(2026, 11, 22, 12, 0, tzinfo=NY)  # closed until Monday 8 am


def make_channel(
    database_url: str, at: dt.datetime = MONDAY_NOON, **changes: Any
) -> VoiceInput:
    settings = Settings(
        database_url=database_url,
        twilio_auth_token="twilio-token",
        secret_key=SECRET,
        public_base_url="https://ivr.example.com",
        voice_response_timeout=0.2,
    )
    return VoiceInput(Settings(**{**settings.__dict__, **changes}), clock=lambda: at)
