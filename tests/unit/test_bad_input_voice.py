"""Bad input at the phone IVR's webhooks (channels/voice/channel.py): never a 500.

Both webhooks (/webhook and /status) get real Sanic requests, mounted as Rasa mounts
the channel (tests/fakes/rasa_agent.py), on SQLite and PostgreSQL. Unsigned or
garbled requests are refused with 403; signed ones whose fields are not Twilio's
with 400, storing nothing; whatever a caller says or keys in, and whatever the
query string, the answer is well-formed TwiML (or 204 for a status callback).
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
from bot.settings import Settings
from channels.common import MAX_TWILIO_BODY
from tests.fakes.rasa_agent import Answer, ChannelRoutes, EchoAgent
from tests.fakes.twilio_webhooks import fields_read
from tests.unit.bad_input import queries, raw_bytes, stored_nothing, texts
from tests.unit.console.helpers import database_url, rows_removed_after, snapshot
from tests.unit.voice_calls import CALLER, make_channel

PUBLIC = "https://ivr.example.com"
WEBHOOK, STATUS = "/webhooks/voice/webhook", "/webhooks/voice/status"
ACCOUNT = Settings().twilio_account_sid
CALL_SIDS = (f"CA{n:032x}" for n in itertools.count(1))
# The query arguments the channel reads from its own URLs, and others.
ARG_NAMES = st.one_of(
    st.sampled_from(("step", "err", "queue", "after", "wait", "noinput")),
    st.text(min_size=1, max_size=10),
)
ARG_VALUES = st.one_of(
    st.sampled_from(("1", "0", "3", "99999", "-1", "wait", "input", "transfer")),
    texts(max_size=40),
)


class Ivr:
    """The voice webhooks, their assistant and their database."""

    def __init__(self, routes: ChannelRoutes, engine: Engine, token: str) -> None:
        self.routes, self.agent, self.engine = routes, routes.agent, engine
        self.token = token

    async def post(
        self,
        path: str,
        body: bytes,
        signature: str | None,
        query: bytes = b"",
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Answer:
        headers = [("Content-Type", content_type)]
        if signature is not None:
            headers.append(("X-Twilio-Signature", signature))
        return await self.routes.request("POST", path, body, headers, query)

    async def post_signed(
        self, path: str, fields: dict[str, str], args: dict[str, str]
    ) -> tuple[Answer, bytes]:
        """`fields` posted to `path`?`args`, signed as Twilio signs them."""
        query = urlencode(args, errors="surrogatepass")
        url = f"{PUBLIC}{path}" + (f"?{query}" if query else "")
        body = urlencode(fields, errors="surrogatepass").encode()
        validator = RequestValidator(self.token)
        signature = validator.compute_signature(url, fields_read(body))
        return await self.post(path, body, signature, query.encode()), body


@pytest.fixture
async def ivr(engine: Engine) -> AsyncIterator[Ivr]:
    with rows_removed_after(engine):
        channel = make_channel(database_url(engine))
        agent = EchoAgent(session_factory(channel.settings.database_url))
        routes = ChannelRoutes.mount([channel], agent)
        yield Ivr(routes, engine, channel.settings.twilio_auth_token)
        await asyncio.gather(*channel.turns.running, return_exceptions=True)


def call_fields(sid: str, **extra: str) -> dict[str, str]:
    """What Twilio posts for a call in progress."""
    return {
        "AccountSid": ACCOUNT, "CallSid": sid, "From": CALLER, "To": "+15005550006",
        "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01",
        **extra,
    }  # fmt: skip


def check_answer(path: str, response: Answer) -> None:
    """A webhook's TwiML must be well-formed; a status callback gets 204."""
    if path == STATUS:
        assert response.status == 204, response.text
        return
    assert response.status == 200, response.text
    assert response.content_type.startswith("text/xml")
    root = ET.fromstring(response.body)
    assert root.tag == "Response"


@given(
    path=st.sampled_from((WEBHOOK, STATUS)),
    body=raw_bytes(),
    signature=st.one_of(st.none(), st.sampled_from(("", "x")), texts()),
    query=queries(),
)
async def test_unsigned_and_garbled_requests_are_refused(
    ivr: Ivr, path: str, body: bytes, signature: str | None, query: bytes
) -> None:
    before = snapshot(ivr.engine)
    response = await ivr.post(path, body, signature, query)
    assert response.status in (400, 403), response.text  # 400: no route reached
    assert ivr.agent.received == []
    assert stored_nothing(ivr.engine, before)


FIELDS = sorted(call_fields(""))


@given(
    path=st.sampled_from((WEBHOOK, STATUS)),
    dropped=st.sets(st.sampled_from(FIELDS)),
    changed=st.dictionaries(
        st.one_of(
            st.sampled_from(
                (*FIELDS, "Digits", "SpeechResult", "CallDuration", "DialCallStatus")
            ),
            st.sampled_from(("QueueResult", "StirVerstat", "Confidence")),
            st.text(min_size=1, max_size=20),
        ),
        texts(max_size=80),
        max_size=4,
    ),
    args=st.dictionaries(ARG_NAMES, ARG_VALUES, max_size=4),
)
async def test_signed_requests_get_twiml_or_a_clear_refusal(
    ivr: Ivr,
    path: str,
    dropped: set[str],
    changed: dict[str, str],
    args: dict[str, str],
) -> None:
    """Signed, so from Twilio in form: 400 unless every field it reads is right."""
    fields = call_fields(next(CALL_SIDS))
    fields = {k: v for k, v in fields.items() if k not in dropped} | changed
    before, heard = snapshot(ivr.engine), len(ivr.agent.received)
    response, body = await ivr.post_signed(path, fields, args)
    event(f"status {response.status}")
    if response.status not in (400, 403):
        check_answer(path, response)
        return
    assert response.text  # the reason, for Twilio's debugger
    assert response.status == 400 or len(body) > MAX_TWILIO_BODY  # signed, but huge
    assert len(ivr.agent.received) == heard
    assert stored_nothing(ivr.engine, before)


@given(
    said=st.fixed_dictionaries(
        {},
        optional={
            # Twilio's speech results are short: long ones stay below the body limit.
            "SpeechResult": texts(long=2_000),
            "Digits": st.from_regex(r"[0-9*#]{0,20}", fullmatch=True) | texts(20, 200),
            "Confidence": st.sampled_from(("0.9", "", "-1", "NaN", "1e309")),
            "StirVerstat": texts(40, long=200),
        },
    ),
    args=st.dictionaries(ARG_NAMES, ARG_VALUES, max_size=2),
)
async def test_whatever_a_caller_says_or_keys_gets_twiml(
    ivr: Ivr, said: dict[str, str], args: dict[str, str]
) -> None:
    sid = next(CALL_SIDS)
    greeting, _ = await ivr.post_signed(WEBHOOK, call_fields(sid), {"step": "a1"})
    check_answer(WEBHOOK, greeting)
    response, body = await ivr.post_signed(
        WEBHOOK, call_fields(sid, **said), {"step": "b2", **args}
    )
    event(f"status {response.status}")
    if response.status not in (400, 403):  # 400: keys that are not keypad keys
        check_answer(WEBHOOK, response)
    else:
        assert response.status == 400 or len(body) > MAX_TWILIO_BODY
