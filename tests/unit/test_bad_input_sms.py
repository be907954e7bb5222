"""Bad input at the SMS webhook (channels/sms.py): a 4xx or a polite reply, never a 500.

Real Sanic requests reach the channel's routes mounted as Rasa mounts them
(tests/fakes/rasa_agent.py), on SQLite and PostgreSQL. Unsigned or garbled requests are refused with 403; signed ones
whose fields are not Twilio's with 400; either way nothing is stored and the
assistant hears nothing. Whatever text a customer sends gets well-formed TwiML.
"""

from __future__ import annotations

import asyncio
import itertools
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from bot.db import session_factory
from bot.models import Channel
from bot.services.messaging import sms_conversation_id
from bot.settings import Settings
from channels.common import MAX_TWILIO_BODY
from channels.sms import SmsInput
from tests.fakes.rasa_agent import Answer, ChannelRoutes, EchoAgent
from tests.fakes.twilio_webhooks import fields_read
from tests.unit.bad_input import queries, raw_bytes, stored_nothing, texts
from tests.unit.console.helpers import database_url, rows_removed_after, snapshot
from tests.unit.holds import hold_for_a_person

TOKEN = "twilio-token"
SECRET = "sms-bad-input-secret"
PUBLIC = "https://sms.example.com"
PATH = "/webhooks/sms/webhook"
ACCOUNT = Settings().twilio_account_sid
# Each example texts from a number of its own, so no example's STOP silences another.
PHONES = (f"+1415555{n:04d}" for n in itertools.count(1000))
SIDS = (f"SM{n:032x}" for n in itertools.count(1))
CONTENT_TYPES = (
    None,
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "application/json",
    "text/plain; charset=utf-8",
    "\x00;;=",
)


class Sms:
    """The SMS webhook on a Sanic app, its assistant and its database."""

    def __init__(self, routes: ChannelRoutes, engine: Engine) -> None:
        self.routes, self.agent, self.engine = routes, routes.agent, engine
        self.url = database_url(engine)

    async def post(
        self,
        body: bytes,
        signature: str | None = None,
        content_type: str | None = "application/x-www-form-urlencoded",
        query: bytes = b"",
    ) -> Answer:
        headers = [("X-Twilio-Signature", signature)] if signature is not None else []
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        return await self.routes.request("POST", PATH, body, headers, query)

    async def post_signed(self, body: bytes) -> Answer:
        """`body` signed by Twilio for the fields the channel reads from it."""
        signature = RequestValidator(TOKEN).compute_signature(
            PUBLIC + PATH, fields_read(body)
        )
        return await self.post(body, signature)

    def hold(self, phone: str) -> None:
        with session_factory(self.url).begin() as session:
            conversation = sms_conversation_id(phone, SECRET)
            hold_for_a_person(session, conversation, Channel.SMS, phone)


@pytest.fixture
async def sms(engine: Engine) -> AsyncIterator[Sms]:
    with rows_removed_after(engine):
        settings = Settings(
            database_url=database_url(engine),
            twilio_auth_token=TOKEN,
            secret_key=SECRET,
            public_base_url=PUBLIC,
        )
        channel = SmsInput(settings)
        agent = EchoAgent(session_factory(settings.database_url))
        yield Sms(ChannelRoutes.mount([channel], agent), engine)
        await asyncio.gather(*channel.turns.running, return_exceptions=True)


def inbound(body: str, phone: str, sid: str) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS."""
    return {
        "ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
        "SmsStatus": "received", "Body": body, "To": "+15005550006",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT, "From": phone,
        "ApiVersion": "2010-04-01",
    }  # fmt: skip


def twiml_messages(response: Answer) -> list[str]:
    """The texts of a 200 answer's TwiML, which must be well-formed XML."""
    assert response.status == 200, response.text
    assert response.content_type.startswith("text/xml")
    root = ET.fromstring(response.body)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


@given(
    body=raw_bytes(),
    content_type=st.sampled_from(CONTENT_TYPES),
    signature=st.one_of(st.none(), st.sampled_from(("", "x", "a" * 28 + "=")), texts()),
    query=queries(),
)
async def test_unsigned_and_garbled_requests_are_refused(
    sms: Sms, body: bytes, content_type: str | None, signature: str | None, query: bytes
) -> None:
    before = snapshot(sms.engine)
    response = await sms.post(body, signature, content_type, query)
    assert response.status in (400, 403), response.text  # 400: no route reached
    assert sms.agent.received == []
    assert stored_nothing(sms.engine, before)


FIELD_NAMES = st.one_of(
    st.sampled_from(sorted(inbound("", "", ""))), st.text(min_size=1, max_size=20)
)


@given(
    dropped=st.sets(st.sampled_from(sorted(inbound("", "", "")))),
    changed=st.dictionaries(FIELD_NAMES, texts(max_size=80), max_size=4),
)
async def test_signed_requests_with_fields_twilio_never_sends_are_refused(
    sms: Sms, dropped: set[str], changed: dict[str, str]
) -> None:
    """Signed, so from Twilio in form: 400 unless every field it reads is right."""
    fields = inbound("where is my order", next(PHONES), next(SIDS))
    fields = {k: v for k, v in fields.items() if k not in dropped} | changed
    body = urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()
    before, heard = snapshot(sms.engine), len(sms.agent.received)
    response = await sms.post_signed(body)
    event(f"status {response.status}")
    if len(body) > MAX_TWILIO_BODY:
        assert response.status == 403
    elif response.status == 400:
        assert response.text  # the reason, for Twilio's debugger
    else:
        assert twiml_messages(response)
        return
    assert len(sms.agent.received) == heard
    assert stored_nothing(sms.engine, before)


@given(text=texts(), raw=st.sampled_from((b"", b"%FF%FE", b"\xc3\x28", b"%00")))
async def test_any_text_gets_well_formed_twiml_and_a_reply(
    sms: Sms, text: str, raw: bytes
) -> None:
    """Emoji, injections, control characters, invalid UTF-8: a reply, never a 500."""
    phone, sid = next(PHONES), next(SIDS)
    fields = inbound(text, phone, sid)
    body = urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()
    body += b"&Body=" + raw  # a second Body: the first one counts
    before = snapshot(sms.engine)
    response = await sms.post_signed(body)
    if len(body) > MAX_TWILIO_BODY:  # Twilio's own are at most 1,600 characters
        assert response.status == 403
        assert stored_nothing(sms.engine, before)
        return
    replies = twiml_messages(response)
    assert replies and all(reply.strip() for reply in replies)


@given(text=texts())
async def test_a_held_conversation_keeps_any_text_for_the_agent(
    sms: Sms, text: str
) -> None:
    phone, sid = next(PHONES), next(SIDS)
    sms.hold(phone)
    body = urlencode(
        inbound(text, phone, sid), encoding="utf-8", errors="surrogatepass"
    ).encode()
    response = await sms.post_signed(body)
    if len(body) > MAX_TWILIO_BODY:
        assert response.status == 403
        return
    twiml_messages(response)  # nothing, or the notice that the assistant is back
    conversation = sms_conversation_id(phone, SECRET)
    assert all(m.sender_id != conversation for m in sms.agent.received)
