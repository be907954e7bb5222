"""Twilio Messaging (SMS) input channel: POST /webhooks/sms/webhook.

Every request's X-Twilio-Signature is checked against the public URL, and the fields
used (AccountSid, MessageSid, From) against Twilio's exact formats; Twilio's retries
and replayed requests are recognised by MessageSid and by the signature itself;
STOP/START/HELP behave as carriers require (UPDATES asks for order updates by text); replies are plain text with buttons
turned into numbered choices. An answer slower than `TURN_TIMEOUT` is texted when
ready (`channels.turns`); database work runs off the event loop.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse

from bot.identity import ChannelIdentity
from bot.services import back_to_bot, consent, messaging
from bot.services.contact import try_normalise_phone
from bot.services.messaging import sms_conversation_id
from bot.settings import Settings, check_twilio
from bot.twilio_client import TwilioClient
from channels.common import (
    OnNewMessage,
    Transactions,
    button_payloads,
    button_titles,
    checked_params,
    plain_text,
    run_through_rasa,
)
from channels.turns import Replies, SlowTurns, TurnTooSlow
from channels.twilio_checks import signature_id, sms_refusal

logger = logging.getLogger(__name__)

# Long answers are split at sentence ends into parts of at most two SMS segments:
# 2 x 153 characters in GSM-7, 2 x 67 when any character needs UCS-2 ("’", "é").
SEGMENT_LIMIT = 306
UCS2_SEGMENT_LIMIT = 134
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")  # two characters each
TURN_TIMEOUT = 10.0  # Twilio waits 15 s for the webhook's answer
STOP_REPLY = (
    "You have been unsubscribed from Switchboard demo shop messages and will receive "
    "no further messages. Reply START to resubscribe."
)
START_REPLY = (
    "You have been resubscribed to Switchboard demo shop messages. Reply HELP for help."
)
HELP_REPLY = (
    'Switchboard demo shop support: text us your question, e.g. "where is my order". '
    "Call +1 415 555 0100 for a person. Reply STOP to unsubscribe."
)
UPDATES_REPLY = (
    "You'll get updates about your orders by text from Switchboard demo shop. "
    "Reply STOP to opt out."
)
UPDATES_UNKNOWN_REPLY = (
    "We couldn't find an account with this number, so we can't send you updates "
    "here yet. Reply STOP to opt out."
)
ERROR_REPLY = (
    "Sorry, something went wrong on our side. Please text again in a minute, or call "
    "+1 415 555 0100."
)
# What the agent sees when a held customer sends a picture or other media only.
NO_TEXT_PLACEHOLDER = "[a message without text: a picture or other media]"
NO_TEXT_REPLY = "Sorry, I can only read text. Please type your question."
SLOW_REPLY = (
    "Sorry, I'm taking longer than usual. I'll text you the answer in a moment."
)


def sms_limit(text: str) -> int:
    """Characters that fit in two segments, given the encoding `text` needs."""
    if all(c in GSM7 or c in GSM7_EXTENDED for c in text):
        return SEGMENT_LIMIT - sum(c in GSM7_EXTENDED for c in text)
    return UCS2_SEGMENT_LIMIT


def split_for_sms(text: str, limit: int | None = None) -> list[str]:
    """Split at paragraph, then sentence, then word boundaries into <= limit chunks."""
    limit = limit or sms_limit(text)
    chunks: list[str] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        current = ""
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            while len(sentence) > limit:  # a single very long sentence
                cut = sentence.rfind(" ", 0, limit)
                cut = cut if cut > 0 else limit
                if current:
                    chunks.append(current)
                    current = ""
                chunks.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            candidate = f"{current} {sentence}".strip() if current else sentence
            if len(candidate) <= limit:
                current = candidate
            else:
                chunks.append(current)
                current = sentence
        if current:
            chunks.append(current)
    return chunks


def sms_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The bot's messages as SMS bodies, buttons as "Reply 1 for ..."."""
    parts = [plain_text(m["text"]) for m in messages if m.get("text")]
    parts += [str(m["image"]) for m in messages if m.get("image")]
    titles = button_titles(messages)
    if titles:
        choices = "; ".join(
            f"{i} for {title}" for i, title in enumerate(titles, start=1)
        )
        parts.append(f"Reply {choices}.")
    bodies: list[str] = []
    for part in parts:
        bodies.extend(split_for_sms(part))
    return bodies


@dataclass(frozen=True)
class ForAssistant:
    """An inbound text for the assistant (a numbered choice already resolved)."""

    text: str


def _build_messaging_response(bodies: list[str]) -> str:
    twiml = MessagingResponse()
    for body in bodies:
        twiml.message(body)
    return str(twiml)


class SmsInput(InputChannel):
    """Customers texting the shop's Twilio number."""

    @classmethod
    def name(cls) -> str:
        return "sms"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(Settings.from_env())

    def __init__(self, settings: Settings) -> None:
        self.settings = check_twilio(settings)
        self._db = Transactions(settings.database_url)
        self.turns = SlowTurns(TURN_TIMEOUT)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        sms = Blueprint("sms_webhook", __name__)

        @sms.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sms.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            params = checked_params(self.settings, request, sms_refusal, "SMS webhook")
            if isinstance(params, HTTPResponse):
                return params
            sender = try_normalise_phone(
                params.get("From"), self.settings.default_phone_region
            )
            if sender is None:
                logger.warning("SMS webhook refused: invalid From")
                return response.text("From is not a phone number", status=400)
            try:
                bodies = await self._handle(
                    on_new_message,
                    sender,
                    params["MessageSid"],
                    params.get("Body", ""),
                    signature_id(request),
                )
            except OperationalError as exc:
                # Each unit of work rolled back whole; the customer texts again.
                logger.error(
                    "SMS from %s: the database is unreachable: %s", sender, exc
                )
                bodies = [ERROR_REPLY]
            return response.text(
                _build_messaging_response(bodies), content_type="text/xml"
            )

        return sms

    async def _handle(
        self,
        on_new_message: OnNewMessage,
        sender: str,
        sid: str,
        body: str,
        signature: str | None = None,
    ) -> list[str]:
        """Reply bodies for one inbound SMS (empty: reply nothing).

        `signature` is the request's `signature_id`: a replay is recognised by it
        even if it was changed in ways the signature does not see.
        """
        conversation = sms_conversation_id(sender, self.settings.secret_key)
        delivery_ids = [f"sms:{sid}", *([signature] if signature else [])]
        answer = await self._db(
            lambda s: self._before_assistant(
                s, sender, conversation, body, delivery_ids
            )
        )
        if isinstance(answer, list):
            return answer
        turn = self.turns.start(
            run_through_rasa(
                on_new_message,
                answer.text,
                conversation,
                self.name(),
                ChannelIdentity(channel="sms", phone=sender),
                self.settings.secret_key,
            ),
            late=lambda replies: self._send_later(replies, sender, conversation),
        )
        try:
            replies = await self.turns.wait(turn)
        except TurnTooSlow:
            # Twilio would give up on us: answer now, text the real reply later.
            return [SLOW_REPLY]
        except Exception:
            # The message is in the tracker store; the customer is told to retry.
            logger.exception("assistant failed on an SMS from %s", conversation)
            return [ERROR_REPLY]
        return await self._db(lambda s: self._finish(s, replies, sender, conversation))

    @staticmethod
    def _before_assistant(
        session: Session,
        sender: str,
        conversation: str,
        body: str,
        delivery_ids: list[str],
    ) -> list[str] | ForAssistant:
        """The answer without the assistant, or the text to give it.

        Repeats, carrier keywords (STOP, HELP, START), opted-out senders and held
        conversations (and asking to leave the person for the assistant) are
        answered here, in one transaction.
        """
        if not messaging.first_delivery(session, *delivery_ids):
            return []  # Twilio's retry, or a replay, of a message we handled
        carrier_keyword = messaging.keyword(body)
        opted_out = messaging.is_opted_out(session, sender)
        if carrier_keyword == "stop":
            messaging.opt_out(session, sender)
            return [STOP_REPLY]
        if carrier_keyword == "help":  # carriers require HELP to be answered
            return [HELP_REPLY]
        if carrier_keyword == "start" and opted_out:
            messaging.opt_in(session, sender)
            return [START_REPLY]
        if opted_out:
            return []  # no messages until START
        if consent.is_updates_keyword(body):
            known = consent.opt_in_by_text(session, sender)
            return [UPDATES_REPLY if known else UPDATES_UNKNOWN_REPLY]
        # A person has the conversation: the text is theirs, the bot stays
        # silent, unless it asks for the assistant back. In this transaction, so a
        # Twilio retry doesn't store it twice.
        routed = back_to_bot.route_customer_message(
            session, conversation, body.strip() or NO_TEXT_PLACEHOLDER
        )
        if isinstance(routed, back_to_bot.Returned):
            return sms_texts([{"text": routed.notice}])
        if routed is not None:
            return []
        if not body.strip():
            return [NO_TEXT_REPLY]
        return ForAssistant(messaging.resolve_choice(session, conversation, body))

    @staticmethod
    def _finish(
        session: Session, replies: Replies, sender: str, conversation: str
    ) -> list[str]:
        """The replies as SMS bodies, their choices remembered (none after STOP)."""
        if messaging.is_opted_out(session, sender):
            return []  # STOP arrived while the assistant was thinking
        messaging.remember_choices(session, conversation, button_payloads(replies))
        return sms_texts(replies)

    async def _send_later(
        self, replies: Replies | None, sender: str, conversation: str
    ) -> None:
        """Deliver a slow turn's replies (None: it failed) through Twilio's REST API."""
        if replies is None:
            return
        client = TwilioClient.from_settings(self.settings)
        try:
            bodies = await self._db(
                lambda s: self._finish(s, replies, sender, conversation)
            )

            def send(session: Session) -> None:
                for body in bodies:
                    messaging.send_text(session, client, sender, body)

            await self._db(send)
        except Exception:
            logger.exception("could not text a late reply to %s", conversation)
