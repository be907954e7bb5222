"""Rasa's events as its event broker publishes them, and conversations made of them.

`Script` writes one sender's conversation event by event, one second apart by
default, in the shapes Rasa 3.6 gives them (`Event.as_dict()` plus `sender_id`);
its journeys are the flows of data/rules.yml as Rasa runs them. The insights
tests use it, and so does the benchmark below.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.identity import ChannelIdentity, sign_identity


@dataclass
class Script:
    """One sender's events, in order."""

    sender: str
    at: dt.datetime
    channel: str = "rest"
    step: dt.timedelta = dt.timedelta(seconds=1)
    events: list[dict[str, Any]] = field(default_factory=list)
    secret: str = ""  # signs the identities `signed_user` vouches for

    def _add(self, kind: str, **fields: Any) -> Script:
        self.at += self.step
        self.events.append(
            {
                "sender_id": self.sender,
                "event": kind,
                "timestamp": self.at.timestamp(),
                **fields,
            }
        )
        return self

    def wait(self, **delta: float) -> Script:
        self.at += dt.timedelta(**delta)
        return self

    def session(self) -> Script:
        self.action("action_session_start")
        self._add("session_started", metadata={})
        return self.action("action_listen")

    def user(
        self,
        text: str,
        intent: str,
        confidence: float = 0.97,
        metadata: dict[str, Any] | None = None,
    ) -> Script:
        return self._add(
            "user",
            text=text,
            parse_data={
                "intent": {"name": intent, "confidence": confidence},
                "entities": [],
                "text": text,
                "message_id": f"m{len(self.events)}",
                "metadata": metadata or {},
            },
            input_channel=self.channel,
            message_id=f"m{len(self.events)}",
            metadata=metadata or {},
        )

    def signed_user(
        self,
        text: str,
        intent: str,
        *,
        phone: str | None = None,
        customer_id: int | None = None,
        secret: str | None = None,
    ) -> Script:
        """A message whose channel vouches for the customer (bot/identity.py)."""
        metadata = sign_identity(
            ChannelIdentity(self.channel, phone=phone, customer_id=customer_id),
            self.secret if secret is None else secret,
            self.sender,
            issued_at=(self.at + self.step).timestamp(),
        )
        return self.user(text, intent, metadata=metadata)

    def action(self, name: str) -> Script:
        return self._add(
            "action",
            name=name,
            policy="RulePolicy",
            confidence=1.0,
            action_text=None,
            hide_rule_turn=False,
            metadata={},
        )

    def bot(self, response: str, text: str = "...", **metadata: Any) -> Script:
        return self._add(
            "bot",
            text=text,
            data={"buttons": None},
            metadata={"utter_action": response, **metadata},
        )

    def slot(self, name: str, value: Any) -> Script:
        return self._add("slot", name=name, value=value, metadata={})

    def loop(self, name: str | None) -> Script:
        return self._add("active_loop", name=name, metadata={})

    def listen(self) -> Script:
        return self.action("action_listen")

    # --- journeys ---------------------------------------------------------------

    def order_status(
        self, email: str = "jane.doe@example.com", ok: bool = True
    ) -> Script:
        """Asks where order 104257 is, then gives the email: status told (or not)."""
        self.user("where is my order 104257", "check_order_status")
        self.action("order_form").loop("order_form").slot("requested_slot", "email")
        self.bot("utter_ask_email").listen()
        self.user(email, "inform").action("order_form")
        if not ok:
            self.bot("utter_order_number_not_verified")
            self.slot("verification_failures", 1.0).slot("order_number", None)
            return self.slot("requested_slot", "order_number").listen()
        self.slot("verified_order", "104257").slot("verified_contact", email)
        self.loop(None).slot("requested_slot", None)
        self.action("action_submit_order_form")
        return self.bot("utter_order_status").slot("verified_order", None).listen()

    def faq(
        self, question: str, found: bool = True, title: str = "Returns and refunds"
    ) -> Script:
        self.user(question, "faq").action("action_answer_faq")
        if found:
            self.bot("utter_faq_answer", title=title)
        else:
            self.bot("utter_faq_unknown")
        return self.listen()

    def ask_for_person(self, reference: str = "T-7K4M9Q") -> Script:
        self.user("can I talk to a human", "request_human").action("action_handoff")
        self.bot("utter_handoff", reference=reference)
        return self.slot("handoff_ticket", reference).listen()

    def fallback(self, reference: str = "T-FALL01", second: bool = False) -> Script:
        self.user("blorp zzz", "nlu_fallback", confidence=0.3)
        self.action("action_fallback")
        if second:
            self.bot("utter_handoff", reference=reference)
            return self.slot("handoff_ticket", reference).listen()
        return self.bot("utter_please_rephrase").listen()

    def start_registration(self) -> Script:
        """Asks to create an account, and answers nothing after the first question."""
        self.user("I want to create an account", "register_account")
        self.action("registration_form").loop("registration_form")
        self.slot("requested_slot", "name").bot("utter_ask_name")
        return self.listen()

    def report_problem(self, reference: str) -> Script:
        """Reports a broken item, describes it: a problem ticket is opened."""
        self.user("my lamp arrived broken", "report_problem").action("problem_form")
        self.loop("problem_form").bot("utter_ask_problem_description").listen()
        self.user("the shade is cracked", "inform").action("problem_form")
        self.loop(None).action("action_submit_problem_form")
        return self.bot("utter_ticket_created", reference=reference).listen()

    def feedback(self, text: str) -> Script:
        self.user(text, "give_feedback").action("action_record_feedback")
        return self.bot("utter_thanks_for_feedback").listen()

    def cancel_then_person(self, reference: str) -> Script:
        """Starts a cancellation, then asks for a person instead of answering."""
        self.user("cancel order 104257", "cancel_order").action("order_form")
        self.loop("order_form").bot("utter_ask_email").listen()
        self.user("I want a person", "request_human").action("action_deactivate_loop")
        self.loop(None).action("action_handoff")
        self.bot("utter_handoff", reference=reference)
        return self.slot("handoff_ticket", reference).listen()


# --- a day's traffic ------------------------------------------------------------------

CHANNEL_NAMES = ("webchat", "sms", "voice", "rest")
CHANNEL_WEIGHTS = (50, 30, 15, 5)
QUESTIONS = (
    ("how long do I have to return something?", "Returns and refunds"),
    ("do you ship to Canada?", "Shipping"),
    ("which cards do you take?", "Payment methods"),
    ("is there a warranty on lamps?", "Warranty"),
)
UNANSWERED = (
    "do you sell gift cards?", "can I pay in bitcoin?", "do you have a shop in Boston?",
    "are your candles vegan?", "do you price match?",
)  # fmt: skip
FEEDBACK = (
    "great service, 5 stars", "quick and easy 4/5", "meh 3/5", "slow delivery 2/5",
    "the courier was rude", "thanks, very helpful",
)  # fmt: skip


@dataclass(frozen=True)
class Contact:
    """Who a generated conversation is with (email for verification, maybe phone)."""

    email: str
    phone: str | None = None


def _reference(rng: random.Random) -> str:
    return "T-" + "".join(
        rng.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6)
    )


def conversation(
    rng: random.Random, sender: str, at: dt.datetime, contact: Contact, secret: str
) -> Script:
    """One conversation of a realistic mix (about 10 events on average)."""
    channel = rng.choices(CHANNEL_NAMES, CHANNEL_WEIGHTS)[0]
    script = Script(sender, at=at, channel=channel, secret=secret).session()
    if channel in ("sms", "voice") and contact.phone:
        script.signed_user("hi", "greet", phone=contact.phone).bot("utter_greet")
    roll = rng.random()
    if roll < 0.25:
        script.order_status(contact.email)
    elif roll < 0.30:
        script.order_status(contact.email, ok=False)
    elif roll < 0.50:
        question, title = rng.choice(QUESTIONS)
        script.faq(question, title=title)
    elif roll < 0.58:
        script.faq(rng.choice(UNANSWERED), found=False)
    elif roll < 0.67:
        script.ask_for_person(_reference(rng))
    elif roll < 0.71:
        script.fallback().fallback(_reference(rng), second=True)
    elif roll < 0.76:
        script.start_registration()
    elif roll < 0.83:
        script.report_problem(_reference(rng))
    elif roll < 0.89:
        script.user("hello", "greet").bot("utter_greet").listen()
    elif roll < 0.94:
        script.feedback(rng.choice(FEEDBACK))
    else:
        script.cancel_then_person(_reference(rng))
    return script


def traffic(
    count: int,
    start: dt.datetime,
    days: int,
    contacts: Sequence[Contact],
    secret: str,
    seed: int = 7,
) -> Iterator[list[dict[str, Any]]]:
    """`count` conversations spread over `days` days from `start`, in time order.

    A few contacts come back often (a Pareto-like choice), so there are repeat
    contacts and red flags. Yields each conversation's events.
    """
    rng = random.Random(seed)
    span = dt.timedelta(days=days).total_seconds()
    moments = sorted(rng.random() * span for _ in range(count))
    weights = [1 / (rank + 1) for rank in range(len(contacts))]
    for n, offset in enumerate(moments):
        contact = rng.choices(contacts, weights)[0]
        at = start + dt.timedelta(seconds=offset)
        yield conversation(rng, f"bench-{n}", at, contact, secret).events
