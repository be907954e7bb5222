"""Chat API for the website widget: send a message, read history, stream new ones.

A signed-in customer also says here whether they want updates about their orders
(`/chat/api/updates`, recorded with the source "web_chat").

The conversation id is issued by the server and kept in the signed session cookie;
the signed-in customer's id goes to Rasa only from the server, signed. A button's
payload is forwarded only if the assistant's latest reply offered that button;
otherwise the text the customer sees in the transcript is what Rasa gets.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    request,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import OperationalError

from bot.chat_push import Listener
from bot.models import MAX_ID
from bot.proactive.schema import ConsentChannel, ConsentSource
from bot.services import back_to_bot, consent
from bot.services.customer_text import clean_message
from bot.shared_state import SharedState, SharedStateDown
from bot.web import chat_store
from bot.web.auth import signed_in_customer, signed_in_customer_id
from bot.web.conversation import (
    CONVERSATION_KEY,
    conversation_id,
    has_conversation,
)
from bot.web.database import session_factory
from bot.web.rasa_client import AssistantUnavailable, WebChatClient
from bot.web.security import same_origin
from bot.web.stream import (
    SLOT_GRACE_SECONDS,
    Quota,
    SharedStreamSlots,
    StreamSlots,
    TooManyStreams,
    message_events,
)

bp = Blueprint("chat", __name__, url_prefix="/chat/api")

__all__ = ["CONVERSATION_KEY", "bp", "conversation_id", "init_app"]

UNAVAILABLE = (
    "We couldn't reach the assistant; your message is saved, please try again."
)
# The database is unreachable: nothing was stored, so the customer sends it again.
NOT_TAKEN = (
    "We couldn't take your message just now; nothing was sent. "
    "Please send it again in a minute."
)
TOO_MANY_STREAMS = "Too many open chat streams; poll for messages and retry later."
NO_STREAMS = "Live updates are unavailable; poll for messages and retry later."
CLIENT_DISCONNECTED = "waitress.client_disconnected"


def _error(status: int, code: str, message: str, **extra: Any) -> ResponseReturnValue:
    return jsonify(error=code, message=message, **extra), status


@bp.errorhandler(OperationalError)
def _database_down(exc: OperationalError) -> ResponseReturnValue:
    # Each transaction rolled back whole: the message is stored with nothing else
    # or not at all, and the customer is told to send it again.
    current_app.logger.error("chat API: the database is unreachable: %s", exc.orig)
    return _error(503, "database_unavailable", NOT_TAKEN)


@bp.before_request
def _refuse_forgeries() -> ResponseReturnValue | None:
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return None
    if request.mimetype != "application/json":
        return _error(
            415, "json_required", "Send JSON (Content-Type: application/json)."
        )
    if not same_origin(request):
        return _error(403, "cross_origin", "Requests must come from this site.")
    return None


def _text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string.")
    return clean_message(value)


@bp.post("/messages")
def send_message() -> ResponseReturnValue:
    """Store the customer's message, ask Rasa, store and return the replies.

    While a person handles the conversation the assistant is not asked: the answer
    is the stored message and ``"held": true`` (the agent's reply comes by stream),
    unless the message asks for the assistant back: then the answer is the notice
    that it is back (bot/services/back_to_bot.py).
    """
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than Python recurses: not a message
        data = None
    if not isinstance(data, dict):
        return _error(400, "bad_request", 'Send a JSON object like {"text": "hi"}.')
    try:
        text = _text_field(data, "text")
        # A button shows its title as the customer's words and sends its payload.
        payload = _text_field(data, "payload")
    except ValueError as exc:
        return _error(400, "invalid_message", str(exc))
    if text is None:
        return _error(400, "invalid_message", "Type a message before sending.")
    conversation = conversation_id()
    client: WebChatClient = current_app.extensions["webchat_client"]
    with session_factory()() as db:
        with db.begin():
            if payload is not None and not chat_store.offers_button(
                db, conversation, text, payload
            ):
                # Not a button the assistant offered: Rasa gets what the transcript
                # shows, never a payload (an intent, entities) the customer can't see.
                current_app.logger.info(
                    "ignored payload not offered in %s: %r", conversation, payload
                )
                payload = None
            stored = chat_store.to_json(
                chat_store.add_customer_message(db, conversation, text)
            )
            # A person has taken the conversation over: the message is theirs (in
            # the ticket's transcript, shown live in the console), not the bot's.
            # A button click goes as its title, the words the customer saw.
            routed = back_to_bot.route_customer_message(db, conversation, text)
            if isinstance(routed, back_to_bot.Returned):
                notice = chat_store.add_notice(db, conversation, routed.notice)
                return jsonify(messages=[stored, chat_store.to_json(notice)])
        if routed is not None:
            return jsonify(messages=[stored], held=True)
        try:
            replies = client.send(
                conversation, payload or text, signed_in_customer_id()
            )
        except AssistantUnavailable as exc:
            current_app.logger.warning("assistant unavailable: %s", exc)
            return _error(503, "assistant_unavailable", UNAVAILABLE, messages=[stored])
        with db.begin():
            rows = chat_store.add_bot_replies(db, conversation, replies)
            answers = [chat_store.to_json(row) for row in rows]
    return jsonify(messages=[stored, *answers])


SIGN_IN_FOR_UPDATES = "Sign in to choose updates about your orders."


def _choices_json(said: dict[ConsentChannel, bool]) -> dict[str, bool]:
    return {channel.value: granted for channel, granted in said.items()}


def _chosen(data: Any) -> dict[ConsentChannel, bool]:
    """The body's choices, like {"web": true, "sms": false} (ValueError if not)."""
    names = ", ".join(f'"{c.value}"' for c in ConsentChannel)
    if not isinstance(data, dict) or not data:
        raise ValueError(f'Send a JSON object like {{"web": true}} (keys: {names}).')
    chosen = {}
    for name, granted in data.items():
        try:
            channel = ConsentChannel(name)
        except ValueError:
            raise ValueError(
                f"Unknown channel {name!r}; channels are {names}."
            ) from None
        if not isinstance(granted, bool):
            raise ValueError(f"'{name}' must be true or false.")
        chosen[channel] = granted
    return chosen


@bp.get("/updates")
def update_choices() -> ResponseReturnValue:
    """The signed-in customer's choices: which channels bring order updates."""
    customer_id = signed_in_customer_id()
    if customer_id is None:
        return _error(401, "sign_in_required", SIGN_IN_FOR_UPDATES)
    with session_factory()() as db:
        return jsonify(_choices_json(consent.choices(db, customer_id)))


@bp.post("/updates")
def choose_updates() -> ResponseReturnValue:
    """Record the signed-in customer's explicit yes or no per channel."""
    try:
        chosen = _chosen(request.get_json(silent=True))
    except RecursionError:
        chosen = {}
    except ValueError as exc:
        return _error(400, "invalid_choice", str(exc))
    if not chosen:
        return _error(400, "invalid_choice", 'Send a JSON object like {"web": true}.')
    with session_factory().begin() as db:
        customer = signed_in_customer(db)
        if customer is None:
            return _error(401, "sign_in_required", SIGN_IN_FOR_UPDATES)
        try:
            consent.choose(db, customer, chosen, ConsentSource.WEB_CHAT)
        except ValueError as exc:
            return _error(409, "no_phone", str(exc))
        said = consent.choices(db, customer.id)
    return jsonify(_choices_json(said))


def _after() -> int:
    raw = request.args.get("after", "0")
    last_event = request.headers.get("Last-Event-ID", "")
    try:
        after = int(raw)
        resumed = int(last_event) if last_event else 0
        if max(after, resumed) > MAX_ID:  # no message has such an id
            raise ValueError(f"{max(after, resumed)} is beyond every message id")
    except ValueError as exc:
        raise ValueError("'after' must be a message id (a whole number).") from exc
    return max(after, resumed, 0)


@bp.get("/messages")
def history() -> ResponseReturnValue:
    """The conversation's messages after `after` (all of them by default)."""
    try:
        after = _after()
    except ValueError as exc:
        return _error(400, "invalid_after", str(exc))
    with session_factory()() as db:
        rows = chat_store.messages_after(db, conversation_id(), after)
        return jsonify(messages=[chat_store.to_json(row) for row in rows])


def _stream_quotas(conversation: str, had_conversation: bool) -> list[Quota]:
    """The limits a new stream counts against: its session, and its client.

    The client is the signed-in customer, else the client address. A request that
    came without a conversation starts a new one each time, so the session limit
    does not hold it: such streams have a strict limit of their own per address.
    """
    config = current_app.config
    address = request.remote_addr or "unknown"
    quotas = [
        Quota(
            "session",
            f"session:{conversation}",
            int(config["CHAT_MAX_STREAMS_PER_SESSION"]),
        )
    ]
    customer_id = signed_in_customer_id()
    if customer_id is not None:
        limit = int(config["CHAT_MAX_STREAMS_PER_CUSTOMER"])
        return [*quotas, Quota("client", f"customer:{customer_id}", limit)]
    limit = int(config["CHAT_MAX_ANONYMOUS_STREAMS_PER_ADDRESS"])
    quotas.append(Quota("client", f"address:{address}", limit))
    if not had_conversation:
        limit = int(config["CHAT_MAX_COOKIELESS_STREAMS_PER_ADDRESS"])
        quotas.append(Quota("client", f"cookieless:{address}", limit))
    return quotas


@bp.get("/stream")
def stream() -> ResponseReturnValue:
    """Server-Sent Events with every new message of this conversation.

    Each stream holds a thread: beyond the limits of `_stream_quotas` the answer is
    429 with Retry-After (the widget polls meanwhile).
    """
    try:
        after = _after()
    except ValueError as exc:
        return _error(400, "invalid_after", str(exc))
    had_conversation = has_conversation()
    conversation = conversation_id()
    slots: StreamSlots | SharedStreamSlots = current_app.extensions["chat_stream_slots"]
    try:
        release = slots.acquire(_stream_quotas(conversation, had_conversation))
    except SharedStateDown as exc:
        current_app.logger.error("chat streams: Redis unreachable: %s", exc)
        retry_after = max(1, math.ceil(current_app.config["CHAT_STREAM_RETRY_AFTER"]))
        unavailable = jsonify(
            error="streams_unavailable", message=NO_STREAMS, retry_after=retry_after
        )
        unavailable.status_code = 503
        unavailable.headers["Retry-After"] = str(retry_after)
        return unavailable
    except TooManyStreams as exc:
        retry_after = max(1, math.ceil(current_app.config["CHAT_STREAM_RETRY_AFTER"]))
        refusal = jsonify(
            error="too_many_streams",
            message=TOO_MANY_STREAMS,
            scope=exc.scope,
            retry_after=retry_after,
        )
        refusal.status_code = 429
        refusal.headers["Retry-After"] = str(retry_after)
        return refusal
    factory = session_factory()
    duration = float(current_app.config["CHAT_STREAM_SECONDS"])
    # waitress tells when the browser closed the connection (bot/launch.py).
    gone = request.environ.get(CLIENT_DISCONNECTED)
    listener: Listener | None = current_app.extensions.get("chat_push")
    interval = float(
        current_app.config[
            "CHAT_POLL_SECONDS" if listener is None else "CHAT_SIGNALLED_POLL_SECONDS"
        ]
    )

    def events() -> Iterator[str]:  # runs after the request, outside its context
        if listener is None:
            yield from message_events(
                factory, conversation, after, duration, interval, gone
            )
            return
        # Woken by a signal from whichever process stored the message.
        with listener.watching(conversation) as watch:
            yield from message_events(
                factory, conversation, after, duration, interval, gone, watch
            )

    response = Response(
        events(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # The server closes the response when the stream ends or the browser goes away.
    response.call_on_close(release)
    return response


def init_app(app: Flask) -> None:
    """Register the API and its Rasa client (pointed at RASA_URL)."""
    app.config.setdefault("CHAT_STREAM_SECONDS", 25.0)
    app.config.setdefault("CHAT_POLL_SECONDS", 1.0)
    # With live push (REDIS_URL), streams read the database when signalled and at
    # least this often (a lost signal delays a message by at most this much).
    app.config.setdefault("CHAT_SIGNALLED_POLL_SECONDS", 5.0)
    app.config.setdefault("RASA_TIMEOUT", 30.0)
    # Below the server's 32 threads (bot/launch.py), so streams never take them all.
    app.config.setdefault("CHAT_MAX_STREAMS", 16)
    app.config.setdefault("CHAT_MAX_STREAMS_PER_SESSION", 2)
    app.config.setdefault("CHAT_MAX_STREAMS_PER_CUSTOMER", 4)
    # Visitors who are not signed in, counted by client address (one office behind
    # one address shares these; beyond them the widget polls).
    app.config.setdefault("CHAT_MAX_ANONYMOUS_STREAMS_PER_ADDRESS", 4)
    # The widget always has a conversation (the page issues it): streams without one
    # are scripts, not visitors.
    app.config.setdefault("CHAT_MAX_COOKIELESS_STREAMS_PER_ADDRESS", 1)
    app.config.setdefault("CHAT_STREAM_RETRY_AFTER", 30)
    state: SharedState | None = app.extensions.get("shared_state")
    total = int(app.config["CHAT_MAX_STREAMS"])
    if state is None:
        app.extensions["chat_stream_slots"] = StreamSlots(total=total)
    else:  # several web processes: the quotas are counted together
        lease = float(app.config["CHAT_STREAM_SECONDS"]) + SLOT_GRACE_SECONDS
        app.extensions["chat_stream_slots"] = SharedStreamSlots(state, total, lease)
        app.extensions["chat_push"] = Listener(state)
    app.extensions["webchat_client"] = WebChatClient(
        app.config["RASA_URL"], app.config["SECRET_KEY"], app.config["RASA_TIMEOUT"]
    )
    app.register_blueprint(bp)
