"""Bad input at the REST channel (channels/rest.py): a clear 400, or the replies.

Real Sanic requests reach the channel mounted as Rasa mounts it
(tests/fakes/rasa_agent.py), behind the real hold gate, on SQLite and PostgreSQL.
A body that is not a JSON object with a sender and a message is refused with 400
(413 when huge), before the assistant or the database sees anything.
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
from bot.services.customer_text import InvalidMessage, clean_message
from channels.rest import MAX_BODY, MAX_SENDER_LENGTH, RestInput
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
from tests.unit.holds import hold_for_a_person

PATH = "/webhooks/rest/webhook"
SENDER_IDS = (f"rest-bad-input-{n}" for n in itertools.count())
CONTENT_TYPES = (
    None,
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
)


class Rest:
    def __init__(self, routes: ChannelRoutes, engine: Engine) -> None:
        self.routes, self.agent, self.engine = routes, routes.agent, engine

    async def post(
        self, body: bytes, content_type: str | None = "application/json"
    ) -> Answer:
        headers = [("Content-Type", content_type)] if content_type else []
        return await self.routes.request("POST", PATH, body, headers)

    def hold(self, conversation: str) -> None:
        with session_factory(database_url(self.engine)).begin() as session:
            hold_for_a_person(session, conversation)


@pytest.fixture
def rest(engine: Engine) -> Iterator[Rest]:
    with rows_removed_after(engine):
        agent = EchoAgent(session_factory(database_url(engine)))
        yield Rest(ChannelRoutes.mount([RestInput()], agent), engine)


def replies(response: Answer) -> list[dict[str, Any]]:
    assert response.status == 200, response.text
    answer = json.loads(response.body)
    assert isinstance(answer, list)
    return answer


def takes(message: str) -> bool:
    """Whether the web chat would take `message` (bot/services/customer_text.py)."""
    try:
        clean_message(message)
    except InvalidMessage:
        return False
    return True


def valid(body: Any) -> bool:
    """Whether `body` is a request the channel takes (see channels/rest.py)."""
    if not isinstance(body, dict):
        return False
    sender, message = body.get("sender"), body.get("message")
    metadata = body.get("metadata")
    return (
        isinstance(sender, str)
        and 0 < len(sender) <= MAX_SENDER_LENGTH
        and sender.isprintable()
        and isinstance(message, str)
        and takes(message)
        and (metadata is None or isinstance(metadata, dict))
        and len(json_bytes(body)) <= MAX_BODY
    )


@given(body=raw_bytes(), content_type=st.sampled_from(CONTENT_TYPES))
async def test_bodies_that_are_not_json_objects_are_refused(
    rest: Rest, body: bytes, content_type: str | None
) -> None:
    before = snapshot(rest.engine)
    response = await rest.post(body, content_type)
    event(f"status {response.status}")
    assert response.status in (400, 413), response.text
    assert rest.agent.received == []
    assert stored_nothing(rest.engine, before)


SENDERS = st.one_of(
    st.uuids().map(lambda u: f"rest-{u.hex}"), json_values(), texts(max_size=300)
)


OPTIONAL = {
    "metadata": st.one_of(json_values(), st.just({"x": 1})),
    "input_channel": st.one_of(st.just("sms"), json_values()),
}


@given(
    body=st.one_of(
        json_values(),
        json_objects(
            {
                "sender": SENDERS,
                "message": st.one_of(texts(), json_values()),
                **OPTIONAL,
            }
        ),
        st.fixed_dictionaries(
            {"sender": st.just("rest-shapes"), "message": texts()}, optional=OPTIONAL
        ),
    )
)
async def test_json_of_the_wrong_shape_is_refused_with_400(
    rest: Rest, body: Any
) -> None:
    before, heard = snapshot(rest.engine), len(rest.agent.received)
    raw = json_bytes(body)
    response = await rest.post(raw)
    event(f"status {response.status}")
    if valid(body):
        [reply] = replies(response)
        assert reply["text"] == echo_of(body["message"])
        assert rest.agent.received[-1].input_channel == "rest"  # never the client's
        return
    assert response.status == (413 if len(raw) > MAX_BODY else 400), response.text
    assert len(rest.agent.received) == heard
    assert stored_nothing(rest.engine, before)


@given(message=texts(), held=st.booleans())
async def test_any_message_gets_a_reply_or_goes_to_the_agent(
    rest: Rest, message: str, held: bool
) -> None:
    sender = next(SENDER_IDS)
    if held:
        rest.hold(sender)
    body = {"sender": sender, "message": message}
    response = await rest.post(json_bytes(body))
    event(f"status {response.status}")
    if not valid(body):
        assert response.status in (400, 413)
        return
    answer = replies(response)
    heard = [m for m in rest.agent.received if m.sender_id == sender]
    if held:  # the agent's, or a request for the assistant: answered by a notice
        assert heard == [] and len(answer) <= 1
    else:
        assert [m.text for m in heard] == [message.strip()]
