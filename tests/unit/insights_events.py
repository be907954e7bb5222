"""Rasa events as its event broker publishes them, for the insights tests.

`Script` writes one sender's conversation event by event, one second apart by
default, in the shapes Rasa 3.6 gives them (`Event.as_dict()` plus `sender_id`);
the journeys below are the flows of data/rules.yml as Rasa runs them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bot.identity import ChannelIdentity, sign_identity
from bot.insights.events import Context

SECRET = "test-secret"
CONTEXT = Context(secret=SECRET, timezone=ZoneInfo("America/New_York"))
START = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.timezone.utc)  # noon in New York


@dataclass
class Script:
    """One sender's events, in order."""

    sender: str
    at: dt.datetime = START
    channel: str = "rest"
    step: dt.timedelta = dt.timedelta(seconds=1)
    events: list[dict[str, Any]] = field(default_factory=list)

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
        secret: str = SECRET,
    ) -> Script:
        """A message whose channel vouches for the customer (bot/identity.py)."""
        metadata = sign_identity(
            ChannelIdentity(self.channel, phone=phone, customer_id=customer_id),
            secret,
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

    def faq(self, question: str, found: bool = True) -> Script:
        self.user(question, "faq").action("action_answer_faq")
        if found:
            self.bot("utter_faq_answer", title="Returns and refunds")
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
