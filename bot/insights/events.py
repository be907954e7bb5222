"""What Rasa's conversation events mean for the analytics tables, counted once each.

`record_events` takes events as Rasa's event broker publishes them (a JSON object:
`sender_id`, `event`, `timestamp` and the event's fields) in the order Rasa wrote
them, and updates the rows in the caller's transaction. Every event is keyed by
the sha256 of its canonical JSON in `insights_event_keys`, so an event delivered
twice (RabbitMQ redelivers what was not acknowledged; a source re-read after a
crash) changes nothing the second time. The caller commits, then acknowledges.

| event | what it records |
|---|---|
| `session_started`, `restart` | the sender's conversation ends (`closed`); the next event opens a new one |
| `user` | a turn: intent, confidence; the channel; the customer the channel vouches for (signed identity); a rating in feedback |
| `action` | `action_fallback`: a fallback turn (unless it answered with an article); `action_stop_flow`: the flow stopped |
| `bot` (by response name) | an answer or a completed flow (`ANSWERS`, `COMPLETIONS`), the help centre's article or "I don't know", a verification lock-out, a ticket opened |
| `active_loop` | a form started or ended (`insights_flows`) |
| `slot` | `verified_order`/`verified_ticket`: verified; `verification_failures`; `verified_contact`: the customer; `handoff_ticket`: handed off, why, and the ticket |
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.identity import verify_identity
from bot.insights import contacts
from bot.insights.schema import (
    InsightConversation,
    InsightEventKey,
    InsightFlow,
    InsightTurn,
)
from bot.models import Ticket, utcnow

logger = logging.getLogger(__name__)

Event = Mapping[str, Any]
Row = TypeVar("Row", InsightTurn, InsightFlow)

# Rasa's input channel names, as our tickets name channels.
CHANNELS = {"webchat": "web", "sms": "sms", "voice": "voice", "rest": "rest"}
# Intents that are chat, yes/no or a bare answer, not a request of their own.
NOT_A_REQUEST = frozenset({
    "affirm", "deny", "inform", "greet", "goodbye", "thank", "bot_challenge",
    "nlu_fallback",
})  # fmt: skip
# Responses that complete the flow under way (its request is then resolved).
COMPLETIONS = frozenset({
    "utter_order_status", "utter_order_cancelled", "utter_order_kept",
    "utter_cancel_ticket_created", "utter_change_ticket_created",
    "utter_refund_ticket_created", "utter_refund_status", "utter_ticket_created",
    "utter_ticket_status", "utter_registration_link_mailed",
})  # fmt: skip
# Responses that answer the request of the latest message by themselves.
ANSWERS = frozenset({
    "utter_faq_answer", "utter_registration_link_sent", "utter_thanks_for_feedback",
    "utter_reset_password", "utter_account_problem", "utter_update_account",
    "utter_delete_account",
})  # fmt: skip
KB_ANSWER = "utter_faq_answer"
KB_UNKNOWN = "utter_faq_unknown"
VERIFICATION_LOCKED = "utter_verification_locked"
FALLBACK_ACTION = "action_fallback"
STOP_ACTION = "action_stop_flow"
# Rasa's own bookkeeping, which says nothing about the conversation.
IGNORED_ACTIONS = frozenset({"action_session_start", "action_listen"})
VERIFIED_SLOTS = ("verified_order", "verified_ticket")
FEEDBACK_INTENT = "give_feedback"
KB_INTENT = "faq"

# Why a conversation was handed to a person (insights_conversations.handoff_reason).
ASKED = "asked"  # the customer asked for a person
ACCEPTED_OFFER = "accepted_offer"  # said yes when the assistant offered one
MISUNDERSTOOD = "misunderstood"  # two fallbacks in a row
VERIFICATION = "verification"  # failed verification too often
OTHER = "other"
HANDOFF_REASONS = (ASKED, ACCEPTED_OFFER, MISUNDERSTOOD, VERIFICATION, OTHER)

MAX_QUESTION = 500
_IN_CHUNK = 500  # keys per IN (...) query

_RATING = re.compile(
    r"\b(10|[0-9])\s*(?:/|out of|of)\s*(5|10)\b|\b([1-5])\s*stars?\b", re.IGNORECASE
)


def event_key(event: Event) -> str:
    """The sha256 of an event's canonical JSON: equal events get equal keys."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def rating_in(text: str) -> int | None:
    """A 1-5 rating written in feedback ("4/5", "8 out of 10", "5 stars"), or None."""
    match = _RATING.search(text)
    if match is None:
        return None
    if match[3]:
        return int(match[3])
    score, scale = int(match[1]), int(match[2])
    if score > scale or score == 0:
        return None
    return max(1, round(score * 5 / scale))


@dataclass(frozen=True)
class Context:
    """What interpreting events needs besides the database."""

    secret: str  # checks the identities channels sign (bot/identity.py)
    timezone: ZoneInfo  # the shop's days


def record_events(session: Session, events: Iterable[Event], context: Context) -> int:
    """Count every event not counted before; return how many were new.

    Runs in the caller's transaction: commit, then acknowledge the events.
    """
    batch = list(events)
    keys = [event_key(event) for event in batch]
    seen: set[str] = set()
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = set(keys[start : start + _IN_CHUNK])
        seen.update(
            session.scalars(
                select(InsightEventKey.key).where(InsightEventKey.key.in_(chunk))
            )
        )
    recorder = _Recorder(session, context)
    recorder.prefetch(
        {e["sender_id"][:255] for e in batch if isinstance(e.get("sender_id"), str)}
    )
    new = 0
    # Changes are flushed when ids are needed and at the end, not before each query:
    # a conversation's row is then written once per batch, not once per event.
    with session.no_autoflush:
        for event, key in zip(batch, keys, strict=True):
            if key in seen:
                continue
            seen.add(key)
            session.add(InsightEventKey(key=key, received_at=utcnow()))
            try:
                recorder.apply(event)
            except (TypeError, ValueError, AttributeError):
                logger.exception("event not understood, skipped: %.200r", event)
            new += 1
    session.flush()
    return new


def _moment(event: Event) -> dt.datetime:
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float) and math.isfinite(stamp):
        return dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
    return utcnow()


def _text(value: Any, limit: int = 64) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


@dataclass
class _Recorder:
    """Applies events one by one; caches each sender's open conversation."""

    session: Session
    context: Context
    _open: dict[str, InsightConversation | None] = field(default_factory=dict)
    _turns: dict[int, InsightTurn | None] = field(default_factory=dict)
    _flows: dict[int, InsightFlow | None] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        sender, kind = event.get("sender_id"), event.get("event")
        if not isinstance(sender, str) or not sender or not isinstance(kind, str):
            logger.warning("event without sender or type, skipped: %.200r", event)
            return
        sender, at = sender[:255], _moment(event)
        if kind in {"session_started", "restart"}:
            self._close(sender, at)
            return
        if kind == "action" and event.get("name") in IGNORED_ACTIONS:
            return
        conversation = self._conversation(sender, at)
        conversation.last_event_at = max(conversation.last_event_at, at)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(conversation, event, at)

    # --- conversations ---------------------------------------------------------

    def prefetch(self, senders: set[str]) -> None:
        """Load the open conversations of a batch's senders in a few queries."""
        wanted = sorted(senders - set(self._open))
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            self._open.update(dict.fromkeys(chunk))
            for row in self.session.scalars(
                select(InsightConversation)
                .where(
                    InsightConversation.conversation_id.in_(chunk),
                    InsightConversation.closed.is_(False),
                )
                .order_by(InsightConversation.id)
            ):
                self._open[row.conversation_id] = row

    def _current(self, sender: str) -> InsightConversation | None:
        if sender not in self._open:
            self.prefetch({sender})
        return self._open[sender]

    def _conversation(self, sender: str, at: dt.datetime) -> InsightConversation:
        found = self._current(sender)
        if found is not None:
            return found
        found = InsightConversation(
            conversation_id=sender,
            started_at=at,
            day=at.astimezone(self.context.timezone).date(),
            last_event_at=at,
            closed=False,
            contact_key=f"sender:{sender}"[:300],
            messages=0,
            intents="",
            flows_started=0,
            flows_completed=0,
            verified=False,
            verifications=0,
            verification_failures=0,
            verification_locked=False,
            fallbacks=0,
            answers=0,
            kb_answered=0,
            kb_unanswered=0,
            handed_off=False,
            repeat_contact=False,
            contacted_again=False,
        )
        self.session.add(found)
        self.session.flush()
        self._open[sender] = found
        self._turns[found.id] = self._flows[found.id] = None  # none yet
        contacts.link(self.session, found, opened=True)
        return found

    def _close(self, sender: str, at: dt.datetime) -> None:
        conversation = self._current(sender)
        if conversation is None:
            return
        if conversation.messages == 0 and not conversation.handed_off:
            # Nothing happened in it: the new session starts here instead.
            conversation.started_at = at
            conversation.day = at.astimezone(self.context.timezone).date()
            conversation.last_event_at = at
            return
        conversation.closed = True
        self._open[sender] = None

    def _turn(self, conversation: InsightConversation) -> InsightTurn | None:
        """The conversation's latest customer message."""
        if conversation.id not in self._turns:
            self._turns[conversation.id] = self._latest(
                InsightTurn, conversation, InsightTurn.number
            )
        return self._turns[conversation.id]

    def _flow(self, conversation: InsightConversation) -> InsightFlow | None:
        """The conversation's latest flow."""
        if conversation.id not in self._flows:
            self._flows[conversation.id] = self._latest(
                InsightFlow, conversation, InsightFlow.id
            )
        return self._flows[conversation.id]

    def _latest(
        self, model: type[Row], conversation: InsightConversation, order: Any
    ) -> Row | None:
        return self.session.scalars(
            select(model)
            .where(model.conversation_row_id == conversation.id)  # type: ignore[attr-defined]
            .order_by(order.desc())
            .limit(1)
        ).first()

    def _flow_of_this_turn(
        self, conversation: InsightConversation
    ) -> InsightFlow | None:
        """The flow under way, or the one that ended during the current message."""
        flow = self._flow(conversation)
        if flow is None:
            return None
        if flow.ended_at is None or flow.ended_turn == conversation.messages:
            return flow
        return None

    # --- events ----------------------------------------------------------------

    def _on_user(
        self, conversation: InsightConversation, event: Event, at: dt.datetime
    ) -> None:
        previous = self._turn(conversation)
        if previous is not None and previous.kb_found is not False:
            previous.kb_question = None  # kept only when no article was found
        intent = (event.get("parse_data") or {}).get("intent") or {}
        name = _text(intent.get("name")) if isinstance(intent, dict) else None
        confidence = intent.get("confidence") if isinstance(intent, dict) else None
        if not isinstance(confidence, int | float) or not math.isfinite(confidence):
            confidence = None
        raw = event.get("text")
        text = raw if isinstance(raw, str) else ""
        conversation.messages += 1
        turn = InsightTurn(
            conversation_row_id=conversation.id,
            number=conversation.messages,
            at=at,
            intent=name,
            confidence=confidence,
            fallback=False,
            resolved=False,
            kb_question=text.strip()[:MAX_QUESTION] or None
            if name == KB_INTENT
            else None,
            rating=rating_in(text) if name == FEEDBACK_INTENT else None,
        )
        self.session.add(turn)
        self.session.flush()
        self._turns[conversation.id] = turn
        channel = event.get("input_channel")
        if conversation.channel is None and isinstance(channel, str) and channel:
            conversation.channel = CHANNELS.get(channel, channel[:32])
        if name:
            seen = conversation.intents.split()
            if name not in seen:
                conversation.intents = " ".join([*seen, name])
            conversation.last_intent = name
            if conversation.first_intent is None and name not in NOT_A_REQUEST:
                conversation.first_intent = name
        sender = conversation.conversation_id
        identity = verify_identity(
            event.get("metadata"), self.context.secret, sender, now=at.timestamp()
        )
        if identity is not None:
            contacts.identify(
                self.session, conversation, identity.customer_id, identity.phone
            )

    def _on_action(
        self, conversation: InsightConversation, event: Event, at: dt.datetime
    ) -> None:
        name = _text(event.get("name"))
        conversation.last_action = name
        if name == FALLBACK_ACTION:
            conversation.fallbacks += 1
            turn = self._turn(conversation)
            if turn is not None:
                turn.fallback = True
        elif name == STOP_ACTION:
            flow = self._flow_of_this_turn(conversation)
            if flow is not None:
                flow.stopped = True

    def _on_bot(
        self, conversation: InsightConversation, event: Event, at: dt.datetime
    ) -> None:
        metadata = event.get("metadata") or {}
        if not isinstance(metadata, dict):
            return
        response = metadata.get("utter_action")
        turn = self._turn(conversation)
        if response == VERIFICATION_LOCKED:
            conversation.verification_locked = True
        elif response == KB_UNKNOWN:
            conversation.kb_unanswered += 1
            if turn is not None:
                turn.kb_found = False
        elif response in COMPLETIONS:
            conversation.answers += 1
            flow = self._flow_of_this_turn(conversation)
            if flow is not None and not flow.completed:
                flow.completed = True
                conversation.flows_completed += 1
                self._resolve(flow.turn_id)
            elif turn is not None:
                turn.resolved = True
        elif response in ANSWERS:
            conversation.answers += 1
            if turn is not None:
                turn.resolved = True
                if response == KB_ANSWER:
                    turn.kb_found, turn.kb_question = True, None
                    turn.kb_article = _text(metadata.get("title"), 200)
            if response == KB_ANSWER:
                conversation.kb_answered += 1
                if turn is not None and turn.fallback:
                    # The fallback answered from the help centre (actions/handoff.py):
                    # the customer was not asked to say it another way.
                    turn.fallback = False
                    conversation.fallbacks -= 1
        reference = _text(metadata.get("reference"), 16)
        if reference and not conversation.handed_off:
            conversation.ticket_reference = reference

    def _on_active_loop(
        self, conversation: InsightConversation, event: Event, at: dt.datetime
    ) -> None:
        name = _text(event.get("name"))
        flow = self._flow(conversation)
        if flow is not None and flow.ended_at is None:
            if name == flow.flow:
                return  # the same form again: still the same run
            flow.ended_at, flow.ended_turn = at, conversation.messages
        conversation.active_flow = name
        if name is None:
            return
        turn = self._turn(conversation)
        request = turn.intent if turn is not None else None
        flow = InsightFlow(
            conversation_row_id=conversation.id,
            turn_id=turn.id if turn is not None else None,
            flow=name,
            request=request if request not in NOT_A_REQUEST else None,
            started_at=at,
            verified=False,
            completed=False,
            stopped=False,
            handed_off=False,
        )
        self.session.add(flow)
        self.session.flush()
        self._flows[conversation.id] = flow
        conversation.flows_started += 1

    def _on_slot(
        self, conversation: InsightConversation, event: Event, at: dt.datetime
    ) -> None:
        name, value = event.get("name"), event.get("value")
        if name in VERIFIED_SLOTS and value:
            conversation.verified = True
            conversation.verifications += 1
            flow = self._flow_of_this_turn(conversation)
            if flow is not None:
                flow.verified = True
        elif name == "verification_failures" and isinstance(value, int | float):
            if math.isfinite(value):
                conversation.verification_failures = max(
                    conversation.verification_failures, int(value)
                )
        elif name == "verified_contact" and isinstance(value, str) and value:
            contacts.identify_by_contact(self.session, conversation, value)
        elif name == "handoff_ticket" and isinstance(value, str) and value:
            self._hand_off(conversation, value[:16], at)

    def _hand_off(
        self, conversation: InsightConversation, reference: str, at: dt.datetime
    ) -> None:
        conversation.ticket_reference = reference
        flow = self._flow_of_this_turn(conversation)
        if flow is not None:
            flow.handed_off = True
            if flow.ended_at is None:
                flow.ended_at, flow.ended_turn = at, conversation.messages
        conversation.active_flow = None
        if conversation.handed_off:
            return
        conversation.handed_off = True
        conversation.handed_off_at = at
        conversation.handoff_reason = _reason(conversation)
        if conversation.customer_id is None:
            customer_id = self.session.scalar(
                select(Ticket.customer_id).where(Ticket.reference == reference)
            )
            if customer_id is not None:
                contacts.identify(self.session, conversation, customer_id, None)
        contacts.person_involved(self.session, conversation, at)

    def _resolve(self, turn_id: int | None) -> None:
        if turn_id is None:
            return
        turn = self.session.get(InsightTurn, turn_id)
        if turn is not None:
            turn.resolved = True


def _reason(conversation: InsightConversation) -> str:
    """Why the assistant handed off, from what happened just before."""
    if conversation.last_action == FALLBACK_ACTION:
        return MISUNDERSTOOD
    if conversation.verification_locked:
        return VERIFICATION
    if conversation.last_intent == "request_human":
        return ASKED
    if conversation.last_intent == "affirm":
        return ACCEPTED_OFFER
    return OTHER
