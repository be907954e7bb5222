"""The phone IVR's Sanic input channel: POST /webhooks/voice/webhook and /status.

Each webhook is checked (signature, Twilio's field formats, replays), its call's
state loaded (`channels.voice.state`), the caller's input decided on
(`channels.voice.ivr`) and answered with TwiML (`channels.voice.twiml`), within
`VOICE_RESPONSE_TIMEOUT` seconds: a slow assistant turn keeps running
(`channels.turns`) and is spoken at the call's next webhook.

Consecutive failures are counted in the (signed) URLs of the error prompt; after
`MAX_ERRORS` the caller is told to call back later and the call ends.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from bot.clock import Clock, now
from bot.identity import ChannelIdentity
from bot.services import messaging
from bot.services.contact import try_normalise_phone
from bot.services.hours import OpeningHours
from bot.settings import Settings, check_voice
from channels.common import (
    OnNewMessage,
    Transactions,
    checked_params,
    run_through_rasa,
)
from channels.turns import Replies, SlowTurns, TurnTooSlow
from channels.twilio_checks import call_refusal, signature_id
from channels.voice import state as store
from channels.voice.handoff import CallHandoff
from channels.voice.ivr import (
    CHANNEL,
    MAX_ERRORS,
    REQUEST_HUMAN,
    Call,
    Decision,
    HangUp,
    Prompt,
    attested,
    back_from_queue_prompt,
    call_is_over,
    greeting_state,
    interpret,
    on_silence,
    repeat,
    trusts_caller,
)
from channels.voice.prompts import (
    DELAY,
    DIDNT_CATCH,
    ERROR,
    GOODBYE,
    STILL_WAITING,
    outage_message,
)
from channels.voice.replies import (
    HANGUP,
    TRANSFER,
    control_of,
    conversation_state,
    voice_reply,
    with_control,
)
from channels.voice.speech import clean_digits, is_ascii_digits, spoken_key
from channels.voice.state import CallState, GatherKind, PendingTurn, Phase, TurnStatus
from channels.voice.twiml import (
    AgentRoute,
    CallUrls,
    build_delay_response,
    build_error_response,
    build_greeting_response,
    build_hangup_response,
    build_prompt_response,
    build_reply_response,
    errors_in,
)

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/voice/webhook"
STATUS_PATH = "/webhooks/voice/status"
MAX_WAITS = 3  # webhooks spent waiting for one slow turn before apologising
STALE_TURN_SECONDS = 60.0  # a turn "running" longer than this is taken as lost
POLL_SECONDS = 0.05
FINAL_CALL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
LEFT_QUEUE = "leave"  # Enqueue's QueueResult after <Leave>


def _load(
    session: Session, call_sid: str, delivery_id: str
) -> tuple[CallState | None, PendingTurn | None, bool]:
    """The call's state, its pending turn, and whether this is a first delivery.

    `delivery_id` comes from the request's signature (`signature_id`), never from
    an unsigned header a replayer could change.
    """
    state, pending = store.load_call(session, call_sid)
    first = messaging.first_delivery(session, delivery_id)
    return state, pending, first


class VoiceInput(InputChannel):
    """Customers calling the shop's Twilio number."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(Settings.from_env())

    def __init__(self, settings: Settings, clock: Clock = now) -> None:
        self.settings = check_voice(settings)
        # A ValueError at start, like the settings' own checks.
        hours = OpeningHours.from_settings(settings)
        self.urls = CallUrls(f"{settings.public_base_url}{WEBHOOK_PATH}")
        self.outage = outage_message(
            try_normalise_phone(
                settings.twilio_phone_number, settings.default_phone_region
            )
        )
        agent_phone = try_normalise_phone(
            settings.agent_phone_number, settings.default_phone_region
        )
        # A phone number wins over a queue when both are configured.
        self.route = AgentRoute(
            phone=agent_phone, queue=None if agent_phone else settings.agent_queue_name
        )
        self._db = Transactions(settings.database_url)
        # `clock`: tests set the time of day.
        self.handoff = CallHandoff(self.route, hours, clock, self._db)
        # Assistant turns, each found again by its call's CallSid.
        self.turns = SlowTurns(settings.voice_response_timeout)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        voice = Blueprint("voice_webhook", __name__)

        @voice.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @voice.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            params = checked_params(
                self.settings, request, call_refusal, "voice webhook"
            )
            if isinstance(params, HTTPResponse):
                return params
            twiml = await self._answer_safely(on_new_message, request, params)
            return response.text(str(twiml), content_type="text/xml")

        @voice.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            params = checked_params(
                self.settings, request, call_refusal, "voice status callback"
            )
            if isinstance(params, HTTPResponse):
                return params
            await self._record_status(params, signature_id(request))
            return response.empty(status=204)

        return voice

    # --- one webhook ----------------------------------------------------------------

    def _call(
        self, params: dict[str, str], state: CallState | None, errors: int
    ) -> Call:
        return Call(
            sid=params["CallSid"],
            caller=try_normalise_phone(
                params.get("From"), self.settings.default_phone_region
            ),
            digits=clean_digits(params.get("Digits", "")),
            speech=params.get("SpeechResult", "").strip(),
            caller_verified=trusts_caller(
                self.settings.voice_trust_caller_id, attested(params), state
            ),
            errors=errors,
        )

    def _urls(self, call: Call) -> CallUrls:
        """The call's URLs, still counting the failures in a row."""
        return self._fresh_urls(call.errors)

    def _fresh_urls(self, errors: int = 0) -> CallUrls:
        """URLs for one TwiML answer, with a step token no other answer has."""
        return self.urls.with_errors(errors).with_step(secrets.token_hex(8))

    async def _answer_safely(
        self, on_new_message: OnNewMessage, request: Request, params: dict[str, str]
    ) -> VoiceResponse:
        """The webhook's TwiML; whatever fails, the caller hears an apology."""
        try:
            return await self._answer(on_new_message, request, params)
        except Exception:
            logger.exception("voice webhook failed for call %s", params.get("CallSid"))
            return self._error_response(errors_in(request.args) + 1)

    def _error_response(self, errors: int) -> VoiceResponse:
        """The apology for a failure, `errors` in a row; hang up after MAX_ERRORS."""
        if errors >= MAX_ERRORS:
            return build_hangup_response((self.outage,))
        return build_error_response(self._fresh_urls(errors))

    async def _answer(
        self, on_new_message: OnNewMessage, request: Request, params: dict[str, str]
    ) -> VoiceResponse:
        sid = params["CallSid"]
        delivery = signature_id(request)
        state, pending, first = await self._db(lambda s: _load(s, sid, delivery))
        if state is not None and call_is_over(state, time.time()):
            logger.info("webhook for call %s after it ended: hanging up", sid)
            return build_hangup_response(())
        call = self._call(params, state, errors_in(request.args))
        if request.args.get("queue") in ("wait", "input"):  # waiting for agents
            answered = first and request.args.get("queue") == "input"
            return await self.handoff.in_queue(call, self._fresh_urls(), answered)
        if not first:  # Twilio's retry or a replay: ask again, change nothing
            logger.info("repeated webhook for call %s", sid)
            return self._ask_again(call, state) if state else build_hangup_response(())
        if request.args.get("after") == "transfer":
            if params.get("QueueResult") == LEFT_QUEUE:  # back to the assistant
                return await self._apply(
                    on_new_message, request, call, back_from_queue_prompt()
                )
            return await self.handoff.after_transfer(call, params)
        if state is None:
            greeting = greeting_state().evolve(caller_attested=attested(params))
            await self._db(lambda s: store.save_state(s, call.sid, greeting))
            return build_greeting_response(self._fresh_urls())
        if pending is not None:
            return await self._continue_turn(call, state, pending)
        if request.args.get("wait"):
            return self._ask_again(call, state)  # the turn it waited for is over
        if call.silent or request.args.get("noinput"):
            return await self._apply(on_new_message, request, call, on_silence(state))
        state = state.evolve(silences=0)
        choice = await self._db(lambda s: self._choice(s, call))
        decision = interpret(state, call, choice, self.settings.default_phone_region)
        return await self._apply(on_new_message, request, call, decision)

    def _ask_again(self, call: Call, state: CallState) -> VoiceResponse:
        prompt = repeat(state)
        return build_prompt_response(prompt.speech, prompt.gather, self._urls(call))

    def _choice(self, session: Session, call: Call) -> str | None:
        """The payload of the numbered choice the caller picked, if any."""
        key = call.digits or spoken_key(call.speech)
        if not key or not is_ascii_digits(key):
            return None
        payload = messaging.resolve_choice(session, call.conversation_id, key)
        return None if payload == key else payload

    async def _apply(
        self,
        on_new_message: OnNewMessage,
        request: Request,
        call: Call,
        decision: Decision,
    ) -> VoiceResponse:
        if isinstance(decision, HangUp):
            return build_hangup_response(decision.speech)
        if isinstance(decision, Prompt):
            await self._db(lambda s: store.save_state(s, call.sid, decision.state))
            return build_prompt_response(
                decision.speech, decision.gather, self._urls(call)
            )
        agent = getattr(request.app.ctx, "agent", None)
        return await self._converse(on_new_message, agent, call, decision.text)

    # --- assistant turns -------------------------------------------------------------

    async def _converse(
        self, on_new_message: OnNewMessage, agent: Any, call: Call, text: str
    ) -> VoiceResponse:
        """Run one turn, answering within the timeout; a slow turn is kept running."""
        turn = PendingTurn(
            turn_id=uuid.uuid4().hex, asked_for_agent=text == REQUEST_HUMAN
        )
        await self._db(lambda s: store.start_turn(s, call.sid, turn))
        task = self.turns.start(
            self._assistant(on_new_message, agent, call, text),
            late=lambda replies: self._store_late(call, turn, replies),
            key=call.sid,
        )
        try:
            replies = await self.turns.wait(task)
        except TurnTooSlow:  # from now on the turn stores its outcome
            await self._db(lambda s: self._save_waits(s, call.sid, 0))
            return build_delay_response(DELAY, self._urls(call))
        except Exception:
            await self._db(lambda s: store.clear_turn(s, call.sid))
            return await self._failed(call, turn.asked_for_agent)
        await self._db(lambda s: store.clear_turn(s, call.sid))
        return await self._speak(call, replies, turn.asked_for_agent)

    async def _store_late(
        self, call: Call, turn: PendingTurn, replies: Replies | None
    ) -> None:
        """Keep a slow turn's replies (None: it failed) for the call's next webhook."""
        late = PendingTurn(
            turn_id=turn.turn_id,
            status=TurnStatus.FAILED if replies is None else TurnStatus.DONE,
            started_at=turn.started_at,
            asked_for_agent=turn.asked_for_agent,
            replies=replies or [],
        )
        try:
            await self._db(lambda s: store.finish_turn(s, call.sid, late))
        except Exception:
            logger.exception("could not store the late replies of call %s", call.sid)

    async def _assistant(
        self, on_new_message: OnNewMessage, agent: Any, call: Call, text: str
    ) -> Replies:
        """The assistant's replies to `text`, with the call control they imply."""
        try:
            replies = await run_through_rasa(
                on_new_message,
                text,
                call.conversation_id,
                CHANNEL,
                ChannelIdentity(channel=CHANNEL, phone=call.vouched_phone),
                self.settings.secret_key,
            )
            if control_of(replies) is None and agent is not None:
                tracker = await agent.tracker_store.retrieve(call.conversation_id)
                replies = with_control(replies, list(tracker.events) if tracker else [])
        except Exception:
            logger.exception("assistant failed on call %s", call.sid)
            raise
        return replies

    async def _continue_turn(
        self, call: Call, state: CallState, pending: PendingTurn
    ) -> VoiceResponse:
        """A webhook while a slow turn runs (or has finished): wait, or speak it."""
        stale = time.time() - pending.started_at > STALE_TURN_SECONDS
        if call.digits == "0":  # the caller would rather talk to a person
            await self._db(lambda s: store.clear_turn(s, call.sid))
            return await self._hand_off(call)
        if pending.status is TurnStatus.RUNNING and not stale:
            finished = await self._await_turn(call.sid)
            if finished is None:
                return await self._still_waiting(call, state, pending)
            pending = finished
        await self._db(lambda s: store.clear_turn(s, call.sid))
        if pending.status is TurnStatus.DONE:
            return await self._speak(call, pending.replies, pending.asked_for_agent)
        return await self._failed(call, pending.asked_for_agent)

    async def _await_turn(self, call_sid: str) -> PendingTurn | None:
        """The turn once it has finished, or None if it is still running."""
        deadline = time.monotonic() + self.settings.voice_response_timeout
        task = self.turns.current(call_sid)
        if task is not None:  # running in this process
            await asyncio.wait({task}, timeout=self.settings.voice_response_timeout)
        while True:
            pending = await self._db(lambda s: store.load_pending(s, call_sid))
            if pending is None or pending.status is not TurnStatus.RUNNING:
                return pending
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(POLL_SECONDS)

    async def _still_waiting(
        self, call: Call, state: CallState, pending: PendingTurn
    ) -> VoiceResponse:
        waits = state.waits + 1
        if waits < MAX_WAITS:
            await self._db(lambda s: self._save_waits(s, call.sid, waits))
            return build_delay_response(STILL_WAITING, self._urls(call))
        logger.warning("call %s gave up waiting for the assistant", call.sid)
        await self._db(lambda s: store.clear_turn(s, call.sid))  # drop a late result
        return await self._failed(call, pending.asked_for_agent)

    @staticmethod
    def _save_waits(session: Session, call_sid: str, waits: int) -> None:
        state, _ = store.load_call(session, call_sid)
        store.save_state(session, call_sid, (state or CallState()).evolve(waits=waits))

    # --- answering with the assistant's replies -----------------------------------

    async def _speak(
        self, call: Call, replies: Replies, asked_for_agent: bool
    ) -> VoiceResponse:
        reply = voice_reply(replies)
        if reply.control == TRANSFER:
            return await self._hand_off(call, reply.speech)
        if asked_for_agent:  # the assistant couldn't hand off: the channel does
            return await self._hand_off(call)
        if reply.control == HANGUP:
            return build_hangup_response(reply.speech or (GOODBYE,))
        if not reply.speech and not reply.choice_titles:
            return await self._failed(call, asked_for_agent=False)
        state = conversation_state(reply)
        payloads = list(reply.choice_payloads)

        def remember(session: Session) -> None:
            messaging.remember_choices(session, call.conversation_id, payloads)
            store.save_state(session, call.sid, state)

        await self._db(remember)
        return build_reply_response(reply, self._fresh_urls())

    async def _failed(self, call: Call, asked_for_agent: bool) -> VoiceResponse:
        """The assistant failed: a person if that was the request, else an apology.

        The choices offered before no longer apply: "press 1" must not pick one.
        After MAX_ERRORS failures in a row the call ends instead.
        """
        if asked_for_agent:
            return await self._hand_off(call)
        errors = call.errors + 1
        if errors >= MAX_ERRORS:
            logger.warning(
                "call %s failed %d times in a row: hanging up", call.sid, errors
            )
            return self._error_response(errors)
        state = CallState(
            phase=Phase.CONVERSATION,
            gather=GatherKind.OPEN,
            prompt=ERROR,
            reprompt=f"{DIDNT_CATCH} {ERROR}",
        )

        def apologise(session: Session) -> None:
            messaging.remember_choices(session, call.conversation_id, [])
            store.save_state(session, call.sid, state)

        await self._db(apologise)
        return self._error_response(errors)

    async def _hand_off(self, call: Call, speech: Sequence[str] = ()) -> VoiceResponse:
        """Transfer the caller, or promise a call back (`CallHandoff`)."""
        return await self.handoff.hand_off(call, speech, self._fresh_urls())

    async def _record_status(self, params: dict[str, str], delivery_id: str) -> None:
        """Record a final CallStatus once; repeats of a status callback change nothing."""
        sid, status = params["CallSid"], params["CallStatus"]
        if status not in FINAL_CALL_STATUSES:
            return

        def record(session: Session) -> bool:
            if not messaging.first_delivery(session, delivery_id):
                return False
            store.end_call(session, sid, f"{CHANNEL}:{sid}", status)
            return True

        if not await self._db(record):
            return
        logger.info(
            "call %s ended: %s after %s s", sid, status, params.get("CallDuration", "?")
        )
        self.turns.forget(sid)  # a late turn finds no pending row and stores nothing
